// torchclf playground: Play as a stream. One WebSocket per tab; the server trains and
// pushes binary frames (web/frames.py says the format), at most two ahead of what this
// page has drawn: each drawn frame is acknowledged, so a slow page gets fewer frames,
// never a backlog of stale ones.
"use strict";
const TEXT = new TextDecoder();

// A binary frame as the JSON frame's fields; `old` is the frame on screen (its history
// rows before history_start are kept, the rest come from this message).
function decodeFrame(buffer, old) {
  const view = new DataView(buffer), magic = TEXT.decode(new Uint8Array(buffer, 0, 4));
  if (magic !== "TCF1") throw new Error("the server sent something that is not a frame");
  const n = view.getUint32(4, true), f = JSON.parse(TEXT.decode(new Uint8Array(buffer, 8, n)));
  const start = 8 + n + (-n & 3), blob = {};
  for (const [path, dtype, offset, length] of f.blobs) {
    const bytes = buffer.slice(start + offset, start + offset + length);
    blob[path] = dtype === "f4" ? new Float32Array(bytes) : new Uint8Array(bytes);
  }
  delete f.blobs;
  const r = f.grid.resolution, rows = (a, scale) => Array.from({ length: r }, (_, i) => {
    const row = a.subarray(i * r, (i + 1) * r);
    return scale ? Float32Array.from(row, (q) => q / scale) : row;
  });
  f.grid.labels = rows(blob["grid.labels"]);
  f.grid.confidence = rows(blob["grid.confidence"], 255);
  f.test_pred = blob.test_pred;
  f.network.layers.forEach((layer, i) => { layer.data = blob[`network.layers.${i}`]; });
  f.network.weights.forEach((w, i) => { w.data = blob[`network.weights.${i}`]; });
  const had = (old && old.history) || {};
  for (const k of Object.keys(f.history)) f.history[k] = (had[k] || []).slice(0, f.history_start).concat(f.history[k]);
  delete f.history_start;
  return f;
}

// The stream of one session: `onFrame(f)` draws a frame, `onEnd(message)` is told when
// the stream stops for good (a refusal, an expired session, a lost connection).
class FrameStream {
  constructor(sid, onFrame, onEnd) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.sid = sid; this.opened = false; this.playing = false;
    this.ws = new WebSocket(`${scheme}://${location.host}/api/session/${sid}/stream`);
    this.ws.binaryType = "arraybuffer";
    this.ws.onopen = () => { this.opened = true; if (this.playing) this.send({ play: true }); };
    this.ws.onmessage = (ev) => {
      if (typeof ev.data === "string") { onEnd(JSON.parse(ev.data).error, this.opened); return; }
      onFrame(ev.data);
      this.send({ ack: 1 });
    };
    this.ws.onclose = () => { if (this.ws) onEnd(null, this.opened); this.ws = null; };
  }
  get open() { return this.ws !== null && this.ws.readyState <= WebSocket.OPEN; }
  send(message) { if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message)); }
  play(on) { this.playing = on; this.send({ play: on }); }
  close() { const ws = this.ws; this.ws = null; if (ws) ws.close(); }
}
