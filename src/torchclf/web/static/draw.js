// torchclf playground: the pictures (boundary, legend, curves, confusion matrix).
// Reads the global `frame` (the server's last answer); app.js owns the state.
"use strict";
// Okabe–Ito's 8, told apart with every common colour-vision deficiency, then Tol's wine
// and a grey for digits' classes 9 and 10, chosen to keep the closest pair as far apart
// for protanopes and deuteranopes as the 8 are (a darker grey nears the sky blue); two
// classes get the pair furthest apart. A marker shape per class is the second cue, so
// colour is never the only one.
const PALETTE = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000",
  "#882255", "#BBBBBB"];
const PALETTE2 = ["#D55E00", "#0072B2"];
const SHAPES = ["circle", "square", "triangle", "diamond", "down", "pentagon", "star", "hexagon",
  "plus", "cross"];
const PLOT = { left: 46, right: 8, top: 8, bottom: 38 };  // the boundary canvas' margins
const SVG = "http://www.w3.org/2000/svg";

function colors() { return frame && frame.classes.length === 2 ? PALETTE2 : PALETTE; }
function colorOf(label) { const p = colors(); return p[label % p.length]; }
function shapeOf(label) { return SHAPES[label % SHAPES.length]; }
function hex(h) { return [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)); }
// Labels and names come from uploaded files: they go into the page as text, never as HTML.
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const fmt = (v) => String(Number(v.toPrecision(3)));

// The corners of a class marker of radius r around (x, y).
function shapePoints(shape, x, y, r) {
  const ring = (n, turn, radii = [r]) => Array.from({ length: n }, (_, i) => {
    const a = turn + 2 * Math.PI * i / n, rr = radii[i % radii.length];
    return [x + rr * Math.sin(a), y - rr * Math.cos(a)];
  });
  switch (shape) {
    case "square": return ring(4, Math.PI / 4, [r * 1.2]);
    case "triangle": return ring(3, 0, [r * 1.3]);
    case "diamond": return ring(4, 0, [r * 1.3]);
    case "down": return ring(3, Math.PI, [r * 1.3]);
    case "pentagon": return ring(5, 0, [r * 1.15]);
    case "star": return ring(10, 0, [r * 1.45, r * 0.65]);
    case "hexagon": return ring(6, 0, [r * 1.15]);
    case "plus": return plusPoints(x, y, r * 1.3, 0);
    case "cross": return plusPoints(x, y, r * 1.3, Math.PI / 4);
    default: return ring(20, 0);
  }
}

// A plus sign of arm length r (arms a third as wide), turned by ``turn``: 12 corners.
function plusPoints(x, y, r, turn) {
  const w = r / 3, arm = [[-w, -w], [-w, -r], [w, -r]];  // an inner corner, then the top arm
  return [0, 1, 2, 3].flatMap((q) => arm.map(([a, b]) => {
    const t = turn + q * Math.PI / 2, c = Math.cos(t), s = Math.sin(t);
    return [x + a * c - b * s, y + a * s + b * c];
  }));
}

function marker(ctx, label, x, y, r, outline, width) {
  const pts = shapePoints(shapeOf(label), x, y, r);
  ctx.beginPath(); pts.forEach(([a, b], i) => (i ? ctx.lineTo(a, b) : ctx.moveTo(a, b))); ctx.closePath();
  ctx.fillStyle = colorOf(label); ctx.fill();
  ctx.strokeStyle = outline; ctx.lineWidth = width; ctx.stroke();
}

// Round tick values covering [lo, hi], about n of them.
function ticks(lo, hi, n = 5) {
  const raw = (hi - lo) / n, mag = 10 ** Math.floor(Math.log10(raw || 1)), e = raw / mag;
  const step = (e >= 7 ? 10 : e >= 3 ? 5 : e >= 1.4 ? 2 : 1) * mag, out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toFixed(10)));
  return out;
}

function plotBox(c) { return { x: PLOT.left, y: PLOT.top, w: c.width - PLOT.left - PLOT.right, h: c.height - PLOT.top - PLOT.bottom }; }

