"""The launcher ``run-pipeline`` starts Snakemake with (ADR 0033): a Snakefile run under it sees
the raised recursion limit and daemon timers (the scheduler's timers do not hold the process open
once Snakemake is done), and its jobs run and its exit code comes through."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SNAKEFILE = """\
import sys, threading
open("seen.txt", "w").write(f"{sys.getrecursionlimit()} {threading.Timer(60, print).daemon}")

rule all:
    input: "out.txt"

rule make:
    output: "out.txt"
    shell: "echo made > {output}"
"""


def _launch(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wfc.pipeline.snakemake_cli", "--cores", "1", "--quiet", *args],
        cwd=directory,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_snakefile_sees_raised_recursion_limit_and_daemon_timers(tmp_path: Path) -> None:
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    proc = _launch(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out.txt").read_text() == "made\n"
    assert (tmp_path / "seen.txt").read_text() == "1000000 True"


def test_snakemake_exit_code_comes_through(tmp_path: Path) -> None:
    (tmp_path / "Snakefile").write_text('rule all:\n    output: "x"\n    shell: "exit 3"\n')
    proc = _launch(tmp_path)
    assert proc.returncode == 1
    assert "At least one job did not complete successfully" in proc.stderr


def test_light_start_loads_site_packages_for_everything_but_forwarding() -> None:
    """Jobs start ``python -S -m wfc run-step`` (it only forwards to the worker); any command that
    needs the whole stack (typer here, pydantic and the rest for a step run in the job) loads
    site-packages itself."""
    proc = subprocess.run(
        [sys.executable, "-S", "-m", "wfc", "--help"],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Usage:" in proc.stdout and "run-pipeline" in proc.stdout
