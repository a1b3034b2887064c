"""``wfc env shell``: the container run-step would run a method in, opened by hand, for real."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Proj, add_examples, project_containers
from wfc.runtime.base import ExecSpec, Mount
from wfc.runtime.docker import run_argv

DOC = "examples/pipelines/quickstart.json"
OPEN_CLEAN = ("env", "shell", "python", "--method", "tables/clean", "--sample", "north")
# what the container sees, one fact per line
PROBE = (
    'echo "user=$(id -u):$(id -g)"; echo "pwd=$(pwd)"; echo "run=$WFC_RUN_DIR"; '
    'echo "inputs=$WFC_INPUT_PATHS"; echo "params=$WFC_PARAMS"; echo "outputs=$WFC_OUTPUTS"; '
    'echo "sample=$WFC_SAMPLE"; echo "node=$WFC_NODE_ID"; '
    "ls /wfc/inputs/table/0; head -n 1 /wfc/inputs/table/0/north.csv; "
    "touch /wfc/inputs/x 2>/dev/null && echo inputs-writable || echo inputs-read-only; "
    'echo made > "$WFC_RUN_DIR/made.txt"; exit 7'
)


@pytest.fixture
def examples(project: Proj, built_envs: Path) -> Proj:
    shutil.copytree(built_envs, project.root / "environments", dirs_exist_ok=True)
    return add_examples(project)


def _facts(stdout: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in stdout.splitlines() if re.match(r"^\w+=", line))


def _err(proc: subprocess.CompletedProcess[str]) -> tuple[int, str, str]:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2, proc.stderr
    return proc.returncode, lines[0], lines[1]


def test_a_pipeline_step_opens_with_its_inputs_and_variables(examples: Proj) -> None:
    proc = examples.wfc(
        "env", "shell", "python", "--pipeline", DOC, "--node", "clean", "--sample", "north", "--verbose",
        "--", "sh", "-c", PROBE,
    )  # fmt: skip
    assert proc.returncode == 7, proc.stderr  # the command's exit code
    facts = _facts(proc.stdout)
    uid = "1000:1000" if os.geteuid() == 0 else f"{os.getuid()}:{os.getgid()}"
    assert facts["user"] == uid
    assert facts["pwd"] == "/wfc/method"
    assert facts["run"] == "/wfc/run"
    assert json.loads(facts["inputs"]) == {"table": ["/wfc/inputs/table/0/north.csv"]}
    assert json.loads(facts["params"]) == {"delimiter": ",", "drop_incomplete": True}
    assert json.loads(facts["outputs"]) == {"table": "clean.csv"}
    assert (facts["sample"], facts["node"]) == ("north", "clean")
    lines = proc.stdout.splitlines()
    assert "north.csv" in lines and "inputs-read-only" in lines
    assert (examples.root / "examples/data/north.csv").read_text().splitlines()[0] in lines
    # stderr: where the run directory is, the exact docker command, how it ended
    first, command, last = proc.stderr.splitlines()
    shell_id = first.split("/shells/")[1].split("/")[0]
    out = examples.root / ".wfc" / "shells" / shell_id / "out"
    assert (
        first
        == f"clean[north]: WFC_RUN_DIR is .wfc/shells/{shell_id}/out (kept); staged inputs go when it exits"
    )
    assert command.startswith(f"$ {shutil.which('docker')} run --rm --interactive --name wfc-{shell_id} ")
    for label in (f"wfc.project={examples.root}", f"wfc.shell={shell_id}", "wfc.node=clean"):
        assert f" --label {label} " in command
    assert last == f"clean[north]: the container exited with 7; its outputs are in .wfc/shells/{shell_id}/out"
    assert (out / "made.txt").read_text() == "made\n"
    assert not (out.parent / "inputs").exists()  # staged inputs are removed, the outputs kept
    assert project_containers(examples) == []  # --rm
    assert examples.rows("SELECT count(*) FROM runs") == [(0,)]  # nothing is recorded


def test_a_method_opens_with_a_sample_on_its_input_and_runs_its_code(examples: Proj) -> None:
    proc = examples.wfc(
        "env", "shell", "python", "--method", "tables/clean", "--sample", "north", "--", "python3", "main.py"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "sample north: kept 4 rows, dropped 1\n"
    (first,) = proc.stderr.splitlines()  # a command that succeeded: one line, before
    shell_id = first.split("/shells/")[1].split("/")[0]
    clean = examples.root / ".wfc" / "shells" / shell_id / "out" / "clean.csv"
    assert clean.read_text().splitlines()[0] == "date,region,product,units,price,revenue"


# `wfc env shell python --method tables/clean --sample north`, run as a user would, with stdin
CLEAN_NORTH_SHELL = [sys.executable, "-m", "wfc", "env", "shell", "python"]
CLEAN_NORTH_SHELL += ["--method", "tables/clean", "--sample", "north"]


def test_without_a_terminal_the_shell_reads_stdin(examples: Proj) -> None:
    proc = subprocess.run(
        CLEAN_NORTH_SHELL,
        cwd=examples.root,
        env=examples.env(),
        input='echo "shell=$0 sample=$WFC_SAMPLE"\nexit 3\n',
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (proc.returncode, proc.stdout) == (3, "shell=bash sample=north\n")


def test_the_bare_environment_opens_in_the_run_directory(examples: Proj) -> None:
    proc = examples.wfc("env", "shell", "shell", "--", "sh", "-c", PROBE.replace("exit 7", "true"))
    assert proc.returncode == 0, proc.stderr
    facts = _facts(proc.stdout)
    assert facts["pwd"] == "/wfc/run"
    assert (facts["inputs"], facts["params"], facts["outputs"]) == ("{}", "{}", "{}")
    assert facts["node"] == "shell" and facts["sample"] == ""
    assert proc.stderr.startswith("environment 'shell': WFC_RUN_DIR is .wfc/shells/")


def test_a_terminal_gets_an_interactive_shell(examples: Proj) -> None:
    """A real pseudo-terminal on stdin and stdout: docker run --tty, bash with wfc's prompt."""
    main, child = pty.openpty()
    proc = subprocess.Popen(
        CLEAN_NORTH_SHELL,
        cwd=examples.root,
        env=examples.env(),
        stdin=child,
        stdout=child,
        stderr=subprocess.DEVNULL,
    )
    os.close(child)
    seen = b""
    typed = False
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.5)
        if ready:
            try:
                seen += os.read(main, 4096)
            except OSError:
                break
        if not typed and b"(wfc python) /wfc/method $ " in seen:
            os.write(main, b'echo "tty=$(tty) sample=$WFC_SAMPLE"; exit 4\n')
            typed = True
    proc.wait(timeout=30)
    os.close(main)
    assert proc.returncode == 4, seen.decode(errors="replace")
    assert b"tty=/dev/pts/0 sample=north" in seen


