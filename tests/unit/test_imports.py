"""The package's layering, read from its own imports: no circle, and no import from a lower floor up to a higher one.

Every ``import`` counts, at module level or deferred inside a function: a deferred import still ties the two
modules together, it only hides the tie until run time. ``docs/architecture.md`` draws the same floors.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "fvc"

# Top-level rooms of fvc (sub-packages and modules), lowest floor first. A room imports only from its own
# floor or below; a new room must be placed here, which is the point: its place is a design decision.
FLOORS: tuple[frozenset[str], ...] = (
    frozenset({"fvc", "config", "logs", "fingerprint"}),  # schemas, logging, hashing: import nothing of fvc
    frozenset({"io"}),  # atomic writes, decoding, encoding, scaling
    frozenset({"augment", "manipulations", "data", "features", "evaluate", "query"}),  # numpy / pandas work
    frozenset({"train", "track"}),  # the model-agnostic training engine; MLflow
    frozenset({"models"}),  # the registry, its families and their networks
    frozenset({"learners"}),  # the one interface over every model kind
    frozenset({"hpo", "inference"}),  # consumers of learners
    frozenset({"settings", "cli"}),  # what knows every domain
)


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """For each fvc module, the fvc modules it imports (a name imported from a package resolves to its module)."""

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = {}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets: set[str | None] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {resolve(alias.name) for alias in node.names if alias.name.split(".")[0] == "fvc"}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    name = ".".join(base + ([node.module] if node.module else []))
                else:
                    name = node.module or ""
                if name.split(".")[0] != "fvc":
                    continue
                for alias in node.names:
                    full = f"{name}.{alias.name}"
                    targets.add(full if full in modules else resolve(name))
        # A package's __init__ re-exporting its children is not a tie between rooms or a circle.
        edges[module] = {t for t in targets if t and t != module and t != "fvc" and not t.startswith(module + ".")}
    return edges


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "fvc"


def _floor(room: str) -> int:
    return next(i for i, rooms in enumerate(FLOORS) if room in rooms)


def _circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return circles


@pytest.fixture(scope="module")
def edges() -> dict[str, set[str]]:
    return _imports(_modules())


def test_every_room_has_a_floor(edges):
    rooms = {_room(module) for module in edges} - {"schemas"}
    placed = set().union(*FLOORS)
    assert rooms <= placed, f"rooms without a floor in FLOORS: {sorted(rooms - placed)}"


def test_no_import_circles(edges):
    assert _circles(edges) == []


def test_no_import_runs_up_a_floor(edges):
    upward = sorted(
        f"{module} (floor {_floor(_room(module))}) imports {target} (floor {_floor(_room(target))})"
        for module, targets in edges.items()
        for target in targets
        if _floor(_room(target)) > _floor(_room(module))
    )
    assert upward == []


def test_the_reader_sees_deferred_imports_and_circles():
    """The checks above would pass vacuously if the reader missed imports inside functions."""
    edges = _imports(_modules())
    assert "fvc.models.params" in edges["fvc.settings"]  # deferred inside validate_config
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_checking_the_default_config_imports_no_network_library():
    """The Snakefile checks the config on every parse and ``fvc models`` lists the registry: both stay light."""
    code = (
        "import sys, yaml\n"
        "from fvc.settings import validate_config\n"
        "validate_config(yaml.safe_load(open('config/config.yaml')), check_input=False)\n"
        "heavy = sorted({'torch', 'timm', 'torchvision', 'sklearn', 'pytorchvideo'} & set(sys.modules))\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parent)