function toCanvas(x, y, g, c) {
  const b = plotBox(c);
  return [b.x + (x - g.x_min) / (g.x_max - g.x_min) * b.w, b.y + b.h - (y - g.y_min) / (g.y_max - g.y_min) * b.h];
}

// Data coordinates of a click, or null outside the plot.
function fromClick(ev, c, g) {
  const r = c.getBoundingClientRect(), b = plotBox(c);
  const cx = (ev.clientX - r.left) * c.width / r.width, cy = (ev.clientY - r.top) * c.height / r.height;
  if (cx < b.x || cx > b.x + b.w || cy < b.y || cy > b.y + b.h) return null;
  return [g.x_min + (cx - b.x) / b.w * (g.x_max - g.x_min), g.y_min + (1 - (cy - b.y) / b.h) * (g.y_max - g.y_min)];
}

// `shown`: the live frame, a replayed one or set-up B's; `c`: the canvas it goes on
function drawBoundary(showTest, showWrong, discrete, shown = frame, c = $("boundary")) {
  const ctx = c.getContext("2d"), g = shown.grid, b = plotBox(c);
  ctx.fillStyle = "white"; ctx.fillRect(0, 0, c.width, c.height);
  // the grid is painted at its own resolution, then scaled up smoothly
  const r = g.resolution, k = shown.classes.length;
  const small = document.createElement("canvas"); small.width = r; small.height = r;
  const sctx = small.getContext("2d"), img = sctx.createImageData(r, r);
  for (let gy = 0; gy < r; gy++) {
    for (let gx = 0; gx < r; gx++) {
      const label = g.labels[gy][gx], conf = g.confidence[gy][gx];
      const strength = Math.max(0, (conf - 1 / k) / (1 - 1 / k));
      const rgb = hex(colorOf(label)), a = regionAlpha(strength, discrete);
      const i = ((r - 1 - gy) * r + gx) * 4;   // row 0 of the grid is the bottom
      for (let j = 0; j < 3; j++) img.data[i + j] = Math.round(255 - a * (255 - rgb[j]));
      img.data[i + 3] = 255;
    }
  }
  sctx.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = !discrete;  // hard regions keep their hard edges
  ctx.drawImage(small, b.x, b.y, b.w, b.h);
  drawAxes(ctx, c, g, b);
  // train: filled, thin white edge; test: larger, thick dark edge; wrong test: a cross
  (shown.train || []).forEach((p) => { const [x, y] = toCanvas(p[0], p[1], g, c); marker(ctx, p[2], x, y, 3.5, "white", 0.8); });
  let wrong = 0;
  if (showTest) (shown.test || []).forEach((p, i) => {
    const [x, y] = toCanvas(p[0], p[1], g, c);
    marker(ctx, p[2], x, y, 5, "#111", 1.6);
    if (shown.test_pred[i] !== p[2]) { wrong++; if (showWrong) cross(ctx, x, y, 6); }
  });
  const [xn, yn] = g.axis_labels;
  c.setAttribute("aria-label", `decision boundary of ${k} classes: ${xn} across (${fmt(g.x_min)} to ${fmt(g.x_max)}), ` +
    `${yn || "nothing"} up (${fmt(g.y_min)} to ${fmt(g.y_max)}); ${wrong} of ${shown.n_test} test points misclassified`);
}

// How strongly a grid cell wears its class colour: by confidence, or (discretized) all alike.
function regionAlpha(strength, discrete) { return discrete ? 0.45 : 0.12 + 0.4 * strength; }

