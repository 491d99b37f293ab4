"""Exporting a trained model for serving without torchclf: ONNX or TorchScript.

``FORMATS`` is the registry the CLI's ``--format`` reads: each entry names the file it
writes and what goes in and out. ``onnx`` holds the whole Predictor (raw columns in,
preprocessing inside; needs ``pip install 'torchclf[export]'``); ``torchscript`` holds
the Standardizer and the network (encoded features in). Files are written atomically,
and a file is replaced only if torchclf exported it.
"""

from __future__ import annotations

import importlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from torchclf.errors import UserError
from torchclf.registry import unknown_name


@dataclass(frozen=True)
class ExportFormat:
    name: str
    filename: str      # default file name in the run directory
    description: str   # one line, for help text
    writer: str        # "module:function" returning the file's bytes (imported when used)

    def to_bytes(self, predictor) -> bytes:
        module, function = self.writer.split(":")
        return getattr(importlib.import_module(module), function)(predictor)


FORMATS: dict[str, ExportFormat] = {f.name: f for f in [
    ExportFormat("onnx", "model.onnx", "raw columns in (NaN or empty text for a missing "
                 "cell), preprocessing inside, probabilities and label out",
                 "torchclf.export.onnx_graph:onnx_bytes"),
    ExportFormat("torchscript", "model.pt", "encoded features in, probabilities out",
                 "torchclf.export.torchscript:torchscript_bytes"),
]}
_ONNX_MARK = b"\x12\x08torchclf"  # producer_name, written right after ir_version
EXTRA_FILE = "torchclf.json"       # TorchScript's extra file: classes, features, task


def export(predictor, path: str | Path, format: str = "onnx") -> Path:
    """Write ``predictor`` to ``path`` in ``format`` (a name in ``FORMATS``), atomically.

    An existing file is replaced only if torchclf exported it; anything else is a
    UserError raised before writing.
    """
    from torchclf.atomic import atomic_write_bytes
    from torchclf.store.owned import check_file_destination
    fmt = export_format(format)
    path = check_file_destination(path, f"{fmt.name} export")
    if path.exists() and not exported_by_torchclf(path):
        raise UserError(f"{path} already exists and was not exported by torchclf: choose "
                        "another output file, or move it away yourself")
    data = fmt.to_bytes(predictor)
    try:
        return atomic_write_bytes(path, data)
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror or e}; choose another output "
                        "file") from None


def export_onnx(predictor, path: str | Path) -> Path:
    """``predictor`` as one ONNX graph, preprocessing included (``onnx_graph``)."""
    return export(predictor, path, "onnx")


def export_torchscript(predictor, path: str | Path) -> Path:
    """``predictor``'s scaler and network as TorchScript (``torchscript``)."""
    return export(predictor, path, "torchscript")


def export_run(run: str | Path, format: str = "onnx", output: str | Path | None = None) -> Path:
    """Export the model saved in the run directory ``run``; ``output`` defaults to the
    format's file name inside it."""
    from torchclf.store.modelfiles import load_model
    fmt = export_format(format)
    run = Path(run)
    if not run.is_dir():
        raise UserError(f"run directory not found: {run} (train one with 'torchclf train')")
    return export(load_model(run), output if output is not None else run / fmt.filename,
                  fmt.name)


def export_format(name: str) -> ExportFormat:
    if name not in FORMATS:
        raise unknown_name("export format", name, FORMATS)
    return FORMATS[name]


def exported_by_torchclf(path: Path) -> bool:
    """Whether the file at ``path`` is an ONNX or TorchScript file torchclf wrote."""
    try:
        with open(path, "rb") as f:
            head = f.read(32)
        if _ONNX_MARK in head[:16]:
            return True
        with zipfile.ZipFile(path) as archive:
            return any(n.endswith(f"/extra/{EXTRA_FILE}") for n in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
