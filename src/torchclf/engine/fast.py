"""The fast engine: MLP training in a small C kernel, many epochs per call.

For the lesson's models an epoch is a few thousand multiply-adds, and PyTorch spends
almost all of an eager epoch dispatching ~40 tiny operations. ``kernel.c`` does the
same forward, hand-derived backward and torch.optim update in plain loops, and
``predict.c`` the forward pass alone for many rows (a boundary grid), on SIMD vectors
and threads. Both are compiled once with the system C compiler into one library in a
per-user cache; where there is no compiler (or ``TORCHCLF_ENGINE=autograd``), fit uses
the plain autograd loop, which is also the reference the tests compare against.

The kernel works in place on the model's parameter tensors and on optimizer state
tensors laid out as torch.optim keeps them, so checkpoints, resume and anything that
reads ``optimizer.state_dict()`` see the same state whichever engine ran.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from torchclf.activations import ACTIVATIONS
from torchclf.optimizers import OPTIMIZERS, entry_for

log = logging.getLogger(__name__)

# what the kernel computes, read from the registries: entries without a code are declined
ACTIVATION_CODES = {name: a.kernel_code for name, a in ACTIVATIONS.items()
                    if a.kernel_code is not None}
OPTIMIZER_CODES = {o.torch_class: o.kernel_code for o in OPTIMIZERS.values()
                   if o.kernel_code is not None}
SOURCES = [Path(__file__).parent / "kernels" / name
           for name in ("train.c", "blocks.c", "predict.c", "many.c", "parallel.c")]
HEADERS = [Path(__file__).parent / "kernels" / "lanes.h"]  # included: part of the build key
MIN_ROWS_PER_THREAD = 16384  # below this a thread costs more than it saves
# a training step with fewer multiply-adds in its forward pass runs on one thread: a
# step's threads meet 2L + 3 times, about a microsecond each
MIN_STEP_WORK_PER_THREAD = 250_000
# rows trained per kernel call at most (but one epoch): bounds the mini-batch orders held
# (8 MiB of indices) and how long a call keeps the engine from seeing a signal
ROWS_PER_CALL = 1 << 20


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "torchclf"


def _compiler() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return name
    return None


def _simd_flags() -> list[str]:
    """AVX2 + FMA where the CPU has them (measured fastest here for train.c and
    predict.c, ahead of AVX-512); AVX-512 for many.c's lanes alone where it has that
    too (MANY_AVX512: sixteen models a vector instead of eight, 1.4x faster)."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return []
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return []
    if not ("avx2" in flags and "fma" in flags):
        return []
    return ["-mavx2", "-mfma"] + (["-DMANY_AVX512"] if "avx512f" in flags else [])


@lru_cache(maxsize=1)
def load_kernel() -> ctypes.CDLL | None:
    """The compiled kernel, building it on first use; None when it cannot be built."""
    if os.environ.get("TORCHCLF_ENGINE", "").lower() == "autograd":
        return None
    source = b"".join(path.read_bytes() for path in SOURCES + HEADERS)
    flags = ["-O3", "-shared", "-fPIC", "-std=c99", "-pthread", *_simd_flags()]
    key = hashlib.sha256(source + " ".join(flags).encode() + platform.machine().encode()
                         + sys.platform.encode()).hexdigest()[:16]
    target = _cache_dir() / f"kernel-{key}.so"
    if not target.exists():
        cc = _compiler()
        if cc is None:
            log.info("no C compiler found: using the autograd engine")
            return None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
            os.close(fd)
            subprocess.run([cc, *flags, *map(str, SOURCES), "-o", tmp, "-lm"], check=True,
                           capture_output=True, timeout=120)
            os.replace(tmp, target)
        except (OSError, subprocess.SubprocessError) as e:
            detail = getattr(e, "stderr", b"") or b""
            log.info("could not build the fast kernel (%s %s): using the autograd engine", e,
                     detail.decode(errors="replace")[:500])
            if "tmp" in locals():
                Path(tmp).unlink(missing_ok=True)
            return None
    try:
        lib = ctypes.CDLL(str(target))
    except OSError as e:
        log.info("could not load the fast kernel (%s): using the autograd engine", e)
        return None
    P = ctypes.c_void_p
    lib.train_mlp.restype = ctypes.c_int
    lib.train_mlp.argtypes = [ctypes.c_int, P, P, ctypes.c_int, P, ctypes.c_int, ctypes.c_int,
                              P, P, P, P, P, P, ctypes.c_int, ctypes.c_double,
                              ctypes.c_double, ctypes.c_double, ctypes.c_int, P,
                              ctypes.c_int, ctypes.c_int, P, P, P, ctypes.c_int]
    lib.train_many_mlp.restype = ctypes.c_int  # engine.many_kernel calls it
    lib.train_many_mlp.argtypes = [ctypes.c_int, P, P, ctypes.c_int, P, ctypes.c_int,
                                   ctypes.c_int, ctypes.c_int, ctypes.c_int, P, P, P, P, P, P,
                                   ctypes.c_int, ctypes.c_double, ctypes.c_int, ctypes.c_int,
                                   P, P, ctypes.c_int]
    lib.many_lanes.restype = ctypes.c_int
    lib.predict_mlp.restype = ctypes.c_int
    lib.predict_mlp.argtypes = [ctypes.c_int, P, ctypes.c_int, P, ctypes.c_int, P, P, P,
                                ctypes.c_int]
    return lib


