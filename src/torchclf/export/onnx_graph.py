"""A Predictor as one ONNX graph: raw table columns in, probabilities and the label out.

The graph is written node by node from the model's weights and the encoder's learnt
plan, so it holds the whole Predictor, preprocessing included:

* one input per raw column, shaped (N, 1): numbers as float32 with NaN for a missing
  cell, text as strings with the empty string for a missing cell;
* a number column: a missing cell becomes the training median (``IsNaN`` + ``Where``),
  then the 0/1 "missing" column if the encoder has one;
* a text column: ``ai.onnx.ml`` ``LabelEncoder`` maps each known value to its one-hot
  position, the empty string to "missing" (then to the most frequent value) and any
  other value to the shared "other" column, or to no column at all, exactly as
  ``TableEncoder`` does; ``Equal`` against 0..K-1 gives the one-hot columns;
* the Standardizer (``Sub``, ``Div``), the MLP (``Gemm`` and the activation's operator
  from ``torchclf.activations``), and sigmoid or softmax;
* outputs ``probabilities`` (N, K) float32, columns in the order of the classes, and
  ``label`` (N,): the class with the highest probability, as text, integer or boolean
  like the training labels.

A float64 model (saved by ``TorchClassifier``) runs its layers in float64 after the
float32 Standardizer, as ``Predictor`` does. The class names, the columns and the
features are stored in the file's metadata (``torchclf.*`` keys).
"""

from __future__ import annotations

import json
import numbers

import numpy as np

from torchclf.activations import ACTIVATIONS
from torchclf.data.encoding import CATEGORY, NUMBER, Column
from torchclf.errors import UserError
from torchclf.model import MLP
from torchclf.version import __version__

OPSET = 20         # Gelu is an operator from opset 20 (onnxruntime 1.17 and later)
ML_OPSET = 2       # ai.onnx.ml LabelEncoder with keys_strings and values_int64s
IR_VERSION = 9     # what opset 20 came with: readable by onnxruntime 1.17 and later
PRODUCER = "torchclf"
MISSING_TEXT = ""  # a missing cell of a text column
OUTPUTS = ("probabilities", "label")
FLOAT32_ONLY = frozenset({"Gelu", "LeakyRelu"})  # onnxruntime has no float64 kernel
_MISSING_CODE, _NO_COLUMN = -2, -1


def onnx_bytes(predictor) -> bytes:
    """The serialized ONNX model of ``predictor`` (checked by ``onnx.checker``)."""
    onnx = _require_onnx()
    graph = _Graph(onnx)
    columns = _columns(predictor)
    features = graph.concat([_encode(graph, c) for c in columns])
    proba = _network(graph, predictor, features)
    graph.node("Identity", [proba], OUTPUTS[0])
    code = graph.node("ArgMax", [proba], axis=1, keepdims=0)
    classes, elem = _class_tensor(predictor.classes)
    graph.node("Gather", [graph.const(classes, elem), code], OUTPUTS[1], axis=0)
    _check_names([c.name for c in columns], graph.produced)
    model = graph.model(columns, len(predictor.classes), elem)
    model.metadata_props.extend(_metadata(onnx, predictor, columns))
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def _require_onnx():
    try:
        import onnx
    except ImportError:
        raise UserError("exporting to ONNX needs the onnx package: "
                        "pip install 'torchclf[export]'") from None
    return onnx


class _Graph:
    """Nodes and constants under construction, with unique internal value names."""

    def __init__(self, onnx) -> None:
        self.onnx, self.nodes, self.initializers = onnx, [], []
        self.produced: set[str] = set()

    def _name(self, hint: str) -> str:
        name = f"torchclf/{hint}_{len(self.produced)}"
        self.produced.add(name)
        return name

    def node(self, op: str, inputs: list[str], output: str | None = None,
             domain: str = "", **attrs) -> str:
        output = output or self._name(op.lower())
        self.produced.add(output)
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [output], domain=domain,
                                                     **attrs))
        return output

    def const(self, value, elem: int | None = None) -> str:
        name = self._name("const")
        helper, array = self.onnx.helper, np.asarray(value)
        if elem == self.onnx.TensorProto.STRING:
            tensor = helper.make_tensor(name, elem, array.shape,
                                        [str(v).encode("utf-8") for v in array.ravel()])
        else:
            tensor = self.onnx.numpy_helper.from_array(array, name)
        self.initializers.append(tensor)
        return name

    def cast(self, value: str, elem: int) -> str:
        return self.node("Cast", [value], to=elem)

    def concat(self, blocks: list[list[str]]) -> str:
        parts = [v for block in blocks for v in block]
        return parts[0] if len(parts) == 1 else self.node("Concat", parts, axis=1)

    def model(self, columns: list[Column], n_classes: int, label_elem: int):
        helper, T = self.onnx.helper, self.onnx.TensorProto
        inputs = [helper.make_tensor_value_info(
                      c.name, T.FLOAT if c.kind == NUMBER else T.STRING, ["N", 1])
                  for c in columns]
        outputs = [helper.make_tensor_value_info(OUTPUTS[0], T.FLOAT, ["N", n_classes]),
                   helper.make_tensor_value_info(OUTPUTS[1], label_elem, ["N"])]
        graph = helper.make_graph(self.nodes, "torchclf", inputs, outputs, self.initializers)
        model = helper.make_model(graph, producer_name=PRODUCER, producer_version=__version__,
                                  opset_imports=[helper.make_opsetid("", OPSET),
                                                 helper.make_opsetid("ai.onnx.ml", ML_OPSET)])
        model.ir_version = IR_VERSION
        return model


