"""wfc_client: the stdlib-only method API, tested as a method sees it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import wfc_client as wfc
from wfc_client import contract
from wfc_client.context import Context

REPO = Path(__file__).resolve().parent.parent


def _environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    (tmp_path / "in.txt").write_text("a\nb\n")
    run_dir = tmp_path / "run"
    run_dir.mkdir(exist_ok=True)
    return {
        contract.RUN_DIR: str(run_dir),
        contract.INPUT_PATHS: json.dumps({"data": [str(tmp_path / "in.txt")]}),
        contract.PARAMS: json.dumps({"k": 2}),
        contract.OUTPUTS: json.dumps({"count": "count.txt"}),
        contract.SAMPLE: "s1",
        **extra,
    }


def test_context_reads_the_contract(tmp_path: Path) -> None:
    ctx = Context(_environ(tmp_path))
    assert ctx.params == {"k": 2} and ctx.sample == "s1"
    assert ctx.input_one("data").read_text() == "a\nb\n"
    assert ctx.input("absent") == []
    assert ctx.output_path("count") == tmp_path / "run" / "count.txt"
    with pytest.raises(ValueError, match="outside the run directory"):
        ctx.save_artifact("count", "../in.txt")
    with pytest.raises(TypeError, match="must be a number"):
        ctx.log_metric("m", "high")  # type: ignore[arg-type]


def test_run_writes_results_on_success_and_on_exception(tmp_path: Path) -> None:
    environ = _environ(tmp_path)

    def good(ctx: Context) -> None:
        ctx.output_path("count").write_text("2")
        ctx.save_artifact("count", "count.txt")
        ctx.log_metric("lines", 2)

    with pytest.raises(SystemExit) as ok:
        wfc.run(good, environ)
    assert ok.value.code == 0
    results = contract.parse_results((tmp_path / "run" / contract.RESULTS_FILE).read_text())
    assert results == {
        "version": 1,
        "outputs": {"count": "count.txt"},
        "metrics": {"lines": 2},
        "error": None,
    }

    def bad(ctx: Context) -> None:
        raise RuntimeError("no convergence")

    with pytest.raises(SystemExit) as failed:
        wfc.run(bad, environ)
    assert failed.value.code == 1
    results = contract.parse_results((tmp_path / "run" / contract.RESULTS_FILE).read_text())
    assert results["error"] == "RuntimeError: no convergence"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"version": 2}', "version must be 1"),
        ('{"version": 1, "extra": 1}', "unknown keys"),
        ('{"version": 1, "metrics": {"m": "x"}}', "metrics must map names to finite numbers"),
        ('{"version": 1, "outputs": {"a": 1}}', "outputs must map slot names to relative paths"),
    ],
)
def test_results_schema_is_enforced(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        contract.parse_results(text)


def test_installs_on_its_own_and_imports_nothing_of_wfc(tmp_path: Path) -> None:
    target = tmp_path / "site"
    source = shutil.copytree(
        REPO / "wfc_client", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__")
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    code = (
        "import sys, wfc_client, wfc_client.context; "
        "print(wfc_client.__file__); print(sorted(m for m in sys.modules if m.split('.')[0] == 'wfc'))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {code}"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    where, wfc_modules = out.stdout.splitlines()
    assert where.startswith(str(target)) and wfc_modules == "[]"
