"""The runtime contract: the same lifecycle cases over every runtime (Docker, process, fake).

Each case drives ``run_step`` in this process with the runtime under test, through a wrapper that
counts executions, on the ``contract`` fixture pipeline (one node per case). What a case checks is
what the lifecycle and a user can observe: statuses and errors in the lineage database, objects in
the store, log files, and whether anything of the run is still running afterwards.

The fake runtime calls Python twins of the fixture methods (``tests/fixtures/fake_methods.py``) in
a worker thread: where a case is about processes (the method is gone after a timeout or a cancel),
the fake's equivalent is that its worker thread is gone and its ``sleep`` was interrupted.
"""

from __future__ import annotations

import gc
import json
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, Proj
from tests.fixtures.fake_methods import METHODS
from wfc.project import Project
from wfc.runtime.base import ExecResult, ExecSpec, Mount, Runtime
from wfc.runtime.docker import DockerRuntime
from wfc.runtime.fake import Call, FakeRuntime
from wfc.runtime.process import ProcessRuntime
from wfc.step.lifecycle import run_step
from wfc.step.outcome import StepOutcome
from wfc_client import contract

# DockerRuntime closes its attach stream but not the HTTP response under it, whose socket (to the
# engine, AF_UNIX) then warns when collected: tolerated in Docker cases until the runtime closes it.
DOCKER = [pytest.mark.docker]
RUNTIMES = [pytest.param("docker", marks=DOCKER), "process", "fake"]


class Counting:
    """A runtime that records every spec it is asked to run and hands it to the real one."""

    def __init__(self, inner: Runtime) -> None:
        self.inner = inner
        self.isolated = inner.isolated
        self.specs: list[ExecSpec] = []

    def run(self, spec: ExecSpec) -> ExecResult:
        self.specs.append(spec)
        return self.inner.run(spec)

    def close(self) -> None:
        self.inner.close()


@dataclass
class Harness:
    """A project with the contract pipeline, and the runtime under test."""

    kind: str
    proj: Proj
    runtime: Counting
    project: Project = field(init=False)

    def __post_init__(self) -> None:
        self.project = Project.load(self.proj.root)

    def run(self, node: str) -> StepOutcome:
        return run_step(self.project, self.proj.root / "contract.json", node, "s1", runtime=self.runtime)

    def text(self, digest: str) -> str:
        """A file object of the store, as text."""
        return self.project.object_store().path(digest).read_text()

    def log(self, outcome: StepOutcome, stream: str) -> str:
        assert outcome.log_dir is not None
        return (self.proj.root / outcome.log_dir / f"{stream}.log").read_text()

    def live(self, run_id: str, pids: list[int]) -> list[str]:
        """What of a run is still running: its containers (by the run label), its processes, or
        (the fake) threads named like its execution."""
        if self.kind == "docker":
            argv = ["docker", "ps", "-aq", "--filter", f"label=wfc.run={run_id}"]
            return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()
        if self.kind == "fake":
            names = {spec.name for spec in self.runtime.specs if spec.labels["wfc.run"] == run_id}
            return [thread.name for thread in threading.enumerate() if thread.name in names]
        return [str(pid) for pid in pids if _alive(pid)]

    def set_timeout(self, method: str, seconds: float) -> None:
        spec = self.proj.root / "methods" / method / "method.yaml"
        spec.write_text(spec.read_text().replace("timeout: 60", f"timeout: {seconds:g}"))


@pytest.fixture(params=RUNTIMES)
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    kind: str = request.param
    inner: Runtime = DockerRuntime() if kind == "docker" else ProcessRuntime()
    if kind == "fake":
        inner = FakeRuntime(METHODS)
    # Docker runs the environments' real images; the others need only an environment lock
    proj: Proj = request.getfixturevalue("probe_project" if kind == "docker" else "fake_env")
    proj.add_method("t/tree", FIXTURES / "methods" / "t" / "tree")
    for name in ("sleeper", "listing"):
        proj.add_method(f"contract/{name}", FIXTURES / "methods" / "contract" / name)
    shutil.copy(FIXTURES / "pipelines" / "contract.json", proj.root / "contract.json")
    yield Harness(kind, proj, Counting(inner))
    inner.close()
    gc.collect()  # a socket or pipe the runtime left open warns (an error) here, not in a later test


