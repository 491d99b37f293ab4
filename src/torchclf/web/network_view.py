"""The network as the page draws it: what each neuron computes over the data plane, and
the weights of its links; and editing one weight of the live model.

Heatmaps are small (``HEAT_RESOLUTION`` squared) and quantised to one byte per cell,
sent base64-encoded: value ``v`` of a node with scale ``s`` is ``round(127.5 * (1 +
v / s))``, so 0 is the middle of the range and the page shades sign and size. Weights go
as base64 float32 (little-endian), row-major (to, from), one array per layer.
"""

from __future__ import annotations

import base64
import math

import numpy as np
import torch

from torchclf.errors import UserError
from torchclf.web import features
from torchclf.web.limits import LIMITS

HEAT_RESOLUTION = 20


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def _heat(values: np.ndarray) -> dict:
    """(cells, nodes) values -> one quantised heatmap per node and each node's scale."""
    scale = np.abs(values).max(axis=0)
    scale[~(scale > 1e-12)] = 1.0
    q = np.rint(127.5 * (1 + values / scale)).clip(0, 255).astype(np.uint8)
    return {"data": _b64(q.T), "scale": [float(f"{s:.4g}") for s in scale]}


def _linears(model) -> list[torch.nn.Linear]:
    return [m for m in model.layers if isinstance(m, torch.nn.Linear)]


def network_view(model, inputs: features.InputMap, scaler, grid) -> dict:
    """Every node's heatmap over the boundary picture's plane (``grid``'s box and view),
    every link's weight, and the input nodes: on 2-D data every input feature (those
    the model takes are ``active``; the page toggles them), else the model's columns."""
    r = HEAT_RESOLUTION
    x0, x1, y0, y1 = grid.box
    xx, yy = np.meshgrid(np.linspace(x0, x1, r), np.linspace(y0, y1, r))  # row 0: bottom
    rows = grid.view.from_2d(np.column_stack([xx.ravel(), yy.ravel()])).astype(np.float32)
    if inputs.plane:
        shown = [{"id": k, "label": label, "active": k in inputs.names}
                 for k, (label, _) in features.FEATURES.items()]
        layers = [_heat(features.columns(rows))]
    else:  # a table: its encoded columns, as they are
        shown = [{"id": n, "label": n, "active": True} for n in inputs.feature_names]
        layers = [_heat(rows.astype(np.float64))]
    h = torch.as_tensor(inputs(rows))
    if scaler is not None:
        h = torch.as_tensor(scaler.transform(h.numpy()))
    was_training = model.training
    model.eval()
    h = h.to(next(model.parameters()).dtype)
    with torch.no_grad():
        for module in model.layers:
            h = module(h)
            if not isinstance(module, torch.nn.Linear) or module is model.layers[-1]:
                if not isinstance(module, torch.nn.Dropout):
                    layers.append(_heat(h.double().numpy()))
    model.train(was_training)
    weights = [{"shape": list(m.weight.shape), "data": _b64(m.weight.detach().float().numpy())}
               for m in _linears(model)]
    return {"resolution": r, "layers": layers, "weights": weights, "features": shown,
            "toggle": inputs.plane}


def weight_value(body: dict) -> float:
    """The edited weight from a request: a finite number within ``LIMITS.max_weight``."""
    value = body.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or abs(value) > LIMITS.max_weight:
        raise UserError(f"a weight must be a finite number within ±{LIMITS.max_weight:g}, "
                        f"got {value!r:.40}")
    return float(value)


def set_weight(model, layer: int, row: int, col: int, value: float) -> None:
    """Weight ``layer`` (0: from the inputs), from node ``col`` to node ``row``, in place
    (the optimizer and the fast kernel train these same tensors)."""
    linears = _linears(model)
    if not 0 <= layer < len(linears):
        raise UserError(f"layer must be 0 to {len(linears) - 1} (0: from the inputs), "
                        f"got {layer}")
    out_n, in_n = linears[layer].weight.shape
    if not (0 <= row < out_n and 0 <= col < in_n):
        raise UserError(f"layer {layer} has weights [0..{out_n - 1}][0..{in_n - 1}] "
                        f"(to, from), got [{row}][{col}]")
    with torch.no_grad():
        linears[layer].weight[row, col] = value
