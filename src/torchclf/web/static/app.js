// torchclf playground: the controls and the session. `settings` is what the controls show,
// `accepted` what the server last took (the running session's); the URL hash mirrors it.
"use strict";
const $ = (id) => document.getElementById(id);
const NUMERIC = ["noise", "points", "classes", "train_ratio", "lr", "batch_size", "l2", "l1", "epochs", "seed"];
const FIELDS = ["dataset", "activation", "optimizer", ...NUMERIC];
const DATA_CONTROLS = ["noise", "points", "classes"];
const LIVE_LABELS = { lr: "learning rate", l2: "L2 weight decay", l1: "L1 penalty", epochs: "the epoch cap" };
const BUSY_AFTER_MS = 300;
let OPTIONS = null;   // /api/options: choices, defaults, limits, which controls apply
let settings = null, accepted = null, frame = null;
let sessionId = sessionStorage.getItem("torchclf-session") || null;
let playing = false, busy = false, pending = 0;
const copy = (s) => JSON.parse(JSON.stringify(s));
const number = (v) => (v === "" || Number.isNaN(Number(v)) ? v : Number(v));  // the server names a bad value
const LISTS = { hidden: number, features: String };  // settings the URL carries as a,b,c

function readHash() {
  const s = copy(OPTIONS.defaults);
  for (const [k, v] of new URLSearchParams(location.hash.slice(1))) {
    if (!(k in s)) continue;
    if (k in LISTS) s[k] = v === "" ? [] : v.split(",").map(LISTS[k]);
    else s[k] = typeof s[k] === "number" ? number(v) : v;
  }
  return s;
}
function writeHash(s) {
  const q = new URLSearchParams();
  for (const k of Object.keys(OPTIONS.defaults)) q.set(k, k in LISTS ? s[k].join(",") : s[k]);
  history.replaceState(null, "", "#" + q.toString());
}
function showError(msg) { $("error").textContent = msg || ""; }
function showInfo(msg) { $("info").textContent = msg || ""; }

// Every request: a busy sign when it takes longer than BUSY_AFTER_MS, the server's
// message as the error.
async function request(path, init) {
  pending++;
  const timer = setTimeout(() => { $("busy").hidden = false; $("view").setAttribute("aria-busy", "true"); }, BUSY_AFTER_MS);
  try {
    const res = await fetch(path, init);
    let data;
    try { data = await res.json(); } catch (e) { data = { error: `the server answered ${res.status} ${res.statusText}` }; }
    if (!res.ok) throw new Error(data.error || data.detail || res.statusText);
    return data;
  } finally {
    clearTimeout(timer);
    if (--pending === 0) { $("busy").hidden = true; $("view").setAttribute("aria-busy", "false"); }
  }
}
function api(path, body, method = "POST") {
  return request(path, { method, headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body) });
}

// A frame the server answered with; `whole` replaces the frame (a new session).
function accept(data, whole) {
  frame = whole ? data : Object.assign(frame, data);
  accepted = copy(data.settings); settings = copy(accepted);
  showFields(); writeHash(accepted); updateLinks(); draw();
}
// After a refusal: the controls and the URL go back to what the session runs.
function revert() { if (accepted) { settings = copy(accepted); showFields(); writeHash(accepted); } }

async function newSession(s, keepMessage = false) {
  pause(); streamFrames = false; replayed = null;
  try {
    const data = await api("/api/session", { id: sessionId, settings: s });
    sessionId = data.id;
    sessionStorage.setItem("torchclf-session", sessionId);
    if (!keepMessage) { showError(""); showInfo(""); }
    accept(data, true);
    if (!keepMessage && isTable(accepted.dataset)) showInfo(aboutTable(data));
    if (abOn) openB();  // B follows A's data, with its own network and training
    return true;
  } catch (e) { showError(e.message); revert(); return false; }
}