def test_miss_executes_archives_and_records_completed(harness: Harness) -> None:
    done = harness.run("ok")
    assert (done.status, done.exit_code) == ("completed", 0)
    assert done.reason == "never ran: no earlier run of node 'ok'"
    assert len(harness.runtime.specs) == 1
    digest = done.outputs["out"]["hash"]
    assert harness.text(digest) == "alpha\nk=1 sample=s1\n"  # the method's output, from the store
    rows = harness.proj.rows(
        "SELECT slot, path, content_hash, kind FROM run_outputs WHERE run_id=?", done.run_id
    )
    assert rows == [("out", "out.txt", digest, "file")]
    status, stdout_object = harness.proj.rows("SELECT status, stdout_object FROM runs")[0]
    assert status == "completed"
    stdout = harness.log(done, "stdout")
    assert stdout.startswith("TOKEN=") and harness.text(stdout_object) == stdout


def test_hit_is_cached_without_executing(harness: Harness) -> None:
    first = harness.run("ok")
    runs = sorted((harness.proj.root / ".wfc" / "runs").iterdir())
    second = harness.run("ok")
    assert (second.status, second.cache_source) == ("cached", first.run_id)
    assert second.outputs == first.outputs
    assert len(harness.runtime.specs) == 1  # the runtime was not asked again
    assert sorted((harness.proj.root / ".wfc" / "runs").iterdir()) == runs
    rows = harness.proj.rows("SELECT status, cache_source_id FROM runs ORDER BY id")
    assert rows == [("completed", None), ("cached", first.run_id)]


def test_nonzero_exit_fails_with_code_and_last_stderr_line(harness: Harness) -> None:
    failed = harness.run("fails")
    assert (failed.status, failed.error, failed.exit_code) == ("failed", "ValueError: the input is bad", 3)
    status, error, code, tail = harness.proj.rows("SELECT status, error, exit_code, error_tail FROM runs")[0]
    assert (status, error, code) == ("failed", "ValueError: the input is bad", 3)
    assert tail.startswith("Traceback (most recent call last):")
    stdout, stderr = harness.log(failed, "stdout"), harness.log(failed, "stderr")
    assert "some progress" in stdout and "Traceback" not in stdout  # two streams, two logs
    assert "Traceback" in stderr and "some progress" not in stderr


def test_missing_required_output_fails_naming_the_slot(harness: Harness) -> None:
    failed = harness.run("missing")
    message = "required output 'out' (out.txt) is missing; the run directory has: other.txt"
    assert (failed.status, failed.error, failed.exit_code) == ("failed", message, 0)
    assert harness.proj.rows("SELECT status, error FROM runs") == [("failed", message)]
    assert harness.proj.rows("SELECT count(*) FROM run_outputs") == [(0,)]


