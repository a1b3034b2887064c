"""The install scripts, cheaply: their syntax, their usage and error lines, and that the README's
quick start, ``.ci/run`` and ``.gitignore`` agree. The real proof, a whole install on a bare Debian 12
container, is ``scripts/check-fresh-install.sh``, which ``.ci/run`` runs (docs/install.md)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests import conftest
from tests.conftest import REPO

SCRIPTS = sorted((REPO / "scripts").glob("*.sh"))
QUICK_START = ["bash scripts/quickstart.sh", ".venv/bin/python -m pytest"]


def bash(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", *args], cwd=REPO, capture_output=True, text=True, timeout=60, check=False)


def lines_of(text: str) -> list[str]:
    """Command lines without comments and blank lines."""
    return [line.split("  #")[0].strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


@pytest.mark.parametrize("script", [*SCRIPTS, REPO / ".ci" / "run"], ids=lambda p: p.name)
def test_script_syntax(script: Path) -> None:
    proc = bash("-n", str(script))
    assert proc.returncode == 0, proc.stderr


def test_readme_quick_start_is_the_two_commands_ci_runs() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.S)
    assert block and lines_of(block[1]) == QUICK_START
    ci = lines_of((REPO / ".ci" / "run").read_text())
    assert [line for line in ci if line in QUICK_START] == QUICK_START
    assert ci.index("bash scripts/check-fresh-install.sh") < ci.index(QUICK_START[1])
    python_lines = [line for line in ci if "python" in line]
    assert python_lines and all(line.startswith(".venv/bin/python -m ") for line in python_lines)


def test_venv_is_git_ignored() -> None:
    assert ".venv/" in (REPO / ".gitignore").read_text().splitlines()


@pytest.mark.parametrize("script", ["install.sh", "quickstart.sh", "check-fresh-install.sh"])
def test_usage_and_unknown_arguments(script: str) -> None:
    usage = bash(f"scripts/{script}", "--help")
    assert usage.returncode == 0 and "Usage: scripts/" + script in usage.stdout
    bad = bash(f"scripts/{script}", "--bogus")
    assert (bad.returncode, bad.stderr) == (
        2,
        f"error: unknown argument --bogus; hint: scripts/{script} --help\n",
    )


def test_check_fresh_install_usage_names_its_options_and_checks() -> None:
    usage = bash("scripts/check-fresh-install.sh", "--help").stdout
    for text in ("--ref REF", "--worktree", "wfc-base:bookworm", "quickstart.sh --no-docker", "not docker"):
        assert text in usage


def test_check_fresh_install_refuses_an_unknown_commit_before_starting_anything() -> None:
    proc = bash("scripts/check-fresh-install.sh", "--ref", "no-such-commit")
    assert (proc.returncode, proc.stderr) == (
        2,
        "error: no-such-commit is not a commit of this repository; hint: --ref HEAD\n",
    )
    missing = bash("scripts/check-fresh-install.sh", "--ref")
    assert (missing.returncode, missing.stderr) == (2, "error: --ref needs a commit; hint: --ref HEAD\n")


@dataclass
class FakeItem:
    fixturenames: list[str]
    markers: list[str] = field(default_factory=list)

    def add_marker(self, marker: pytest.MarkDecorator) -> None:
        self.markers.append(marker.name)


def test_tests_using_the_docker_engine_are_marked_docker() -> None:
    items = [FakeItem(["tmp_path", "docker_engine", "built_envs"]), FakeItem(["project", "tmp_path"])]
    conftest.pytest_collection_modifyitems(items)  # type: ignore[arg-type]
    assert [item.markers for item in items] == [["docker"], []]
