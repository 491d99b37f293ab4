"""The package's shape: layers point down only, no import circles, small modules.

Every import is counted, module-level or inside a function: an import that only runs
later still ties the lower module to the higher one.
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "torchclf"

# Lowest first. A module may import from its own layer and the layers before it.
LAYERS = [
    ("base", ["torchclf.errors", "torchclf.version", "torchclf.registry", "torchclf.runtime",
              "torchclf.atomic", "torchclf.spec", "torchclf.memory"]),
    ("data", ["torchclf.data"]),
    ("model", ["torchclf.model", "torchclf.task", "torchclf.activations", "torchclf.hyper",
               "torchclf.optimizers", "torchclf.schedules"]),
    ("config", ["torchclf.config", "torchclf.recipes"]),
    ("engine", ["torchclf.engine"]),
    ("results", ["torchclf.run", "torchclf.metrics", "torchclf.grid"]),
    ("storage and plots", ["torchclf.store", "torchclf.plots", "torchclf.animation",
                           "torchclf.export", "torchclf.callbacks"]),
    ("workflows", ["torchclf.experiment", "torchclf.scale"]),
    ("front ends", ["torchclf.cli", "torchclf.web", "torchclf.estimator",
                    "torchclf.estimator_training", "torchclf.estimator_display", "torchclf.api", "torchclf.__main__"]),
]
TOP = "torchclf"  # the package itself: the public API, above everything
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def layer_of(module: str) -> int:
    if module == TOP:
        return len(LAYERS)
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS in {__file__}")


def imports_of(module: str) -> set[str]:
    """Every torchclf module ``module`` imports, wherever the import statement stands."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                       for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target.startswith("torchclf") and target != module:
                found.add(target)
    return found


GRAPH = {m: imports_of(m) for m in MODULES}


def test_every_module_has_a_layer():
    for module in MODULES:
        layer_of(module)


def test_imports_point_down_only():
    upward = [f"{m} ({LAYERS[layer_of(m)][0]}) imports {t} ({LAYERS[layer_of(t)][0]})"
              for m, targets in GRAPH.items() for t in sorted(targets)
              if t != TOP and layer_of(t) > layer_of(m)]
    assert not upward, "\n".join(upward)


def test_no_module_imports_the_public_api_package():
    assert not [m for m, targets in GRAPH.items() if TOP in targets and m != "torchclf.__main__"]


def test_no_import_circles():
    seen, stack, cycles = set(), [], []

    def visit(node):
        if node in stack:
            cycles.append(stack[stack.index(node):] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        stack.append(node)
        for target in sorted(GRAPH[node]):
            visit(target)
        stack.pop()

    for module in sorted(GRAPH):
        visit(module)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: module_name(p))
def test_modules_stay_small(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.name} has {lines} lines: split it by job"
