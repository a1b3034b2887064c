"""A Snakemake job's ``wfc run-step`` under a worker (ADR 0033): the job's process sends its
command line as it is and prints the worker's answer; the worker parses, runs, writes the marker
and renders exactly as ``run-step`` in its own process would. Fast: a stand-in worker and a
stand-in step; the real pipeline runs are in test_run_pipeline.py and test_run_step_cli.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from wfc.errors import UsageError
from wfc.pipeline.job import answer

REPO = Path(__file__).resolve().parent.parent
DOC = {
    "name": "clean[s1]",
    "status": "completed",
    "run_id": "r-1",
    "reason": "never ran",
    "seconds": 0.5,
    "outputs": {"out": {"hash": "blake3:ab", "size": 3, "path": "out.txt", "kind": "file"}},
}


def _run(doc: dict[str, Any]) -> Any:
    seen: list[dict[str, Any]] = []

    def run(request: dict[str, Any]) -> dict[str, Any]:
        seen.append(request)
        return doc

    run.seen = seen  # type: ignore[attr-defined]
    return run


def test_answer_runs_the_parsed_request_touches_the_marker_and_renders(tmp_path: Path) -> None:
    run = _run(DOC)
    env = {"WFC_PIPELINE_RUN": "p-1"}
    reply = answer(
        ["p.json", "--node", "clean", "--sample", "s1", "--marker", "m/x.done"], str(tmp_path), env, run
    )
    assert reply == {
        "stdout": "out\tblake3:ab\t3\tout.txt\n",
        "stderr": "clean[s1]: completed (run r-1; why: never ran) in 0.50s\n",
        "exit_code": 0,
    }
    assert (tmp_path / "m" / "x.done").is_file()  # relative to the job's directory, not the worker's
    step = run.seen[0]["step"]
    assert (step["node"], step["sample"], step["pipeline_run_id"]) == ("clean", "s1", "p-1")


def test_answer_of_a_failed_step_touches_no_marker(tmp_path: Path) -> None:
    failed = {**DOC, "status": "failed", "error": "exit code 1", "log_dir": ".wfc/runs/r-1", "outputs": {}}
    reply = answer(["p.json", "--node", "clean", "--marker", "x.done"], str(tmp_path), {}, _run(failed))
    assert reply["exit_code"] == 1
    assert (
        reply["stderr"]
        == "error: step clean[s1] failed: exit code 1\nhint: see .wfc/runs/r-1/stderr.log (run r-1)\n"
    )
    assert not (tmp_path / "x.done").exists()


def test_answer_of_a_bad_command_line_is_the_usage_error(tmp_path: Path) -> None:
    reply = answer(["p.json"], str(tmp_path), {}, _run(DOC))
    assert reply["exit_code"] == 2
    assert reply["stderr"].startswith("error: run-step: the following arguments are required: --node\n")
    as_json = answer(["p.json", "--json"], str(tmp_path), {}, _run(DOC))
    assert json.loads(as_json["stdout"])["exit_code"] == 2 and as_json["stderr"] == ""


def test_answer_reports_step_errors_and_internal_errors(tmp_path: Path) -> None:
    def bad_input(_request: dict[str, Any]) -> dict[str, Any]:
        raise UsageError("node 'x' is not in the pipeline", "see `wfc plan`")

    reply = answer(["p.json", "--node", "x"], str(tmp_path), {}, bad_input)
    assert reply == {
        "stdout": "",
        "stderr": "error: node 'x' is not in the pipeline\nhint: see `wfc plan`\n",
        "exit_code": 2,
    }

    def bug(_request: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("oops")

    reply = answer(["p.json", "--node", "x"], str(tmp_path), {}, bug)
    assert reply["exit_code"] == 1
    assert "Traceback" in reply["stderr"]
    assert reply["stderr"].endswith(
        "error: internal error: KeyError: 'oops'\n"
        "hint: this is a bug in wfc: rerun with --verbose and report the traceback\n"
    )


def _job(argv: list[str], worker: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(REPO),
        "WFC_WORKER": str(worker),
        "WFC_PIPELINE_RUN": "p-9",
    }
    return subprocess.run(
        [sys.executable, "-S", "-m", "wfc", "run-step", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _serving(path: Path, replies: list[Any]) -> tuple[threading.Thread, list[Any]]:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()
    requests: list[Any] = []

    def serve() -> None:
        with server:
            for reply in replies:
                conn, _ = server.accept()
                with conn, conn.makefile("rb") as f:
                    requests.append(json.loads(f.readline()))
                    if reply is not None:
                        conn.sendall(json.dumps(reply).encode())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread, requests


def test_a_job_sends_its_command_line_and_prints_the_answer(tmp_path: Path) -> None:
    reply = {"stdout": "out\tblake3:ab\t3\tout.txt\n", "stderr": "clean[s1]: completed\n", "exit_code": 0}
    thread, requests = _serving(tmp_path / "s", [reply])
    proc = _job(["p.json", "--node", "clean", "--json"], tmp_path / "s", tmp_path)
    thread.join(10)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, reply["stdout"], reply["stderr"])
    assert requests == [
        {
            "argv": ["p.json", "--node", "clean", "--json"],
            "cwd": str(tmp_path),
            "env": {"WFC_PIPELINE_RUN": "p-9"},
        }
    ]


def test_a_job_exits_with_the_answers_code(tmp_path: Path) -> None:
    thread, _ = _serving(tmp_path / "s", [{"stdout": "", "stderr": "error: step failed\n", "exit_code": 1}])
    proc = _job(["p.json", "--node", "clean"], tmp_path / "s", tmp_path)
    thread.join(10)
    assert (proc.returncode, proc.stderr) == (1, "error: step failed\n")


def test_a_worker_that_closes_without_answering_is_an_interruption(tmp_path: Path) -> None:
    thread, _ = _serving(tmp_path / "s", [None])
    proc = _job(["p.json", "--node", "clean"], tmp_path / "s", tmp_path)
    thread.join(10)
    assert proc.returncode == 130
    assert proc.stderr == "error: the run-pipeline worker closed the connection (was the pipeline stopped?)\n"


def test_help_is_never_forwarded(tmp_path: Path) -> None:
    _thread, requests = _serving(tmp_path / "s", [None])
    proc = _job(["--help"], tmp_path / "s", tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith("Usage: wfc run-step")
    assert requests == []
