// torchclf playground: A/B. The A/B button opens a second set-up, B: a session of its
// own on A's data (the same points and split), with its own network and training
// controls. Play and Pause drive both; the curves chart shows both, labelled A and B.
"use strict";
const B_FIELDS = ["hidden", "activation", "optimizer", "lr", "batch_size", "l2", "l1"];
let abOn = false, frameB = null, settingsB = null, streamB = null, streamFramesB = false;
let sessionB = sessionStorage.getItem("torchclf-session-b") || null;

// A's settings with B's own network and training.
function settingsForB() {
  const s = copy(accepted);
  if (settingsB) for (const k of B_FIELDS) s[k] = settingsB[k];
  return s;
}

async function openB() {
  streamFramesB = false;
  try {
    const data = await api("/api/session", { id: sessionB, settings: settingsForB() });
    sessionB = data.id; sessionStorage.setItem("torchclf-session-b", sessionB);
    frameB = data; settingsB = copy(data.settings); $("b_error").textContent = "";
  } catch (e) {
    $("b_error").textContent = e.message;
    if (frameB) settingsB = copy(frameB.settings);  // the controls go back to what B runs
  }
  showFieldsB(); draw();
}

function closeB() {
  playB(false);
  if (streamB) streamB.close();
  if (sessionB) fetch(`/api/session/${sessionB}`, { method: "DELETE" });
  streamB = null; sessionB = null; frameB = null;
  sessionStorage.removeItem("torchclf-session-b");
}

function toggleAB() {
  abOn = !abOn;
  $("ab").setAttribute("aria-pressed", String(abOn));
  $("b_panel").hidden = !abOn;
  document.body.classList.toggle("ab", abOn);
  pause();
  if (abOn) openB(); else { closeB(); draw(); }
}

function playB(on) {
  if (!on) { if (streamB) streamB.play(false); return; }
  if (!abOn || !frameB || frameB.epoch >= frameB.max_epochs) return;
  if (streamB && (!streamB.open || streamB.sid !== sessionB)) { streamB.close(); streamB = null; }
  if (!streamB) {
    streamB = new FrameStream(sessionB, (buffer) => {
      if (streamFramesB && frameB) { merge(frameB, buffer); draw(); }
    }, (message) => { streamB = null; if (message) $("b_error").textContent = message; });
  }
  streamFramesB = true;
  streamB.play(true);
}

function curveRuns() {
  const runs = [{ name: abOn && frameB ? "A" : "", h: frame.history }];
  if (abOn && frameB) runs.push({ name: "B", h: frameB.history });
  $("curve_key").innerHTML = runs.map((r, i) => ["train", "test"].map((kind, j) =>
    `<span class="${kind}" style="color:${RUN_COLORS[i][j]}">${j ? "╍" : "━"} ${`${r.name} ${kind}`.trim()}</span>`).join(" ")).join(" ");
  return runs;
}

function drawB() {
  $("a_label").hidden = !abOn;
  if (!abOn || !frameB) return;
  drawBoundary($("show_test").checked, $("show_wrong").checked, $("discretize").checked, frameB, $("boundary_b"));
  const h = frameB.history, n = h.epoch.length, pct = (v) => (100 * v).toFixed(1) + "%";
  $("metrics_b").innerHTML = `B: epoch <b id="epoch_b">${frameB.epoch}</b>` +
    (n ? ` · test acc <b id="test_acc_b">${pct(h.test_accuracy[n - 1])}</b> · train acc ${pct(h.accuracy[n - 1])}` : "");
}

function showFieldsB() {
  if (!settingsB) return;
  for (const k of B_FIELDS) $(`b_${k}`).value = k === "hidden" ? settingsB.hidden.join(",") : settingsB[k];
}

function initB() {
  const fill = (id, values) => { $(id).innerHTML = values.map((v) => `<option>${esc(v)}</option>`).join(""); };
  fill("b_activation", OPTIONS.activations); fill("b_optimizer", OPTIONS.optimizers);
  for (const k of B_FIELDS) {
    $(`b_${k}`).onchange = () => {
      const v = $(`b_${k}`).value;
      settingsB[k] = k === "hidden" ? v.split(",").filter((x) => x.trim() !== "").map(number)
        : ["activation", "optimizer"].includes(k) ? v : number(v);
      pause(); openB();
    };
  }
  $("ab").onclick = toggleAB;
  if (sessionB) { fetch(`/api/session/${sessionB}`, { method: "DELETE" }); sessionB = null; }  // a reload starts with A alone
}