// A small picture of each built-in dataset: a real button with its name under it.
function drawThumbnails(current) {
  const box = $("thumbs");
  if (!box.children.length) {
    box.innerHTML = Object.keys(OPTIONS.thumbnails).map((name) => `<button type="button" class="thumb" ` +
      `data-dataset="${esc(name)}"><canvas width="56" height="56" aria-hidden="true"></canvas><span>${esc(name)}</span></button>`).join("");
    for (const b of box.children) {
      const pts = OPTIONS.thumbnails[b.dataset.dataset], ctx = b.querySelector("canvas").getContext("2d");
      const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]), pal = Math.max(...pts.map((p) => p[2])) > 1 ? PALETTE : PALETTE2;
      const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
      for (const [x, y, k] of pts) {
        ctx.fillStyle = pal[k % pal.length]; ctx.beginPath();
        ctx.arc(4 + (x - x0) / (x1 - x0 || 1) * 48, 52 - (y - y0) / (y1 - y0 || 1) * 48, 1.8, 0, 2 * Math.PI); ctx.fill();
      }
    }
  }
  for (const b of box.children) b.setAttribute("aria-pressed", String(b.dataset.dataset === current));
}

function cross(ctx, x, y, s) {
  for (const [color, width] of [["white", 4], ["#111", 1.8]]) {
    ctx.beginPath(); ctx.moveTo(x - s, y - s); ctx.lineTo(x + s, y + s); ctx.moveTo(x + s, y - s); ctx.lineTo(x - s, y + s);
    ctx.strokeStyle = color; ctx.lineWidth = width; ctx.stroke();
  }
}

function drawAxes(ctx, c, g, b) {
  ctx.strokeStyle = "#555"; ctx.lineWidth = 1; ctx.strokeRect(b.x, b.y, b.w, b.h);
  ctx.fillStyle = "#222"; ctx.font = "12px system-ui, sans-serif";
  ctx.textAlign = "center"; ctx.textBaseline = "top";
  for (const v of ticks(g.x_min, g.x_max)) {
    const [x] = toCanvas(v, g.y_min, g, c);
    ctx.beginPath(); ctx.moveTo(x, b.y + b.h); ctx.lineTo(x, b.y + b.h + 4); ctx.stroke();
    ctx.fillText(fmt(v), x, b.y + b.h + 5);
  }
  ctx.textAlign = "right"; ctx.textBaseline = "middle";
  for (const v of ticks(g.y_min, g.y_max)) {
    const [, y] = toCanvas(g.x_min, v, g, c);
    ctx.beginPath(); ctx.moveTo(b.x - 4, y); ctx.lineTo(b.x, y); ctx.stroke();
    ctx.fillText(fmt(v), b.x - 6, y);
  }
  ctx.font = "bold 12px system-ui, sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "bottom";
  ctx.fillText(g.axis_labels[0], b.x + b.w / 2, c.height - 2);
  ctx.save(); ctx.translate(12, b.y + b.h / 2); ctx.rotate(-Math.PI / 2); ctx.textBaseline = "middle";
  ctx.fillText(g.axis_labels[1], 0, 0); ctx.restore();
}

function legendMarker(label, r = 6) {
  const s = r * 2 + 4, pts = shapePoints(shapeOf(label), s / 2, s / 2, r).map((p) => p.join(",")).join(" ");
  return `<svg width="${s}" height="${s}" aria-hidden="true"><polygon points="${pts}" fill="${colorOf(label)}" stroke="#111" stroke-width="1"/></svg>`;
}

function drawLegend() {
  const n = frame.counts;
  $("legend").innerHTML = frame.classes.map((c, i) =>
    `<span class="entry" data-shape="${shapeOf(i)}" data-color="${colorOf(i)}">${legendMarker(i)}<b>${esc(c)}</b> ` +
    `${n.train[i]} train / ${n.test[i]} test</span>`).join("") +
    `<span class="key">small filled: train · large, dark edge: test · ✕ misclassified test point</span>`;
}