def predict_proba(model: nn.Module, X: np.ndarray, threads: int | None = None
                  ) -> np.ndarray | None:
    """(n, K) float32 probabilities of an eligible float32 CPU MLP for (n, d) float32
    rows, computed by the kernel on up to ``threads`` threads (default: torch's count;
    the kernel releases the GIL); None when the kernel cannot do it.

    Nothing of the model is copied or changed: the kernel reads its weights in place.
    """
    from torchclf.model import MLP
    if not (isinstance(model, MLP) and model.spec.activation in ACTIVATION_CODES):
        return None
    linears = _linears(model)
    # the layers' own tensors: walking model.parameters() costs more than a small call
    if not _kernel_readable(t for m in linears for t in (m.weight, m.bias)):
        return None
    lib = load_kernel()
    if lib is None:
        return None
    X = np.ascontiguousarray(X, dtype=np.float32)
    n = X.shape[0]
    out = np.empty((n, max(2, linears[-1].out_features)), dtype=np.float32)
    sizes = (ctypes.c_int * (len(linears) + 1))(linears[0].in_features,
                                                *[m.out_features for m in linears])
    W = (ctypes.c_void_p * len(linears))(*[m.weight.data_ptr() for m in linears])
    B = (ctypes.c_void_p * len(linears))(*[m.bias.data_ptr() for m in linears])
    threads = max(1, min(threads or torch.get_num_threads(), n // MIN_ROWS_PER_THREAD))
    code = lib.predict_mlp(n, X.ctypes.data, len(linears), sizes,
                           ACTIVATION_CODES[model.spec.activation], W, B, out.ctypes.data,
                           threads)
    if code != 0:
        raise MemoryError("the fast kernel ran out of memory")
    return out


def _linears(model: nn.Module) -> list[nn.Linear] | None:
    layers = getattr(model, "layers", None)
    if not isinstance(layers, nn.Sequential):
        return None
    return [m for m in layers if isinstance(m, nn.Linear)]


def eligible(model: nn.Module, opt: torch.optim.Optimizer, X: torch.Tensor) -> bool:
    """Can the kernel train this exactly as autograd would (full batch or mini-batches)?"""
    from torchclf.model import MLP
    if not (isinstance(model, MLP) and model.spec.dropout == 0
            and model.spec.activation in ACTIVATION_CODES and X.device.type == "cpu"
            and X.dtype == torch.float32 and type(opt) in OPTIMIZER_CODES
            and len(opt.param_groups) == 1):
        return False
    if not entry_for(opt).kernel_accepts(opt.param_groups[0]):
        return False
    return _kernel_readable(model.parameters()) and load_kernel() is not None


def _kernel_readable(tensors) -> bool:
    """Can the kernel read (and write) these tensors in place: float32, CPU, contiguous?"""
    return all(t.dtype == torch.float32 and t.device.type == "cpu" and t.is_contiguous()
               for t in tensors)


def step_threads(rows: int, sizes) -> int:
    """Threads for training steps of ``rows`` rows: torch's count where a step is large
    enough to share (the kernel's numbers are the same for any count)."""
    work = rows * sum(a * b for a, b in zip(sizes, sizes[1:]))
    return max(1, min(torch.get_num_threads(), work // MIN_STEP_WORK_PER_THREAD))


class FastTrainer:
    """Runs epochs of an eligible MLP in the kernel, in place.

    Full batch (``batch_size`` None) is one step per epoch on the rows in their order.
    Otherwise each epoch is the mini-batches of ``batch_size`` rows of a permutation
    drawn with ``torch.randperm(n, generator=generator)``, the draw autograd's loop makes
    (``backends.AutogradBackend.batches``): the same permutations whichever engine runs,
    and the generator left in the same state.
    """

    def __init__(self, model: nn.Module, opt: torch.optim.Optimizer, X: torch.Tensor,
                 y: torch.Tensor, task: str, batch_size: int | None = None,
                 generator: torch.Generator | None = None) -> None:
        if batch_size is not None and generator is None:
            raise ValueError("mini-batches need the generator that draws their order")
        self.lib = load_kernel()
        self.model, self.opt, self.task = model, opt, task
        self.batch_size, self.generator = batch_size, generator
        self.X = X.contiguous()
        self.y = y.reshape(-1).long().contiguous()
        linears = _linears(model)
        self.sizes = (ctypes.c_int * (len(linears) + 1))(
            linears[0].in_features, *[m.out_features for m in linears])
        self.n_layers = len(linears)
        self.weights = [m.weight for m in linears]
        self.biases = [m.bias for m in linears]
        self.kind = OPTIMIZER_CODES[type(opt)]
        self.act = ACTIVATION_CODES[model.spec.activation]
        self.epochs_per_call = max(1, ROWS_PER_CALL // self.X.shape[0])
        self.threads = step_threads(self.X.shape[0] if batch_size is None
                                    else min(batch_size, self.X.shape[0]), self.sizes)
        self._scratch: dict = {}
        self._key, self._arrays, self._keep = None, [], None

    def _state(self, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, bool]:
        """(first moment, second moment or None, whether SGD's buffer is new)."""
        state = self.opt.state[p]
        if self.kind == 0:
            buf = state.get("momentum_buffer")
            fresh = buf is None
            if fresh:
                if self.opt.param_groups[0]["momentum"] != 0:
                    buf = state["momentum_buffer"] = torch.zeros_like(p)
                else:  # never read by the kernel: one scratch buffer per parameter
                    buf = self._scratch.get(p)
                    if buf is None:
                        buf = self._scratch[p] = torch.zeros_like(p)
            return buf, None, fresh
        if "exp_avg" not in state:
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state["exp_avg"], state["exp_avg_sq"], False

    def run(self, epochs: int, loss_out: torch.Tensor, acc_out: torch.Tensor) -> None:
        """Train ``epochs`` epochs; write their losses and accuracies into the outputs."""
        n = self.X.shape[0]
        for start in range(0, epochs, self.epochs_per_call):
            stop = min(epochs, start + self.epochs_per_call)
            order = None
            if self.batch_size is not None:  # drawn into place: no second copy of them
                order = torch.empty((stop - start, n), dtype=torch.int64)
                for row in order:
                    torch.randperm(n, generator=self.generator, out=row)
            self._call(stop - start, loss_out[start:stop], acc_out[start:stop], order)

    def _pointers(self) -> tuple[bool, list]:
        """(whether SGD's momentum buffers are new, the ctypes arrays of the addresses of
        the weights, biases and optimizer states), rebuilt only when a state tensor was
        replaced (a loaded ``state_dict``): a small epoch costs tens of microseconds."""
        states = [self._state(p) for p in self.weights + self.biases]
        key = tuple(id(t) for m1, m2, _ in states for t in (m1, m2))
        fresh = any(f for _, _, f in states)
        if key != self._key:
            k = len(self.weights)
            ptrs = lambda ts: (ctypes.c_void_p * len(ts))(*[t.data_ptr() for t in ts])
            m1, m2 = [s[0] for s in states], [s[1] for s in states]
            self._arrays = [ptrs(self.weights), ptrs(self.biases), ptrs(m1[:k]), ptrs(m1[k:]),
                            ptrs(m2[:k]) if self.kind else None,
                            ptrs(m2[k:]) if self.kind else None]
            self._key, self._keep = key, (m1, m2)  # the arrays point into these tensors
        return fresh, self._arrays

    def _call(self, epochs: int, loss_out: torch.Tensor, acc_out: torch.Tensor,
              order: torch.Tensor | None) -> None:
        """One kernel call: ``epochs`` epochs, full batch or in ``order`` (epochs x n)."""
        group = self.opt.param_groups[0]
        fresh, arrays = self._pointers()
        step_tensor = self.opt.state[self.weights[0]].get("step")
        step = ctypes.c_double(float(step_tensor) if step_tensor is not None else 0.0)
        code = self.lib.train_mlp(
            self.X.shape[0], self.X.data_ptr(), self.y.data_ptr(), self.n_layers,
            self.sizes, self.act, int(self.task == "binary"), *arrays,
            self.kind, float(group["lr"]), float(group.get("momentum", 0.0)),
            float(group["weight_decay"]), int(fresh), ctypes.byref(step), epochs,
            self.batch_size or 0, order.data_ptr() if order is not None else None,
            loss_out.data_ptr(), acc_out.data_ptr(), self.threads)
        if code != 0:
            raise MemoryError("the fast kernel ran out of memory")
        if self.kind:
            for p in self.weights + self.biases:
                self.opt.state[p]["step"].fill_(step.value)