async function retune(k, value) {
  try {
    const data = await api(`/api/session/${sessionId}/settings`, { settings: { [k]: value } });
    showError(""); accept(data, false);
    if (!atCap()) showInfo(`${LIVE_LABELS[k]} is now ${value}: training goes on from epoch ${frame.epoch}`);
  } catch (e) { showError(e.message); revert(); }
}

function changed(k, value) {
  settings[k] = value;
  if (OPTIONS.live_settings.includes(k) && frame) return retune(k, value);
  return newSession(settings);
}

function atCap() { return frame !== null && frame.epoch >= frame.max_epochs; }
const CAP = "reached the epoch cap";

async function step(epochs) {
  if (busy || !frame) return;
  replayed = null;
  if (atCap()) { pause(); draw(); return; }
  busy = true;
  try {
    const data = await api(`/api/session/${sessionId}/step`, { epochs, points: false });
    Object.assign(frame, data); showError("");
    if (atCap()) pause();
    draw();
  } catch (e) { showError(e.message); pause(); }
  busy = false;
}

// Play streams frames over a WebSocket (stream.js); where none can open, it falls back
// to one step request after another.
let stream = null, streamFrames = false, useHttp = false;
let drawn = 0;  // boundary redraws so far (benchmarks/playground.py counts them)
// A streamed frame merged into `target` (the controls show what the last request
// accepted, so its settings are left out).
function merge(target, buffer) {
  const f = decodeFrame(buffer, target);
  delete f.settings;
  return Object.assign(target, f);
}
function streamFrame(buffer) {
  if (!streamFrames || !frame) return;  // a frame of a session this page has replaced
  merge(frame, buffer); showError("");
  if (atCap()) pause();
  draw();
}
function streamEnded(message, opened) {
  stream = null;
  if (message) { showError(message); pause(); } else if (!opened && playing) { useHttp = true; playHttp(); } else {
    if (playing) showError("the connection to the playground was lost: press Play to go on");
    pause();
  }
}
function play() {
  if (playing || !frame) return;
  if (atCap()) { draw(); return; }
  playing = true; replayed = null; updateButtons();
  if (useHttp) { playHttp(); return; }
  if (stream && (!stream.open || stream.sid !== sessionId)) { stream.close(); stream = null; }
  if (!stream) stream = new FrameStream(sessionId, streamFrame, streamEnded);
  streamFrames = true;
  stream.play(true);
  playB(true);
}
function playHttp() {
  const loop = async () => {
    if (!playing) return;
    const per = settings.batch_size && settings.batch_size < frame.n_train ? 2 : 10;
    await step(per);
    if (playing) setTimeout(loop, 0);
  };
  loop();
}
function pause() { playing = false; if (stream) stream.play(false); playB(false); updateButtons(); }

// The scrubber: dragging it shows the boundary at a kept frame of the training so far
// (the server keeps up to 200, evenly spread); its right end is the live model.
let replayed = null, scrubbing = 0;
function showScrubber() {
  const box = $("scrub"), last = frame.replay_frames - 1;
  box.max = String(last);
  if (!replayed) box.value = String(last);
  $("scrub_info").textContent = replayed ? `replay: epoch ${replayed.epoch} (frame ${replayed.index + 1} of ${replayed.count}; Play goes on from epoch ${frame.epoch})`
    : `live: epoch ${frame.epoch}`;
}
async function scrub() {
  const index = Number($("scrub").value), ticket = ++scrubbing;
  pause();
  if (index >= frame.replay_frames - 1) { replayed = null; draw(); return; }
  try {
    const data = await api(`/api/session/${sessionId}/replay/${index}`, undefined, "GET");
    if (ticket === scrubbing) { replayed = data; draw(); }  // only the latest position
  } catch (e) { showError(e.message); }
}

function updateButtons() {
  const play = $("play"), cap = atCap();
  play.textContent = playing ? "⏸ Pause" : "▶ Play";
  play.setAttribute("aria-pressed", String(playing));
  play.disabled = $("step").disabled = !frame || (cap && !playing);
  $("max_epochs").textContent = frame ? frame.max_epochs : "";
}

