// torchclf playground: the network as a graph. Each node is a heatmap of what it computes
// over the data plane (blue positive, vermillion negative, white zero); each link is
// coloured by its weight's sign and thickened by its size. Hover or focus a link to read
// its weight, click it (or Enter) to edit it; click an input (or Enter/Space) to toggle it.
// Reads the global `frame`; the structure is rebuilt only when the network's shape
// changes, so a focused link keeps its focus while training goes on. The graph is one
// stop of the Tab order (a roving tabindex): arrow keys move between inputs and links.
"use strict";
const NET = { node: 30, gap: 8, col: 92, left: 56, top: 6, maxLeft: 170 };
const SIGN = { neg: [213, 94, 0], pos: [0, 114, 178] };  // Okabe–Ito vermillion and blue
let netKey = null, netLinks = [], netNodes = [], netStops = [], weightAt = null, editing = null;

// heatmaps and weights: base64 in a JSON frame, typed arrays already in a streamed one
function bytesOf(b64) {
  if (typeof b64 !== "string") return b64;
  const s = atob(b64), out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
const floatsOf = (b64) => (typeof b64 === "string" ? new Float32Array(bytesOf(b64).buffer) : b64);
function shade(t) {
  const c = t < 0 ? SIGN.neg : SIGN.pos, a = Math.min(1, Math.abs(t));
  return c.map((v) => Math.round(255 - a * (255 - v)));
}
const weightColor = (w) => `rgb(${(w < 0 ? SIGN.neg : SIGN.pos).join(",")})`;
const weightWidth = (w) => 1 + Math.min(5, 2 * Math.abs(w));  // at least 1 px: hoverable

// One node's heatmap (bytes from `offset`, row 0 at the bottom) as an image URL.
const heatCanvas = document.createElement("canvas");
function heatURL(q, offset, r) {
  heatCanvas.width = heatCanvas.height = r;
  const ctx = heatCanvas.getContext("2d"), img = ctx.createImageData(r, r);
  for (let gy = 0; gy < r; gy++) {
    for (let gx = 0; gx < r; gx++) {
      const i = ((r - 1 - gy) * r + gx) * 4;
      img.data.set(shade(q[offset + gy * r + gx] / 127.5 - 1), i);
      img.data[i + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
  return heatCanvas.toDataURL();
}

// Node names, column by column: every input feature, the hidden layers, the outputs.
function nodeNames(net) {
  const cols = [net.features.map((f) => f.label)];
  net.weights.forEach((w, l) => {
    const last = l === net.weights.length - 1, n = w.shape[0];
    cols.push(Array.from({ length: n }, (_, i) => (last ? (n === 1 ? "output" : `output ${i + 1}`)
      : `neuron ${i + 1} of layer ${l + 1}`)));
  });
  return cols;
}

function svgEl(tag, attrs, parent) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function buildNetwork(net) {
  const svg = $("network"), cols = nodeNames(net), { node, gap, col, top } = NET;
  const tall = Math.max(...cols.map((c) => c.length)) * (node + gap);
  svg.innerHTML = "";
  const left = labelRoom(svg, cols[0]);
  const at = (c, i) => [left + c * col, top + (tall - cols[c].length * (node + gap)) / 2 + i * (node + gap)];
  svg.setAttribute("width", left + (cols.length - 1) * col + node + 4);
  svg.setAttribute("height", tall + top);
  const active = net.features.map((f, i) => (f.active ? i : -1)).filter((i) => i >= 0);
  netLinks = [];
  const links = svgEl("g", { class: "links" }, svg);
  net.weights.forEach((w, l) => {
    const [out, inn] = w.shape;
    for (let r = 0; r < out; r++) {
      for (let c = 0; c < inn; c++) {
        const from = l === 0 ? active[c] : c, [x1, y1] = at(l, from), [x2, y2] = at(l + 1, r);
        const line = svgEl("line", { class: "link", tabindex: -1, x1: x1 + node, y1: y1 + node / 2,
          x2, y2: y2 + node / 2, "data-layer": l, "data-row": r, "data-col": c }, links);
        line.name = `${cols[l][from]} → ${cols[l + 1][r]}`;
        svgEl("title", {}, line);
        netLinks.push(line);
      }
    }
  });
  netNodes = cols.map((names, c) => names.map((name, i) => {
    const [x, y] = at(c, i), f = c === 0 && net.toggle ? net.features[i] : null;
    const g = svgEl("g", f ? { class: "feature", role: "checkbox", tabindex: -1, "data-feature": f.id,
      "aria-checked": String(f.active), "aria-label": `input ${name}` } : { class: "node" }, svg);
    svgEl("image", { x, y, width: node, height: node, preserveAspectRatio: "none" }, g);
    svgEl("rect", { x, y, width: node, height: node, class: "frame" }, g);
    if (c === 0) {
      const label = svgEl("text", { x: x - 4, y: y + node / 2 + 4, "text-anchor": "end" }, g);
      label.textContent = name;
      fitLabel(label, x - 6);  // the full name stays in the node's tooltip
    }
    svgEl("title", {}, g).textContent = f ? `${name}: ${f.active ? "on" : "off"} (click to toggle)` : name;
    return g;
  }));
  netStops = [...(net.toggle ? netNodes[0] : []), ...netLinks];
  netStops[0].setAttribute("tabindex", 0);
}

// The room left of the inputs: their longest name's width, up to NET.maxLeft (a table's
// column names, such as od280/od315_of_diluted_wines, were cut at the picture's edge).
function labelRoom(svg, names) {
  const probe = svgEl("text", {}, svg);
  let widest = 0;
  for (const name of names) {
    probe.textContent = name;
    widest = Math.max(widest, probe.getComputedTextLength());
  }
  probe.remove();
  return Math.max(NET.left, Math.min(NET.maxLeft, Math.ceil(widest) + 10));
}

// A name still too long for ``width`` pixels loses its middle to "…": both ends stay,
// so pixel_0_1 and pixel_0_2 remain told apart.
function fitLabel(label, width) {
  const full = label.textContent;
  for (let n = full.length - 1; n > 1 && label.getComputedTextLength() > width; n--) {
    label.textContent = full.slice(0, Math.ceil(n / 2)) + "…" + full.slice(full.length - Math.floor(n / 2));
  }
}

function moveFocus(from, by) {
  const i = netStops.indexOf(from), to = netStops[Math.max(0, Math.min(netStops.length - 1, i + by))];
  from.setAttribute("tabindex", -1); to.setAttribute("tabindex", 0); to.focus();
}

function drawNetwork() {
  const net = frame.network;
  const key = JSON.stringify([net.weights.map((w) => w.shape), net.features.map((f) => f.active)]);
  if (key !== netKey) { buildNetwork(net); netKey = key; }
  net.layers.forEach((layer, c) => {
    const q = bytesOf(layer.data), r2 = net.resolution ** 2;
    netNodes[c].forEach((g, i) => g.querySelector("image").setAttribute("href", heatURL(q, i * r2, net.resolution)));
  });
  const ws = net.weights.map((w) => floatsOf(w.data));
  weightAt = (l, r, c) => ws[l][r * net.weights[l].shape[1] + c];
  for (const line of netLinks) {
    const w = weightAt(+line.dataset.layer, +line.dataset.row, +line.dataset.col);
    line.setAttribute("stroke", weightColor(w));
    line.setAttribute("stroke-width", weightWidth(w).toFixed(2));
    line.setAttribute("aria-label", `weight ${line.name}: ${w.toFixed(4)}`);
    line.firstChild.textContent = `weight ${line.name}: ${w.toFixed(4)} (click to edit)`;
  }
  const shown = netLinks.find((l) => l === document.activeElement || l.classList.contains("hover"));
  if (shown) showWeight(shown);
}

function showWeight(line) {
  $("weight_info").textContent = line.getAttribute("aria-label");
}

function editWeight(line) {
  showWeight(line);
  const form = $("weight_edit");
  form.hidden = false;
  editing = line;
  for (const stop of netStops) stop.setAttribute("tabindex", stop === line ? 0 : -1);  // Tab returns here
  $("weight_name").textContent = `weight ${line.name}`;
  $("weight_value").value = weightAt(+line.dataset.layer, +line.dataset.row, +line.dataset.col).toFixed(4);
  $("weight_value").focus();
  $("weight_value").select();
}

async function submitWeight(ev) {
  ev.preventDefault();
  const form = $("weight_edit"), line = editing, value = $("weight_value").value;
  try {
    const data = await api(`/api/session/${sessionId}/weight`, { layer: +line.dataset.layer,
      row: +line.dataset.row, col: +line.dataset.col, value: value === "" ? null : Number(value) });
    Object.assign(frame, data); showError(""); draw();
    form.hidden = true;
    showInfo(`weight ${line.name} is now ${value}: training goes on from epoch ${frame.epoch}`);
    if (netLinks.includes(line)) line.focus();
  } catch (e) { showError(e.message); }
}

function toggleFeature(id) {
  const on = new Set(settings.features);
  if (on.has(id)) on.delete(id); else on.add(id);
  settings.features = frame.network.features.map((f) => f.id).filter((f) => on.has(f));
  return newSession(settings);  // the input layer is the network's shape: epoch 0 again
}

function initNetwork() {
  const svg = $("network");
  const linkOf = (ev) => ev.target.closest(".link"), featureOf = (ev) => ev.target.closest(".feature");
  svg.addEventListener("mouseover", (ev) => { const l = linkOf(ev); if (l) { l.classList.add("hover"); showWeight(l); } });
  svg.addEventListener("mouseout", (ev) => { const l = linkOf(ev); if (l) l.classList.remove("hover"); });
  svg.addEventListener("focusin", (ev) => { const l = linkOf(ev); if (l) showWeight(l); });
  svg.addEventListener("click", (ev) => {
    const l = linkOf(ev), f = featureOf(ev);
    if (l) editWeight(l); else if (f) toggleFeature(f.dataset.feature);
  });
  svg.addEventListener("keydown", (ev) => {
    const l = linkOf(ev), f = featureOf(ev);
    if (l && ev.key === "Enter") { ev.preventDefault(); editWeight(l); }
    if (f && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); toggleFeature(f.dataset.feature); }
    const by = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1, Home: -1e9, End: 1e9 }[ev.key];
    if ((l || f) && by) { ev.preventDefault(); moveFocus(l || f, by); }
  });
  $("weight_edit").onsubmit = submitWeight;
  $("weight_cancel").onclick = () => { $("weight_edit").hidden = true; };
  $("weight_edit").onkeydown = (ev) => { if (ev.key === "Escape") $("weight_edit").hidden = true; };
}
