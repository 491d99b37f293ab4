// torchclf playground: all state is in `settings`, mirrored in the URL hash.
"use strict";
const COLORS2 = ["#d7301f", "#2b6cb0"];
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];
const DEFAULTS = { dataset: "moons", noise: 0.1, points: 400, classes: 3, train_ratio: 0.8,
  hidden: [8, 8], activation: "relu", optimizer: "sgd", lr: 0.1, batch_size: 0, l2: 0,
  epochs: 5000, seed: 0 };
const NUMERIC = ["noise", "points", "classes", "train_ratio", "lr", "batch_size", "l2", "epochs", "seed"];
let settings = readHash();
let sessionId = sessionStorage.getItem("torchclf-session") || null;
let frame = null, playing = false, busy = false;
const $ = (id) => document.getElementById(id);

function readHash() {
  const s = JSON.parse(JSON.stringify(DEFAULTS));
  const q = new URLSearchParams(location.hash.slice(1));
  for (const [k, v] of q) {
    if (!(k in DEFAULTS)) continue;
    if (k === "hidden") s.hidden = v === "" ? [] : v.split(",").map(Number);
    else s[k] = NUMERIC.includes(k) ? Number(v) : v;
  }
  return s;
}
function writeHash() {
  const q = new URLSearchParams();
  for (const k of Object.keys(DEFAULTS)) q.set(k, k === "hidden" ? settings.hidden.join(",") : settings[k]);
  history.replaceState(null, "", "#" + q.toString());
}
function colors() { return frame && frame.classes.length === 2 ? COLORS2 : COLORS; }
function showError(msg) { $("error").textContent = msg || ""; }

