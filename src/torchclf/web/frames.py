"""Binary frames for the playground's stream: what ``Session.frame`` says, compact.

A JSON frame of the default set-up is about 55 KB (the 60 x 60 boundary grid as nested
lists of numbers, base64 heatmaps and weights, the whole history). A binary frame is

    b"TCF1" | uint32 n (little-endian) | n bytes of JSON header, padded to 4 | blobs

where the header is the frame without its big arrays plus ``blobs``: ``[path, dtype,
offset, length]`` rows saying where each array lives (offsets from the first blob,
each 4-aligned). The grid's labels are uint8; its confidences are quantised to uint8
(``round(255 * c)``, at most 1/510 off); heatmaps stay the uint8 bytes they are; weights
float32; the test predictions uint8. The history carries only the rows after
``history_start`` (what the client has already); the client appends them. ``decode``
undoes all this (tests check it against the JSON frame; the page has its own decoder in
static/stream.js).
"""

from __future__ import annotations

import base64
import json
import struct

import numpy as np

MAGIC = b"TCF1"
CONFIDENCE_LEVELS = 255


def _pad(n: int) -> int:
    return -n % 4


def encode(frame: dict, history_start: int = 0) -> bytes:
    """``frame`` (a JSON frame, unchanged) as one binary message."""
    header = dict(frame)
    blobs: list[tuple[str, str, bytes]] = []
    grid = dict(frame["grid"])
    blobs.append(("grid.labels", "u1", np.asarray(grid.pop("labels"), np.uint8).tobytes()))
    conf = np.rint(np.asarray(grid.pop("confidence")) * CONFIDENCE_LEVELS)
    blobs.append(("grid.confidence", "u1", conf.clip(0, 255).astype(np.uint8).tobytes()))
    header["grid"] = grid
    blobs.append(("test_pred", "u1", np.asarray(frame["test_pred"], np.uint8).tobytes()))
    del header["test_pred"]
    net = dict(frame["network"])
    net["layers"] = [{k: v for k, v in layer.items() if k != "data"} for layer in net["layers"]]
    net["weights"] = [{k: v for k, v in w.items() if k != "data"} for w in net["weights"]]
    for i, layer in enumerate(frame["network"]["layers"]):
        blobs.append((f"network.layers.{i}", "u1", base64.b64decode(layer["data"])))
    for i, w in enumerate(frame["network"]["weights"]):
        blobs.append((f"network.weights.{i}", "f4", base64.b64decode(w["data"])))
    header["network"] = net
    header["history"] = {k: v[history_start:] for k, v in frame["history"].items()}
    header["history_start"] = history_start
    rows, offset = [], 0
    for path, dtype, data in blobs:
        rows.append([path, dtype, offset, len(data)])
        offset += len(data) + _pad(len(data))
    header["blobs"] = rows
    text = json.dumps(header, separators=(",", ":")).encode()
    parts = [MAGIC, struct.pack("<I", len(text)), text, b"\0" * _pad(len(text))]
    for _, _, data in blobs:
        parts += [data, b"\0" * _pad(len(data))]
    return b"".join(parts)


def decode(message: bytes, history: dict | None = None) -> dict:
    """A binary frame back as the JSON frame (``history``: the rows the client had)."""
    if message[:4] != MAGIC:
        raise ValueError("not a torchclf frame")
    (n,) = struct.unpack("<I", message[4:8])
    frame = json.loads(message[8:8 + n])
    start = 8 + n + _pad(n)
    arrays = {path: np.frombuffer(message, dtype, length // np.dtype(dtype).itemsize,
                                  start + offset)
              for path, dtype, offset, length in frame.pop("blobs")}
    grid, r = frame["grid"], frame["grid"]["resolution"]
    grid["labels"] = arrays["grid.labels"].reshape(r, r).astype(int).tolist()
    grid["confidence"] = (arrays["grid.confidence"].reshape(r, r) / CONFIDENCE_LEVELS).tolist()
    frame["test_pred"] = arrays["test_pred"].astype(int).tolist()
    net = frame["network"]
    for key in ("layers", "weights"):
        for i, item in enumerate(net[key]):
            item["data"] = base64.b64encode(arrays[f"network.{key}.{i}"].tobytes()).decode()
    had = history or {k: [] for k in frame["history"]}
    cut = frame.pop("history_start")
    frame["history"] = {k: list(had.get(k, []))[:cut] + v for k, v in frame["history"].items()}
    return frame
