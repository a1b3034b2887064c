"""``wfc run-step`` as a command: help laid out like every other command's, and a fast start
(no typer, and nothing heavy before the step needs it)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO, Proj


def test_help_looks_like_every_other_commands(project: Proj) -> None:
    mine = project.wfc("run-step", "--help", check=True).stdout
    theirs = project.wfc("plan", "--help", check=True).stdout
    for text in (mine, theirs):
        lines = text.splitlines()
        assert lines[0].split(" [OPTIONS] ")[0].endswith(("wfc run-step", "wfc plan"))
        assert "Arguments:" in lines and "Options:" in lines
        assert any(line.lstrip().startswith("Example") for line in lines)
        assert "  pipeline <path>  " in text
        assert "Show this message and exit." in [ln for ln in lines if "--help" in ln][-1]
    assert "  --node <str>                The node id. [required]" in mine


def test_usage_errors_name_the_fix(project: Proj) -> None:
    proc = project.wfc("run-step", "pipeline.json")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "error: run-step: the following arguments are required: --node",
        "hint: see `wfc run-step --help`",
    ]


def _imported(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True, timeout=60
    )
    return set(proc.stdout.split())


def test_the_fast_path_imports_nothing_heavy() -> None:
    loaded = _imported("import wfc.api, wfc.cli.run_step; wfc.cli.run_step.build_parser().format_help()")
    assert not {"typer", "click", "docker", "sqlalchemy", "pydantic", "snakemake"} & loaded