def _columns(predictor) -> list[Column]:
    """The raw columns: the encoder's, or (a model without one) its numeric features,
    which have no fill value (a NaN stays NaN, as ``Predictor`` refuses it)."""
    if predictor.encoder is None:
        return [Column(str(n), NUMBER, None) for n in predictor.feature_names]
    for c in predictor.encoder.columns:
        if c.kind == CATEGORY and MISSING_TEXT in c.categories:
            raise UserError(f"column {c.name!r} has the empty text as a category, but in "
                            "ONNX an empty text marks a missing cell: give those cells a "
                            "name (e.g. 'none') and train again")
    return list(predictor.encoder.columns)


def _encode(graph: _Graph, c: Column) -> list[str]:
    """The output columns of ``c``, as TableEncoder makes them (float32)."""
    T = graph.onnx.TensorProto
    if c.kind == NUMBER:
        if c.fill is None:
            return [c.name]
        missing = graph.node("IsNaN", [c.name])
        block = [graph.node("Where", [missing, graph.const(np.float32(c.fill)), c.name])]
    else:
        k = len(c.categories)
        code = graph.node("LabelEncoder", [c.name], domain="ai.onnx.ml",
                          keys_strings=[*c.categories, MISSING_TEXT],
                          values_int64s=[*range(k), _MISSING_CODE],
                          default_int64=k if c.other else _NO_COLUMN)
        missing = graph.node("Equal", [code, graph.const(np.int64(_MISSING_CODE))])
        fill = graph.const(np.int64(c.categories.index(c.fill)))
        code = graph.node("Where", [missing, fill, code])
        positions = graph.const(np.arange(k + c.other, dtype=np.int64).reshape(1, -1))
        block = [graph.cast(graph.node("Equal", [code, positions]), T.FLOAT)]
    if c.indicator:
        block.append(graph.cast(missing, T.FLOAT))
    return block


def _network(graph: _Graph, predictor, x: str) -> str:
    """Standardizer, layers, activation and probabilities, in the model's dtype."""
    import torch
    T = graph.onnx.TensorProto
    if predictor.scaler is not None:
        x = graph.node("Sub", [x, graph.const(predictor.scaler.mean_.astype(np.float32))])
        x = graph.node("Div", [x, graph.const(predictor.scaler.scale_.astype(np.float32))])
    model = predictor.model
    if not isinstance(model, MLP):
        raise UserError(f"only torchclf MLP models can be exported to ONNX, not "
                        f"{type(model).__name__}: export it with torch.onnx yourself")
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    float64 = linears[0].weight.dtype == torch.float64
    if float64:
        x = graph.cast(x, T.DOUBLE)
    activation = _activation(model.spec.activation)
    for i, layer in enumerate(linears):
        if i:
            x = _activate(graph, x, activation, float64)
        weight = layer.weight.detach().cpu().numpy()
        bias = (layer.bias.detach().cpu().numpy() if layer.bias is not None
                else np.zeros(weight.shape[0], weight.dtype))
        x = graph.node("Gemm", [x, graph.const(weight), graph.const(bias)], transB=1)
    if predictor.task == "binary":
        p = graph.node("Sigmoid", [x])
        x = graph.node("Concat", [graph.node("Sub", [graph.const(np.ones((), weight.dtype)),
                                                     p]), p], axis=1)
    else:
        x = graph.node("Softmax", [x], axis=1)
    return graph.cast(x, T.FLOAT) if float64 else x


def _activation(name: str) -> tuple[str, dict]:
    form = ACTIVATIONS[name].onnx
    if form is None:
        with_onnx = sorted(n for n, a in ACTIVATIONS.items() if a.onnx is not None)
        raise UserError(f"activation {name!r} has no ONNX form: train with one of "
                        f"{', '.join(with_onnx)} to export to ONNX")
    return form


def _activate(graph: _Graph, x: str, form: tuple[str, dict], float64: bool) -> str:
    op, attrs = form
    T = graph.onnx.TensorProto
    if float64 and op in FLOAT32_ONLY:
        return graph.cast(graph.node(op, [graph.cast(x, T.FLOAT)], **attrs), T.DOUBLE)
    return graph.node(op, [x], **attrs)


def _class_tensor(classes) -> tuple[np.ndarray, int]:
    """The class labels as a constant: booleans, integers, or else text."""
    from onnx import TensorProto as T
    if all(isinstance(c, (bool, np.bool_)) for c in classes):
        return np.asarray(classes, dtype=bool), T.BOOL
    if all(isinstance(c, numbers.Integral) and not isinstance(c, (bool, np.bool_))
           for c in classes):
        return np.asarray(classes, dtype=np.int64), T.INT64
    return np.asarray([str(c) for c in classes], dtype=object), T.STRING


def _check_names(inputs: list[str], produced: set[str]) -> None:
    for name in inputs:
        if not name:
            raise UserError("a column without a name cannot be an ONNX input: name it and "
                            "train again")
        if name in produced:
            raise UserError(f"column {name!r} cannot be an ONNX input: the graph uses that "
                            f"name (its outputs are {' and '.join(OUTPUTS)}); rename the "
                            "column and train again")


def _metadata(onnx, predictor, columns: list[Column]) -> list:
    """Class names, columns and features as ``metadata_props`` (JSON values)."""
    from torchclf.data.dataset import plain_label
    entries = {
        "torchclf.version": __version__,
        "torchclf.task": predictor.task,
        "torchclf.classes": json.dumps([plain_label(c) for c in predictor.classes]),
        "torchclf.inputs": json.dumps([{"name": c.name, "kind": c.kind,
                                        "missing": "NaN" if c.kind == NUMBER
                                        else MISSING_TEXT} for c in columns]),
        "torchclf.feature_names": json.dumps(list(predictor.feature_names)),
    }
    return [onnx.StringStringEntryProto(key=k, value=v) for k, v in entries.items()]
