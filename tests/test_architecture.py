"""The layering rules of the package, checked on the source (STYLE: a house that explains itself)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# package -> the wfc packages it may import (besides wfc.errors, wfc.atomic, wfc.failpoints and itself)
ALLOWED = {
    "model": set(),
    "compile": {"model"},
    "cache": {"model"},
    "store": {"cache"},
    "lineage": {"model"},
    "runtime": {"model", "cache", "project"},
    "step": {"model", "compile", "cache", "store", "lineage", "runtime", "project", "samples"},
    "ops": {"model", "compile", "cache", "store", "lineage", "runtime", "project", "step"},
}
SHARED = {"errors", "atomic", "failpoints", "output"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_layers_import_only_what_is_below_them() -> None:
    problems = []
    for package, allowed in ALLOWED.items():
        for path in (REPO / "wfc" / package).glob("*.py"):
            for name in _imports(path):
                parts = name.split(".")
                if parts[0] != "wfc" or len(parts) < 2:
                    continue
                if parts[1] not in allowed | SHARED | {package}:
                    problems.append(f"{path.relative_to(REPO)} imports {name}")
    assert problems == []


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