def test_upstream_steps_must_have_run_as_for_run_step(examples: Proj) -> None:
    code, error, hint = _err(examples.wfc("env", "shell", "python", "--pipeline", DOC, "--node", "summarise"))
    assert code == 2
    assert (
        error == "error: upstream steps of 'summarise' have not run: clean[east], clean[north], clean[south]"
    )
    assert hint == f"hint: run them first, e.g. `wfc run-step {DOC} --node clean --sample east`"
    examples.wfc("run-pipeline", DOC, "--cores", "2", check=True, timeout=600)
    proc = examples.wfc(
        "env",
        "shell",
        "python",
        "--pipeline",
        DOC,
        "--node",
        "summarise",
        "--",
        "sh",
        "-c",
        "ls /wfc/inputs/table",
    )
    assert (proc.returncode, proc.stdout) == (0, "0\n1\n2\n")  # the three cleaned tables, gathered


@pytest.mark.parametrize(
    ("argv", "error", "hint"),
    [
        (["--node", "clean"], "--node needs --pipeline", "open a step: --pipeline PIPELINE --node NODE"),
        (["--pipeline", DOC], "--pipeline needs --node", "open a step: --pipeline PIPELINE --node NODE"),
        (["--method", "tables/clean", "--pipeline", DOC, "--node", "clean"],
         "give either --method or --pipeline/--node, not both",
         "--method M opens a method alone; --pipeline P --node N a step of a pipeline"),
        (["--sample", "north"], "--sample needs --method or --pipeline/--node",
         "e.g. `wfc env shell python --method MODULE/NAME --sample north`"),
        (["--variant", "v"], "--variant needs --pipeline and --node",
         "variants are declared by pipeline nodes"),
    ],
)  # fmt: skip
def test_inconsistent_options_are_one_error_and_a_hint(
    project: Proj, argv: list[str], error: str, hint: str
) -> None:
    proc = project.wfc("env", "shell", "python", *argv, "--", "true")
    assert _err(proc) == (2, f"error: {error}", f"hint: {hint}")