async function api(path, body, method = "POST") {
  const res = await fetch(path, { method, headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json();
  if (!res.ok) throw new Error(data.error || data.detail || res.statusText);
  return data;
}

async function reset() {
  pause();
  writeHash();
  try {
    const data = await api("/api/session", { id: sessionId, settings });
    sessionId = data.id;
    sessionStorage.setItem("torchclf-session", sessionId);
    frame = data; showError(""); draw();
  } catch (e) { showError(e.message); }
}

async function step(epochs) {
  if (busy || !sessionId) return;
  busy = true;
  try {
    const data = await api(`/api/session/${sessionId}/step`, { epochs, points: false });
    Object.assign(frame, data); showError(""); draw();
    if (frame.epoch >= frame.max_epochs) pause();
  } catch (e) { showError(e.message); pause(); }
  busy = false;
}

function play() {
  if (playing) return;
  playing = true;
  const loop = async () => {
    if (!playing) return;
    const per = settings.batch_size && settings.batch_size < frame.n_train ? 2 : 10;
    await step(per);
    if (playing) setTimeout(loop, 0);
  };
  loop();
}
function pause() { playing = false; }

function toCanvas(x, y, g, c) {
  return [(x - g.x_min) / (g.x_max - g.x_min) * c.width, c.height - (y - g.y_min) / (g.y_max - g.y_min) * c.height];
}

function draw() {
  if (!frame) return;
  $("epoch").textContent = frame.epoch;
  const c = $("boundary"), ctx = c.getContext("2d"), g = frame.grid, pal = colors();
  // the grid is painted at its own resolution, then scaled up smoothly
  const r = g.resolution, k = frame.classes.length;
  const small = document.createElement("canvas"); small.width = r; small.height = r;
  const sctx = small.getContext("2d"), img = sctx.createImageData(r, r);
  for (let gy = 0; gy < r; gy++) {
    for (let gx = 0; gx < r; gx++) {
      const label = g.labels[gy][gx], conf = g.confidence[gy][gx];
      const strength = Math.max(0, (conf - 1 / k) / (1 - 1 / k));
      const rgb = hex(pal[label % pal.length]), a = 0.15 + 0.5 * strength;
      const i = ((r - 1 - gy) * r + gx) * 4;   // row 0 of the grid is the bottom
      for (let j = 0; j < 3; j++) img.data[i + j] = Math.round(255 - a * (255 - rgb[j]));
      img.data[i + 3] = 255;
    }
  }
  sctx.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(small, 0, 0, c.width, c.height);
  const dot = (p, filled) => {
    const [x, y] = toCanvas(p[0], p[1], g, c);
    ctx.beginPath(); ctx.arc(x, y, 4, 0, 2 * Math.PI);
    ctx.fillStyle = pal[p[2] % pal.length]; ctx.strokeStyle = filled ? "white" : "black";
    if (filled) ctx.fill(); else { ctx.lineWidth = 1.5; ctx.stroke(); }
    if (filled) { ctx.lineWidth = 0.8; ctx.stroke(); }
  };
  (frame.train || []).forEach((p) => dot(p, true));
  if ($("show_test").checked) (frame.test || []).forEach((p) => dot(p, false));
  drawCurves(); drawMetrics(); drawConfusion();
}

function hex(h) { return [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)); }

function drawCurves() {
  const c = $("curves"), ctx = c.getContext("2d"), h = frame.history;
  ctx.clearRect(0, 0, c.width, c.height);
  if (!h.epoch.length) return;
  const maxE = Math.max(...h.epoch), maxL = Math.max(...h.loss, ...h.test_loss, 1e-9);
  const line = (ys, color, scale) => {
    ctx.beginPath(); ctx.strokeStyle = color; ctx.lineWidth = 1.5;
    ys.forEach((v, i) => { const x = h.epoch[i] / maxE * (c.width - 10) + 5, y = c.height - 5 - v / scale * (c.height - 10);
      i ? ctx.lineTo(x, y) : ctx.moveTo(x, y); });
    ctx.stroke();
  };
  line(h.loss, "#2b6cb0", maxL); line(h.test_loss, "#d7301f", maxL);
  line(h.accuracy, "#2ca02c", 1); line(h.test_accuracy, "#9467bd", 1);
  ctx.fillStyle = "#333"; ctx.font = "11px sans-serif";
  ctx.fillText("loss (blue train, red test) · accuracy (green train, purple test)", 8, 14);
}

function drawMetrics() {
  const h = frame.history, n = h.epoch.length;
  const pct = (v) => (100 * v).toFixed(1) + "%";
  $("metrics").innerHTML = n ? `train loss <b>${h.loss[n - 1].toFixed(4)}</b> · train acc <b id="train_acc">${pct(h.accuracy[n - 1])}</b>
    · test loss <b>${h.test_loss[n - 1].toFixed(4)}</b> · test acc <b id="test_acc">${pct(h.test_accuracy[n - 1])}</b>
    · ${frame.n_train} train / ${frame.n_test} test points · engine ${frame.engine}` : "press Play or Step to train";
}

// Labels and names come from uploaded files: they go into the page as text, never as HTML.
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

function drawConfusion() {
  const t = $("confusion"), cls = frame.classes.map(esc);
  let html = "<tr><th>true \\ predicted</th>" + cls.map((c) => `<th>${c}</th>`).join("") + "</tr>";
  frame.confusion.forEach((row, i) => { html += `<tr><th>${cls[i]}</th>` + row.map((v) => `<td>${Number(v)}</td>`).join("") + "</tr>"; });
  t.innerHTML = html;
}

function renderLayers() {
  const box = $("layers"); box.innerHTML = "";
  settings.hidden.forEach((n, i) => {
    const row = document.createElement("div");
    row.innerHTML = `layer ${i + 1}: <button type="button">−</button><span class="neurons">${n}</span><button type="button">+</button> neurons`;
    const [minus, plus] = row.querySelectorAll("button");
    minus.onclick = () => { if (settings.hidden[i] > 1) { settings.hidden[i]--; renderLayers(); reset(); } };
    plus.onclick = () => { if (settings.hidden[i] < 64) { settings.hidden[i]++; renderLayers(); reset(); } };
    box.appendChild(row);
  });
}

async function init() {
  const opts = await api("/api/options", undefined, "GET");
  const fill = (id, values) => { $(id).innerHTML = values.map((v) => `<option>${v}</option>`).join(""); };
  fill("dataset", [...opts.datasets, "custom"]); fill("activation", opts.activations); fill("optimizer", opts.optimizers);
  for (const k of ["dataset", "activation", "optimizer", ...NUMERIC]) {
    $(k).value = settings[k];
    $(k).onchange = () => { settings[k] = NUMERIC.includes(k) ? Number($(k).value) : $(k).value; reset(); };
  }
  renderLayers();
  $("add_layer").onclick = () => { if (settings.hidden.length < 6) { settings.hidden.push(4); renderLayers(); reset(); } };
  $("remove_layer").onclick = () => { if (settings.hidden.length) { settings.hidden.pop(); renderLayers(); reset(); } };
  $("play").onclick = play; $("pause").onclick = pause; $("step").onclick = () => step(1); $("reset").onclick = reset;
  $("show_test").onchange = draw;
  $("boundary").onclick = async (ev) => {
    if (!frame) return;
    const c = $("boundary"), r = c.getBoundingClientRect(), g = frame.grid;
    const x = g.x_min + (ev.clientX - r.left) / r.width * (g.x_max - g.x_min);
    const y = g.y_min + (1 - (ev.clientY - r.top) / r.height) * (g.y_max - g.y_min);
    try { const data = await api(`/api/session/${sessionId}/points`, { x, y, label: Number($("click_class").value) });
      Object.assign(frame, data); draw(); } catch (e) { showError(e.message); }
  };
  $("upload").onchange = async () => {
    const file = $("upload").files[0]; if (!file) return;
    pause();
    const res = await fetch(`/api/session/${sessionId}/upload`, { method: "POST",
      headers: { "Content-Type": "text/csv" }, body: await file.text() });  // the server takes text/csv only
    const data = await res.json();
    if (!res.ok) { showError(data.error); return; }
    settings.dataset = "custom"; $("dataset").value = "custom"; writeHash();
    frame = data; showError(""); draw(); fillClasses();
  };
  const link = (id, name) => { $(id).onclick = () => { location.href = `/api/session/${sessionId}/export/${name}`; }; };
  link("export_config", "config.toml"); link("export_model", "model.zip"); link("export_script", "script.py");
  $("share").onclick = () => { writeHash(); navigator.clipboard && navigator.clipboard.writeText(location.href); showError("link copied: " + location.href); };
  window.addEventListener("pagehide", () => { if (sessionId) navigator.sendBeacon && fetch(`/api/session/${sessionId}`, { method: "DELETE", keepalive: true }); });
  await reset();
  fillClasses();
}
function fillClasses() { $("click_class").innerHTML = frame.classes.map((c, i) => `<option value="${i}">${esc(c)}</option>`).join(""); }
init().catch((e) => showError(e.message));
