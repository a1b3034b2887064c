"""The layering rules of the package, checked on the source (STYLE: a house that explains itself;
ADR 0018 draws the layers).

Every module of ``wfc`` belongs to one layer (a package, or a top-level module) and may import only
the layers below it, plus the shared leaf modules. A new module or package fails here until it is
given a place.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# leaf modules anything may import; they import no other part of wfc
SHARED = {"errors", "atomic", "failpoints", "output"}
# layer -> the layers it may import (besides SHARED and itself), bottom to top
LAYERS: dict[str, set[str]] = {
    "model": set(),
    "compile": {"model"},
    "cache": {"model"},
    "store": {"cache"},
    "lineage": {"model"},
    "runtime": {"model"},
    "project": {"store"},
    "methods": {"model", "cache", "project"},
    "samples": {"model", "cache", "lineage", "project"},
    "metrics": {"model"},
    "bundle": {"cache", "store", "project", "methods", "samples"},  # samples: the lock it carries
    "environments": {"model", "cache", "project", "runtime"},
    "scaffold": {"project"},
}
# what the lifecycle of one step coordinates; orchestration and the read side sit on top of it
_BELOW_STEP = set(LAYERS) - {"scaffold"}
LAYERS["step"] = _BELOW_STEP
LAYERS["pipeline"] = _BELOW_STEP | {"step"}
LAYERS["ops"] = _BELOW_STEP - {"bundle"} | {"step"}
LAYERS["envshell"] = _BELOW_STEP | {"step"}  # `wfc env shell`: a step's container, opened by hand
LAYERS["api"] = set(LAYERS) - {"api"}
LAYERS["canvas"] = set(LAYERS) - {"canvas"}  # the web server: over the API, beside the CLI
LAYERS["cli"] = set(LAYERS) - {"cli"}
ENTRY = {"__init__", "__main__"}  # the package itself: the version, and `python -m wfc`


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            if node.module == "wfc":  # `from wfc import metrics` names a module; `__version__` does not
                names.update(f"wfc.{alias.name}" for alias in node.names if not alias.name.startswith("__"))
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def _layer(path: Path) -> str:
    rel = path.relative_to(REPO / "wfc")
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _modules() -> list[Path]:
    return sorted((REPO / "wfc").rglob("*.py"))


def test_every_module_has_a_layer() -> None:
    unplaced = {
        str(p.relative_to(REPO))
        for p in _modules()
        if _layer(p) not in LAYERS | dict.fromkeys(SHARED | ENTRY)
    }
    assert unplaced == set()


def test_layers_import_only_what_is_below_them() -> None:
    problems = []
    for path in _modules():
        layer = _layer(path)
        if layer in ENTRY:
            continue
        allowed = set() if layer in SHARED else LAYERS[layer] | SHARED
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] != "wfc" or len(parts) < 2 or parts[1] == layer:
                continue
            if parts[1] not in allowed:
                problems.append(f"{path.relative_to(REPO)} ({layer}) imports {name}")
    assert problems == []


def test_the_layers_have_no_cycle() -> None:
    order: list[str] = []
    pending = dict(LAYERS)
    while pending:
        ready = [layer for layer, below in pending.items() if below <= set(order)]
        assert ready, f"cycle among {sorted(pending)}"
        order += sorted(ready)
        for layer in ready:
            del pending[layer]


def test_nothing_imports_the_cli_and_the_client_imports_nothing_of_wfc() -> None:
    for path in (REPO / "wfc").rglob("*.py"):
        if "cli" not in path.parts and path.name != "__main__.py":
            assert not any(n.startswith("wfc.cli") for n in _imports(path)), path
    for path in (REPO / "wfc_client").rglob("*.py"):
        assert not any(n == "wfc" or n.startswith("wfc.") for n in _imports(path)), path


def test_modules_say_what_they_own() -> None:
    for path in [*(REPO / "wfc").rglob("*.py"), *(REPO / "wfc_client").rglob("*.py")]:
        doc = ast.get_docstring(ast.parse(path.read_text()))
        assert doc, f"{path.relative_to(REPO)} has no module docstring"
        assert len(path.read_text().splitlines()) < 500, f"{path.relative_to(REPO)} is a god module"
