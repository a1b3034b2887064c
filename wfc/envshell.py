"""``wfc env shell``: open by hand the container ``run-step`` would run a method in (debugging).

The container is the one ``run-step`` starts: the environment's built image, the same user,
mounts (the method directory read-only as the working directory, staged inputs read-only, a
writable run directory, ``wfc_client``), ``WFC_*`` variables and labels. The step is resolved by
``wfc.step.resolve`` and its container described by ``wfc.step.execute``, exactly as for
``run-step``; only the command differs (a shell, or the one given) and nothing is recorded: no
run, no cache entry. The docker CLI runs it (``wfc.runtime.docker.run_argv``), because a real
terminal (raw mode, resizing, Ctrl-C to the container) is what the CLI does and the SDK does not.

What to open:

- ``ENV`` alone: the bare environment, no method (no inputs, params ``{}``), in the run directory;
- ``--method M [--sample S]``: method ``M``, its one input slot fed by sample ``S``;
- ``--pipeline P --node N [--sample S] [--variant V]``: that step of the document, inputs staged.

Each shell works in ``.wfc/shells/<id>/``: ``inputs/`` is removed when it exits, ``out/`` (the
run directory, ``WFC_RUN_DIR``) is kept for the user to read.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from wfc.cache.key import StepIdentity
from wfc.compile.expand import sample_ref
from wfc.compile.variables import resolve_variables
from wfc.environments.build import read_lock
from wfc.errors import ExitCode, UsageError
from wfc.lineage import open_lineage
from wfc.methods import Method, load_method
from wfc.model.method import MethodSpec
from wfc.model.pipeline import MethodNode, Pipeline, load_pipeline
from wfc.project import Project
from wfc.runtime.base import ExecSpec
from wfc.runtime.docker import DockerRuntime, docker_client, require_image, run_argv
from wfc.step.execute import Execution, container_user, exec_spec, stage_inputs
from wfc.step.resolve import ResolvedStep, Resolver
from wfc_client import contract

SHELLS_DIR = "shells"
SHELL_LABEL = "wfc.shell"
# bash when the image has it, else sh; --norc keeps the prompt below (Debian's bashrc sets its own)
DEFAULT_COMMAND = ("sh", "-c", "if command -v bash >/dev/null 2>&1; then exec bash --norc; fi; exec sh")


@dataclass(frozen=True)
class ShellRequest:
    """What to open: an environment, optionally a method or a pipeline step in it."""

    env: str
    method: str | None = None
    pipeline: Path | None = None
    node: str | None = None
    sample: str | None = None
    variant: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    command: tuple[str, ...] = ()  # empty: an interactive shell


@dataclass(frozen=True)
class Shell:
    """A prepared container: its description and the host directories behind its mounts."""

    spec: ExecSpec
    workspace: Path  # .wfc/shells/<id>
    out_dir: Path  # mounted writable as WFC_RUN_DIR; kept afterwards
    step: str | None  # the step's name, when a method was resolved
    docker: str  # the docker CLI that runs it


def prepare_shell(project: Project, request: ShellRequest) -> Shell:
    """Resolve what to open, check its image, stage its inputs and describe its container.

    Raises:
        UsageError: Inconsistent options, an unknown environment, method, node or sample, an
            environment that is not built, upstream steps that have not run, or no docker CLI.
        InfraError: Docker is not reachable.
    """
    _check_options(request)
    lock = read_lock(project, request.env)
    step = _resolve(project, request)
    if step is not None and step.env_name != request.env:
        raise UsageError(
            f"{step.name} runs in environment '{step.env_name}', not '{request.env}'",
            f"open it with `wfc env shell {step.env_name} …`",
        )
    image = step.env_digest if step is not None else lock.image_id
    docker = shutil.which("docker")
    if docker is None:
        raise UsageError(
            "the docker command-line client is not on PATH",
            "install the Docker CLI: `wfc env shell` runs `docker run` for a real terminal",
        )
    require_image(docker_client(), request.env, image)
    shell_id = f"shell-{secrets.token_hex(4)}"
    workspace = project.state_dir / SHELLS_DIR / shell_id
    out_dir = workspace / "out"
    out_dir.mkdir(parents=True)
    user = container_user(project)
    if os.geteuid() == 0:
        uid, gid = (int(x) for x in user.split(":"))
        os.chown(out_dir, uid, gid)
    bare = step is None
    if step is None:
        (workspace / "method").mkdir()
        step = _bare_step(request.env, image, workspace / "method")
    ex = Execution(
        project, project.object_store(), step, shell_id, shell_id, workspace, DockerRuntime(), None
    )
    logs = (workspace / "stdout.log", workspace / "stderr.log")  # unused: the output goes to the terminal
    try:
        spec = exec_spec(ex, out_dir, *logs, stage_inputs(ex), user)
    except BaseException:
        shutil.rmtree(workspace, ignore_errors=True)
        raise
    env = dict(spec.env) if request.command else {**spec.env, "PS1": f"(wfc {request.env}) \\w \\$ "}
    spec = replace(
        spec,
        argv=list(request.command or DEFAULT_COMMAND),
        env=env,
        labels={**spec.labels, SHELL_LABEL: shell_id},
        workdir=contract.MOUNT_RUN if bare else spec.workdir,
        timeout=None,
    )
    return Shell(spec, workspace, out_dir, None if bare else step.name, docker)


def open_shell(shell: Shell, *, tty: bool, echo: Callable[[str], None] | None = None) -> int:
    """Run the container with the docker CLI, attached to this process's stdin, stdout and stderr
    (and terminal, with ``tty``); remove its staged inputs afterwards. Returns its exit code."""
    argv = [shell.docker, *run_argv(shell.spec, tty=tty)[1:]]
    if echo is not None:
        echo("$ " + shlex.join(argv))
    try:
        proc = subprocess.Popen(argv)
        try:
            return proc.wait()
        except KeyboardInterrupt:  # the docker CLI forwards the signal to the container
            proc.wait()
            return int(ExitCode.INTERRUPTED)
    finally:
        shutil.rmtree(shell.workspace / "inputs", ignore_errors=True)
        shutil.rmtree(shell.workspace / "method", ignore_errors=True)


def _check_options(request: ShellRequest) -> None:
    if request.node is not None and request.pipeline is None:
        raise UsageError("--node needs --pipeline", "open a step: --pipeline PIPELINE --node NODE")
    if request.pipeline is not None and request.node is None:
        raise UsageError("--pipeline needs --node", "open a step: --pipeline PIPELINE --node NODE")
    if request.pipeline is not None and request.method is not None:
        raise UsageError(
            "give either --method or --pipeline/--node, not both",
            "--method M opens a method alone; --pipeline P --node N a step of a pipeline",
        )
    if request.variant is not None and request.pipeline is None:
        raise UsageError("--variant needs --pipeline and --node", "variants are declared by pipeline nodes")
    if request.sample is not None and request.pipeline is None and request.method is None:
        raise UsageError(
            "--sample needs --method or --pipeline/--node",
            f"e.g. `wfc env shell {request.env} --method MODULE/NAME --sample {request.sample}`",
        )


def _resolve(project: Project, request: ShellRequest) -> ResolvedStep | None:
    """The step, resolved exactly as ``run-step`` resolves it (None: the bare environment)."""
    if request.pipeline is not None:
        pipeline, _ = load_pipeline(request.pipeline)
        document, node, sample = str(request.pipeline), request.node, request.sample
    elif request.method is not None:
        pipeline, node = _method_pipeline(project, request.method, request.sample)
        document, sample = f"--method {request.method}", None
        if request.sample is not None:
            sample = sample_ref(request.sample)[0]
    else:
        return None
    assert node is not None  # checked
    lineage = open_lineage(project.database_url)
    try:
        values = resolve_variables(pipeline, os.environ, request.variables)
        resolver = Resolver(project, pipeline, lineage, document, values)
        return resolver.resolve(node, sample, request.variant)
    finally:
        lineage.close()


def _method_pipeline(project: Project, ref: str, sample: str | None) -> tuple[Pipeline, str]:
    """A one-step pipeline around a method: ``sample`` feeds its one input slot."""
    method = load_method(project, ref)
    node = re.sub(r"[^\w-]", "_", method.name)
    slots = list(method.spec.inputs)
    required = [s for s, slot in method.spec.inputs.items() if slot.required]
    if sample is None and required:
        raise UsageError(
            f"method '{ref}' reads input '{required[0]}': say which sample feeds it with --sample",
            "register one with `wfc sample add NAME PATH`, or open a step with --pipeline P --node N",
        )
    if sample is not None and len(slots) != 1:
        raise UsageError(
            f"--sample feeds a method's only input slot, but '{ref}' has {len(slots)}"
            + (f": {', '.join(slots)}" if slots else ""),
            "open a step of a pipeline instead: --pipeline PIPELINE --node NODE --sample SAMPLE",
        )
    source = "input" if node != "input" else "samples"
    doc: dict[str, object] = {"version": 1, "name": "env-shell", "nodes": [{"id": node, "method": ref}]}
    if sample is not None:
        doc["nodes"] = [{"id": source, "samples": [sample]}, {"id": node, "method": ref}]
        doc["links"] = [{"from": source, "to": f"{node}.{slots[0]}"}]
    return Pipeline.model_validate(doc), node


def _bare_step(env: str, image: str, directory: Path) -> ResolvedStep:
    """A step of no method (no inputs, params or outputs): what ``wfc env shell ENV`` opens, so
    that its container is described by the same function as every step's."""
    spec = MethodSpec(env=env, command=["true"])
    method = Method("", "", directory, spec, "", "", (b"", b""))
    identity = StepIdentity(
        module="", method="", code="", contract="", params={}, env_digest=image, inputs={}
    )
    node = MethodNode(id="shell", method="wfc/shell")
    return ResolvedStep(node, method, {}, env, image, None, None, None, [], identity, "")