function draw() {
  if (!frame) return;
  drawn++;
  $("epoch").textContent = frame.epoch;
  const shown = replayed ? { ...frame, grid: replayed.grid, test_pred: replayed.test_pred } : frame;
  drawBoundary($("show_test").checked, $("show_wrong").checked, $("discretize").checked, shown);
  showScrubber(); drawB();
  drawNetwork(); drawLegend(); drawCurves(curveRuns()); drawMetrics(); drawConfusion(); fillClasses(); updateButtons();
  if (atCap()) showInfo(`${CAP} (${frame.max_epochs}): raise Epochs or Reset`);
  else if ($("info").textContent.startsWith(CAP)) showInfo("");
}

function showFields() {
  for (const k of FIELDS) $(k).value = settings[k];
  const applies = OPTIONS.controls[settings.dataset] || [];
  for (const k of DATA_CONTROLS) {
    $(k).disabled = !applies.includes(k);
    $(k).title = $(k).disabled ? `${settings.dataset} has no ${k} setting` : "";
  }
  $("regenerate").disabled = settings.dataset === "custom" || isTable(settings.dataset);
  drawThumbnails(settings.dataset);
  renderLayers();
}

// "Click adds class" offers the classes of the data on screen, whatever they are now.
function fillClasses() {
  const box = $("click_class"), names = frame.classes.map(String);
  if (JSON.stringify([...box.options].map((o) => o.textContent)) === JSON.stringify(names)) return;
  const keep = box.value;
  box.innerHTML = names.map((c, i) => `<option value="${i}">${esc(c)}</option>`).join("");
  if (keep !== "" && Number(keep) < names.length) box.value = keep;
}

function renderLayers() {
  const box = $("layers"), lim = OPTIONS.limits;
  box.innerHTML = "";
  settings.hidden.forEach((n, i) => {
    const row = document.createElement("div");
    row.innerHTML = `layer ${i + 1}: <button type="button" aria-label="remove a neuron from layer ${i + 1}">−</button>` +
      `<span class="neurons">${Number(n)}</span><button type="button" aria-label="add a neuron to layer ${i + 1}">+</button> neurons`;
    const [minus, plus] = row.querySelectorAll("button");
    minus.onclick = () => { if (settings.hidden[i] > 1) { settings.hidden[i]--; newSession(settings); } };
    plus.onclick = () => { if (settings.hidden[i] < lim.max_neurons) { settings.hidden[i]++; newSession(settings); } };
    box.appendChild(row);
  });
  $("remove_layer").setAttribute("aria-label", `remove layer ${settings.hidden.length}`);
  $("remove_layer").disabled = !settings.hidden.length;
  $("add_layer").disabled = settings.hidden.length >= lim.max_layers;
}

function updateLinks() {
  for (const [id, name] of [["export_config", "config.toml"], ["export_model", "model.zip"], ["export_script", "script.py"], ["export_gif", "replay.gif"]]) {
    $(id).href = `/api/session/${sessionId}/export/${name}`;
  }
  // a config file cannot describe added input features: the script builds them
  const added = accepted.features.filter((f) => !OPTIONS.defaults.features.includes(f));
  if (added.length) $("export_config").removeAttribute("href");
  $("export_note").textContent = added.length ? `(config.toml cannot describe the inputs ` +
    `${added.map((f) => OPTIONS.features[f]).join(", ")}: the Python script builds them)` : "";
}