def test_method_sees_only_the_contract_environment(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WFC_HOST_SECRET", "not for methods")
    done = harness.run("whoami")
    assert done.status == "completed", done.error
    env = json.loads(harness.text(done.outputs["out"]["hash"]))["env"]
    assert sorted(env) == sorted(contract.ALL_VARIABLES)
    assert (env["WFC_RUN_ID"], env["WFC_NODE_ID"], env["WFC_SAMPLE"]) == (done.run_id, "whoami", "s1")
    assert json.loads(env["WFC_PARAMS"])["mode"] == "whoami"


def test_timeout_fails_naming_it_and_stops_the_method(harness: Harness) -> None:
    harness.set_timeout("contract/sleeper", 1)
    started = time.monotonic()
    failed = harness.run("sleeps")
    assert time.monotonic() - started < 20  # the method sleeps 300 s: the timeout stopped it
    assert (failed.status, failed.error) == ("failed", "timed out after 1 s (resources.timeout)")
    assert harness.proj.rows("SELECT status, error FROM runs") == [("failed", failed.error)]
    stdout = harness.log(failed, "stdout")
    assert harness.live(failed.run_id, _pids(stdout)) == []
    if harness.kind == "fake":  # no process to kill: the method's sleep was cut short
        assert stdout == "STARTED\nSTOPPED\n"


def test_interrupt_cancels_the_run_and_leaves_nothing_running(harness: Harness) -> None:
    runs = harness.proj.root / ".wfc" / "runs"
    running: list[str] = []  # what of the run was running when the interrupt came, and when
    interrupted_at: list[float] = []

    def interrupt_once_started() -> None:
        deadline = time.monotonic() + 30  # well before the method's 60 s timeout
        while time.monotonic() < deadline:
            for log in runs.glob("*/stdout.log"):
                if log.read_text().startswith("STARTED"):
                    running.extend(harness.live(log.parent.name, _pids(log.read_text())))
                    interrupted_at.append(time.monotonic())
                    signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
                    return
            time.sleep(0.05)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    interrupter = threading.Thread(target=interrupt_once_started)
    interrupter.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            harness.run("sleeps")
        stopped = time.monotonic() - interrupted_at[0]
    finally:
        interrupter.join()
        signal.signal(signal.SIGINT, previous)

    (run_dir,) = runs.iterdir()
    assert running, "nothing was running when the step was interrupted"
    assert stopped < 10  # the interrupt stopped the method; it did not wait for it (300 s)
    stdout = (run_dir / "stdout.log").read_text()
    assert harness.live(run_dir.name, _pids(stdout)) == []
    if harness.kind == "fake":
        assert stdout == "STARTED\nSTOPPED\n"
    assert harness.proj.rows("SELECT id, status, error FROM runs") == [
        (run_dir.name, "cancelled", "cancelled by user")
    ]
    assert harness.proj.rows("SELECT status FROM pipeline_runs") == [("cancelled",)]


def test_directory_output_is_archived_as_a_tree_and_read_downstream(harness: Harness) -> None:
    made = harness.run("tree")
    assert made.status == "completed", made.error
    assert (made.outputs["tree"]["kind"], made.outputs["tree"]["path"]) == ("dir", "tree")
    tree = harness.project.object_store().read_tree(made.outputs["tree"]["hash"])
    assert [(path, mode) for path, mode, _size, _digest in tree] == [
        ("a.txt", "f"),
        ("empty", "d"),
        ("run.sh", "x"),
        ("sub/b.txt", "f"),
    ]

    used = harness.run("listing")
    assert used.status == "completed", used.error
    assert json.loads(harness.text(used.outputs["listing"]["hash"])) == [
        ["a.txt", "f", "A:alpha\n"],
        ["empty", "d", None],
        ["run.sh", "x", "#!/bin/sh\necho hi\n"],
        ["sub", "d", None],
        ["sub/b.txt", "f", "B\n"],
    ]
    source = harness.proj.rows("SELECT source_run_id, kind FROM run_inputs WHERE run_id=?", used.run_id)
    assert source == [(made.run_id, "dir")]


def _pids(stdout: str) -> list[int]:
    """The process ids the sleeper method reports on its first line (none: the fake's twin)."""
    return [int(word) for word in stdout.partition("\n")[0].split()[1:3]]


def _alive(pid: int) -> bool:
    """Whether a host process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_fake_method_that_raises_exits_1_with_its_traceback_on_stderr(tmp_path: Path) -> None:
    def crash(call: Call) -> int:
        raise ValueError("the input is bad")

    spec = ExecSpec(
        name="wfc-crash",
        image="",
        argv=["python3", "main.py"],  # never run
        workdir=contract.MOUNT_METHOD,
        env={contract.RUN_DIR: contract.MOUNT_RUN, contract.INPUT_PATHS: "{}", contract.PARAMS: "{}"},
        mounts=[Mount(tmp_path / "t" / "crash", contract.MOUNT_METHOD), Mount(tmp_path, contract.MOUNT_RUN)],
        stdout_path=tmp_path / "stdout.log",
        stderr_path=tmp_path / "stderr.log",
    )
    assert FakeRuntime({"t/crash": crash}).run(spec) == ExecResult(exit_code=1)
    stderr = (tmp_path / "stderr.log").read_text()
    assert stderr.startswith("Traceback (most recent call last):")
    assert stderr.splitlines()[-1] == "ValueError: the input is bad"
    with pytest.raises(LookupError) as unknown:
        FakeRuntime({"t/probe": crash}).run(spec)
    assert str(unknown.value) == "no fake method for 't/crash'; registered: t/probe"