// Loss and accuracy on two panels sharing the epoch axis; the key sits above, off the lines.
// `runs`: one set-up, or A and B (each with its name and its train and test colours).
const RUN_COLORS = [["#0072B2", "#D55E00"], ["#009E73", "#CC79A7"]];
function drawCurves(runs = [{ name: "", h: frame.history }]) {
  const svg = $("curves"), W = 480, left = 52, right = 10, panel = 100, gap = 34, top = 8;
  const all = (k) => runs.flatMap((r) => r.h[k]);
  svg.innerHTML = "";
  const add = (tag, attrs, text) => { const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); if (text !== undefined) e.textContent = text; svg.appendChild(e); return e; };
  const maxE = Math.max(1, ...all("epoch"));
  const maxL = Math.max(...all("loss"), ...all("test_loss").filter(Number.isFinite), 1e-9);
  const panels = [{ name: "loss", keys: ["loss", "test_loss"], hi: maxL, tick: fmt },
                  { name: "accuracy", keys: ["accuracy", "test_accuracy"], hi: 1, tick: (v) => `${Math.round(v * 100)}%` }];
  const xs = (e) => left + e / maxE * (W - left - right);
  panels.forEach((p, k) => {
    const y0 = top + k * (panel + gap), ys = (v) => y0 + panel - v / p.hi * panel;
    add("rect", { x: left, y: y0, width: W - left - right, height: panel, fill: "none", stroke: "#999" });
    for (const v of ticks(0, p.hi, 4)) {
      add("line", { x1: left - 4, x2: left, y1: ys(v), y2: ys(v), stroke: "#555" });
      add("text", { x: left - 6, y: ys(v) + 4, "text-anchor": "end", class: "tick" }, p.tick(v));
    }
    for (const v of ticks(0, maxE, 5)) {
      add("line", { x1: xs(v), x2: xs(v), y1: y0 + panel, y2: y0 + panel + 4, stroke: "#555" });
      add("text", { x: xs(v), y: y0 + panel + 15, "text-anchor": "middle", class: "tick" }, fmt(v));
    }
    add("text", { x: 12, y: y0 + panel / 2, transform: `rotate(-90 12 ${y0 + panel / 2})`, "text-anchor": "middle", class: "axis" }, p.name);
    runs.forEach((run, r) => p.keys.forEach((key, j) => {
      const h = run.h, pts = h[key].map((v, i) => (Number.isFinite(v) ? `${xs(h.epoch[i])},${ys(Math.min(v, p.hi))}` : null)).filter(Boolean);
      const line = pts.length && add("polyline", { points: pts.join(" "), fill: "none", stroke: RUN_COLORS[r][j],
        "stroke-width": 1.8, "stroke-dasharray": j ? "5 3" : "none", class: j ? "test" : "train", "data-run": run.name });
      if (line) line.appendChild(document.createElementNS(SVG, "title")).textContent = `${run.name} ${j ? "test" : "train"} ${p.name}`.trim();
    }));
  });
  add("text", { x: left + (W - left - right) / 2, y: top + 2 * panel + gap + 28, "text-anchor": "middle", class: "axis" }, "epoch");
}

function drawConfusion() {
  const t = $("confusion"), cls = frame.classes.map(esc), max = Math.max(1, ...frame.confusion.flat());
  let html = "<caption>test points: true class (rows) by predicted class (columns)</caption><tr><th>true \\ predicted</th>" +
    cls.map((c) => `<th>${c}</th>`).join("") + "</tr>";
  frame.confusion.forEach((row, i) => {
    html += `<tr><th>${cls[i]}</th>` + row.map((v, j) => {
      // dark text stays readable (contrast >= 4.5) on the darkest shade of either tint
      const a = 0.85 * Number(v) / max, tint = i === j ? "0,114,178" : "213,94,0";
      return `<td style="background: rgba(${tint},${a.toFixed(3)})">${Number(v)}</td>`;
    }).join("") + "</tr>";
  });
  t.innerHTML = html;
}

function drawMetrics() {
  const h = frame.history, n = h.epoch.length;
  const pct = (v) => (100 * v).toFixed(1) + "%";
  $("metrics").innerHTML = n ? `train loss <b>${h.loss[n - 1].toFixed(4)}</b> · train acc <b id="train_acc">${pct(h.accuracy[n - 1])}</b>
    · test loss <b>${h.test_loss[n - 1].toFixed(4)}</b> · test acc <b id="test_acc">${pct(h.test_accuracy[n - 1])}</b>
    · ${frame.n_train} train / ${frame.n_test} test points · engine ${frame.engine}` : "press Play or Step to train";
}
