"""The package's import graph: no cycles, and no import from a lower layer to a higher one.

The layer order is written here once (and in the README's Layout section). A module may import modules of
its own layer or of layers below it; `__main__` modules are entry points above every layer. Imports inside
functions count too (they hid a cycle before).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "mca_platform"

LAYERS = [  # bottom to top
    ["errors"],
    ["archs"],
    ["config"],
    ["record"],
    ["data", "model", "losses", "metrics", "stats", "select"],
    ["tracking"],
    ["train"],
    ["evaluate"],
    ["report"],
    ["sweep"],
]
LEVEL = {unit: level for level, units in enumerate(LAYERS) for unit in units}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every mca_platform module `path` imports (a `from package import name` names the module if it is one)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("mca_platform")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mca_platform"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in MODULES else node.module)
    return found


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}
GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def unit(module: str) -> str:
    return module.split(".")[1] if "." in module else "__init__"


def test_every_unit_has_a_layer():
    units = {unit(name) for name in MODULES} - {"__init__"}
    assert units <= set(LEVEL), f"add these to LAYERS: {sorted(units - set(LEVEL))}"


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return [
        f"{name} -> {target}"
        for name, targets in graph.items()
        if not name.endswith("__main__") and unit(name) in LEVEL
        for target in targets
        if unit(target) in LEVEL and LEVEL[unit(target)] > LEVEL[unit(name)]
    ]


def import_cycles(graph: dict[str, set[str]]) -> list[str]:
    """Cycles found by a depth-first search (a package's __init__ importing its own modules is not one)."""
    graph = {name: {t for t in targets if t in graph and t != name and not name.startswith(t + ".")}
             for name, targets in graph.items()}
    state: dict[str, int] = {}
    cycles: list[str] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target):], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return cycles


def test_no_import_goes_up_a_layer():
    assert not upward_imports(GRAPH), "imports from a lower layer to a higher one:\n" + "\n".join(
        upward_imports(GRAPH))


def test_no_import_cycle():
    assert not import_cycles(GRAPH), "import cycles:\n" + "\n".join(import_cycles(GRAPH))


def test_the_checks_catch_an_upward_import_and_a_cycle(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from mca_platform.sweep import driver\n")
    assert imports_of(source) == {"mca_platform.sweep.driver"}, "imports inside functions are seen"
    bad = {"mca_platform.select": {"mca_platform.evaluate.run"}, "mca_platform.evaluate.run": {"mca_platform.select"}}
    assert upward_imports(bad) == ["mca_platform.select -> mca_platform.evaluate.run"]
    assert import_cycles(bad) == ["mca_platform.evaluate.run -> mca_platform.select -> mca_platform.evaluate.run"]
    assert upward_imports({"mca_platform.sweep.__main__": {"mca_platform.report"}}) == [], "entry points are top"
    assert len(GRAPH) > 60 and "mca_platform.record" in GRAPH["mca_platform.select"]