// A bundled table (OPTIONS.tables) brings its own rows and classes, as an upload does:
// the generator controls do not apply to it, and more than 2 features are drawn on
// their PCA plane.
function isTable(name) { return Object.hasOwn(OPTIONS.tables, name); }
function aboutTable(data) {
  const t = OPTIONS.tables[data.settings.dataset];
  return `${data.settings.dataset}: ${t.description}; ${data.n_train + data.n_test} rows, ` +
    `${t.features} features, ${data.classes.length} classes` + (t.features > 2 ? ", drawn on their PCA plane" : "");
}
// The dataset menu: the 2-D generators, the tables (one the playground refuses is listed
// disabled, with why), then an upload.
function fillDatasets() {
  const option = (name, title, off) => `<option value="${esc(name)}" title="${esc(title)}"${off ? " disabled" : ""}>${esc(name)}</option>`;
  const tables = Object.entries(OPTIONS.tables).map(([name, t]) => option(name, t.refused || t.description, t.refused));
  $("dataset").innerHTML = OPTIONS.datasets.map((name) => option(name, "")).join("") +
    `<optgroup label="tables (PCA view)">${tables.join("")}</optgroup>` + option("custom", "an uploaded CSV");
}

async function upload() {
  const file = $("upload").files[0];
  if (!file) return;
  pause();
  try {  // the server takes text/csv only
    const data = await request(`/api/session/${sessionId}/upload`, { method: "POST",
      headers: { "Content-Type": "text/csv" }, body: await file.text() });
    showError(""); accept(data, true);
    showInfo(`${file.name}: ${data.n_train + data.n_test} points, ${data.classes.length} classes`);
  } catch (e) { showError(e.message); }
}

async function addPoint(ev) {
  const at = frame && fromClick(ev, $("boundary"), frame.grid);
  if (!at) return;
  try {
    const data = await api(`/api/session/${sessionId}/points`, { x: at[0], y: at[1], label: Number($("click_class").value) });
    Object.assign(frame, data); showError(""); draw();
  } catch (e) { showError(e.message); }
}

async function init() {
  OPTIONS = await api("/api/options", undefined, "GET");
  const fill = (id, values) => { $(id).innerHTML = values.map((v) => `<option>${esc(v)}</option>`).join(""); };
  fillDatasets(); fill("activation", OPTIONS.activations); fill("optimizer", OPTIONS.optimizers);
  for (const k of FIELDS) $(k).onchange = () => changed(k, NUMERIC.includes(k) ? number($(k).value) : $(k).value);
  $("add_layer").onclick = () => { settings.hidden.push(4); newSession(settings); };
  $("remove_layer").onclick = () => { settings.hidden.pop(); newSession(settings); };
  $("play").onclick = () => (playing ? pause() : play());
  $("step").onclick = () => step(1);
  $("reset").onclick = () => newSession(settings);
  $("show_test").onchange = $("show_wrong").onchange = $("discretize").onchange = draw;
  $("thumbs").onclick = (ev) => { const b = ev.target.closest(".thumb"); if (b) changed("dataset", b.dataset.dataset); };
  $("regenerate").onclick = async () => {
    settings.data_draw = accepted.data_draw + 1;  // the same generator, a new seed for its noise
    if (await newSession(settings)) showInfo(`new data: draw ${accepted.data_draw} of ${accepted.dataset}`);
  };
  initNetwork();
  $("boundary").onclick = addPoint;
  $("upload").onchange = upload;
  $("scrub").oninput = scrub;
  $("share").onclick = () => {
    writeHash(accepted); showInfo("link to this set-up: " + location.href);
    if (navigator.clipboard) navigator.clipboard.writeText(location.href).then(() => showInfo("link copied: " + location.href), () => {});
  };
  window.addEventListener("hashchange", () => {  // an edited URL applies at once
    const s = readHash();
    if (JSON.stringify(s) !== JSON.stringify(accepted)) newSession(s);
  });
  window.addEventListener("pagehide", () => {
    for (const id of [sessionId, sessionB]) if (id) fetch(`/api/session/${id}`, { method: "DELETE", keepalive: true });
  });
  initB();
  settings = readHash();
  showFields();
  if (!(await newSession(settings))) {
    // a link this server refuses (or custom data this tab no longer has): its message
    // stays up, and the default set-up runs so Play and Step work
    const message = $("error").textContent;
    if (await newSession(copy(OPTIONS.defaults), true)) showError(`${message} (showing the default set-up instead)`);
  }
}
init().catch((e) => showError(e.message));