@pytest.mark.parametrize(
    ("argv", "error", "hint"),
    [
        (["--method", "tables/clean"],
         "method 'tables/clean' reads input 'table': say which sample feeds it with --sample",
         "register one with `wfc sample add NAME PATH`, or open a step with --pipeline P --node N"),
        (["--method", "text/report", "--sample", "north"],
         "report[north] runs in environment 'shell', not 'python'", "open it with `wfc env shell shell …`"),
        (["--pipeline", DOC, "--node", "clean", "--sample", "west"],
         "node 'clean' has no sample 'west' (did you mean 'east'?)", "samples: east, north, south"),
    ],
)  # fmt: skip
def test_wrong_steps_are_one_error_and_a_hint(examples: Proj, argv: list[str], error: str, hint: str) -> None:
    proc = examples.wfc("env", "shell", "python", *argv, "--", "true")
    assert _err(proc) == (2, f"error: {error}", f"hint: {hint}")
    assert not (examples.root / ".wfc" / "shells").exists()


def test_a_method_with_several_inputs_needs_a_pipeline(examples: Proj) -> None:
    method = examples.root / "methods" / "t" / "two"
    method.mkdir(parents=True)
    (method / "method.yaml").write_text('env: python\ncommand: ["true"]\ninputs: {a: {}, b: {}}\n')
    assert _err(examples.wfc("env", "shell", "python", "--method", "t/two", "--sample", "north")) == (
        2,
        "error: --sample feeds a method's only input slot, but 't/two' has 2: a, b",
        "hint: open a step of a pipeline instead: --pipeline PIPELINE --node NODE --sample SAMPLE",
    )


def test_the_docker_cli_is_needed(examples: Proj, tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    proc = examples.wfc(*OPEN_CLEAN, env={"PATH": str(tmp_path / "bin")})
    assert _err(proc) == (
        2,
        "error: the docker command-line client is not on PATH",
        "hint: install the Docker CLI: `wfc env shell` runs `docker run` for a real terminal",
    )


def test_an_unbuilt_environment_is_refused(project: Proj) -> None:
    env = project.root / "environments" / "r"
    env.mkdir(parents=True)
    (env / "Dockerfile").write_text("FROM scratch\n")
    assert _err(project.wfc("env", "shell", "r")) == (
        2,
        "error: environment 'r' is not built",
        "hint: run `wfc env build r`",
    )


def test_run_argv_spells_the_container_the_sdk_creates(tmp_path: Path) -> None:
    spec = ExecSpec(
        name="wfc-x",
        image="sha256:" + "ab" * 32,
        argv=["python3", "main.py"],
        workdir="/wfc/method",
        env={"WFC_PARAMS": '{"a": 1}'},
        mounts=[Mount(tmp_path / "m", "/wfc/method"), Mount(tmp_path / "o", "/wfc/run", read_only=False)],
        stdout_path=tmp_path / "out.log",
        stderr_path=tmp_path / "err.log",
        labels={"wfc.project": "/p"},
        user="1000:1000",
        cpus=1.5,
        memory="256m",
    )
    assert run_argv(spec, tty=True) == [
        "docker", "run", "--rm", "--interactive", "--tty", "--name", "wfc-x", "--user", "1000:1000",
        "--workdir", "/wfc/method", "--network", "none", "--label", "wfc.project=/p",
        "--env", 'WFC_PARAMS={"a": 1}', "--volume", f"{tmp_path}/m:/wfc/method:ro",
        "--volume", f"{tmp_path}/o:/wfc/run:rw", "--cpus", "1.5", "--memory", "256m", "--memory-swap", "256m",
        "--cap-drop=ALL", "--security-opt=no-new-privileges", "--pids-limit=512", "--read-only",
        "--tmpfs=/tmp:rw,nosuid,nodev,size=1g,mode=1777",
        "sha256:" + "ab" * 32, "python3", "main.py",
    ]  # fmt: skip
