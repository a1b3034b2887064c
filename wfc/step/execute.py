"""Executing a method once (with its retries): stage inputs, run the container, judge the result.

Staging links verified store objects into ``.wfc/runs/<run>/inputs`` (mounted read-only); the
method writes only to ``.wfc/runs/<run>/out`` (``WFC_RUN_DIR``). Logs go to ``stdout.log`` and
``stderr.log`` beside them and are archived into the store whatever the outcome.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import wfc_client
from wfc.cache.hashing import hash_file
from wfc.errors import StepFailed
from wfc.project import Project
from wfc.runtime.base import ExecResult, ExecSpec, Mount, OutputSink, Runtime, container_name
from wfc.step.collect import collect, read_results
from wfc.step.resolve import ResolvedStep
from wfc.store.local import ObjectStore
from wfc_client import contract

TAIL_LINES = 40


@dataclass(frozen=True)
class Execution:
    """What one execution needs."""

    project: Project
    store: ObjectStore
    step: ResolvedStep
    run_id: str
    pipeline_run_id: str
    run_dir: Path
    runtime: Runtime
    output: OutputSink | None  # receives the method's output as it comes


@dataclass(frozen=True)
class ExecOutput:
    """How an execution ended: outputs and metrics on success, an error message on failure."""

    out_dir: Path
    outputs: dict[str, str]
    metrics: dict[str, Any]
    error: str | None
    exit_code: int | None
    stderr_tail: str | None
    logs: tuple[str | None, str | None]
    phases: dict[str, float]  # seconds spent staging inputs ("restore") and in the container ("run")
    resources: dict[str, Any] | None = None  # what the last attempt used (``Resources.as_record``)


def execute(ex: Execution) -> ExecOutput:
    """Stage inputs, run the method (retrying up to ``retries`` times) and collect its outputs.

    Raises:
        StepFailed: An input object is missing or corrupt in the store.
    """
    spec = ex.step.method.spec
    out_dir, stdout, stderr = ex.run_dir / "out", ex.run_dir / "stdout.log", ex.run_dir / "stderr.log"
    started = time.monotonic()
    input_paths = stage_inputs(ex)
    staged = time.monotonic()
    uid_gid = container_user(ex.project)
    attempts = spec.retries + 1
    error: str | None = None
    result = ExecResult(exit_code=-1)
    outputs: dict[str, str] = {}
    metrics: dict[str, Any] = {}
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            for log in (stdout, stderr):
                with log.open("a", encoding="utf-8") as f:
                    f.write(f"\n=== wfc: attempt {attempt} of {attempts} ===\n")
        shutil.rmtree(out_dir, ignore_errors=True)
        out_dir.mkdir(parents=True)
        if os.geteuid() == 0:
            uid, gid = (int(x) for x in uid_gid.split(":"))
            os.chown(out_dir, uid, gid)
        result = ex.runtime.run(exec_spec(ex, out_dir, stdout, stderr, input_paths, uid_gid))
        error, outputs, metrics = _judge(ex, result, out_dir, stderr)
        if error is None:
            break
    phases = {"restore": staged - started, "run": time.monotonic() - staged}
    logs = (ex.store.put_file(stdout)[0], ex.store.put_file(stderr)[0])
    tail = _tail(stderr) if error else None
    used = result.resources.as_record() if result.resources is not None else None
    return ExecOutput(out_dir, outputs, metrics, error, result.exit_code, tail, logs, phases, used)


def _judge(
    ex: Execution, result: ExecResult, out_dir: Path, stderr: Path
) -> tuple[str | None, dict[str, str], dict[str, Any]]:
    spec = ex.step.method.spec
    if result.timed_out:
        return f"timed out after {spec.resources.timeout:g} s (resources.timeout)", {}, {}
    if result.oom_killed:
        return (
            f"out of memory: killed by the kernel at the {spec.resources.memory} limit (resources.memory)",
            {},
            {},
        )
    try:
        results = read_results(out_dir)
        reported = (results or {}).get("error")
        if result.exit_code != 0:
            return reported or _last_line(stderr) or f"exited with code {result.exit_code}", {}, {}
        if reported:
            return str(reported), {}, {}
        collected = collect(spec, out_dir, results)
    except StepFailed as exc:
        return exc.message, {}, {}
    return None, collected.outputs, collected.metrics


def stage_inputs(ex: Execution) -> dict[str, list[str]]:
    """Link or copy each input object under ``run_dir/inputs``; the container paths by slot."""
    paths: dict[str, list[str]] = {slot: [] for slot in ex.step.method.spec.inputs}
    root = ex.run_dir / "inputs"
    root.mkdir(parents=True, exist_ok=True)
    store = ex.store
    if os.geteuid() == 0 and not ex.runtime.isolated:
        # root outside a container could write through a link into the store: give it copies
        store = ex.store.copying()
    for item in ex.step.inputs:
        rel = f"{item.slot}/{item.position}/{item.name}"
        try:
            store.materialize(item.digest, item.kind, root / rel)
        except StepFailed as exc:
            source = (
                f"sample {item.sample_name}" if item.source_run_id is None else f"run {item.source_run_id}"
            )
            raise StepFailed(f"input '{item.slot}' ({source}): {exc.message}", exc.hint) from None
        paths[item.slot].append(f"{contract.MOUNT_INPUTS}/{rel}")
    listing = {
        slot: [p.removeprefix(contract.MOUNT_INPUTS + "/") for p in found] for slot, found in paths.items()
    }
    inputs_file = {"input_paths": listing, "samples": ex.step.members or []}
    (root / contract.INPUTS_FILE_NAME).write_text(json.dumps(inputs_file, sort_keys=True), encoding="utf-8")
    return paths


def exec_spec(
    ex: Execution, out_dir: Path, stdout: Path, stderr: Path, input_paths: dict[str, list[str]], user: str
) -> ExecSpec:
    """What the runtime runs for a step: image, mounts, ``WFC_*`` variables, limits, labels."""
    step = ex.step
    spec = step.method.spec
    passed = {name: os.environ[name] for name in spec.pass_env if name in os.environ}
    env = passed | {
        contract.RUN_DIR: contract.MOUNT_RUN,
        contract.INPUTS_FILE: f"{contract.MOUNT_INPUTS}/{contract.INPUTS_FILE_NAME}",
        contract.INPUT_PATHS: json.dumps(input_paths, sort_keys=True),
        contract.SAMPLES: json.dumps(step.members or []),
        contract.PARAMS: json.dumps(step.params, sort_keys=True),
        contract.OUTPUTS: json.dumps({k: v.file for k, v in spec.outputs.items()}, sort_keys=True),
        contract.RUN_ID: ex.run_id,
        contract.PIPELINE_ID: ex.pipeline_run_id,
        contract.NODE_ID: step.node.id,
        contract.VARIANT: step.variant or "",
        contract.SAMPLE: step.sample or "",
        "PYTHONPATH": contract.MOUNT_CLIENT,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "HOME": "/tmp",
    }
    client_dir = Path(wfc_client.__file__).parent
    return ExecSpec(
        name=container_name(ex.run_id),
        image=step.env_digest,
        argv=spec.argv,
        workdir=contract.MOUNT_METHOD,
        env=contract.fitting(env),
        mounts=[
            Mount(step.method.directory.resolve(), contract.MOUNT_METHOD),
            Mount((ex.run_dir / "inputs").resolve(), contract.MOUNT_INPUTS),
            Mount(out_dir.resolve(), contract.MOUNT_RUN, read_only=False),
            Mount(client_dir.resolve(), f"{contract.MOUNT_CLIENT}/wfc_client"),
        ],
        stdout_path=stdout,
        stderr_path=stderr,
        labels={
            "wfc.run": ex.run_id,
            "wfc.pipeline-run": ex.pipeline_run_id,
            "wfc.node": step.node.id,
            "wfc.project": str(ex.project.root),
        },
        user=user,
        network=spec.network,
        cpus=spec.resources.cpus,
        memory=spec.resources.memory,
        timeout=spec.resources.timeout,
        pids=spec.resources.pids,
        tmp=spec.resources.tmp,
        output=ex.output,
    )


def keep_sources(project: Project, store: ObjectStore, step: ResolvedStep) -> dict[str, str | None]:
    """Archive what a re-run needs beyond the inputs (``wfc reproduce``): the method directory and
    the environment's Dockerfile and lock, each as a tree object (unchanged ones cost a hash).
    The environment is kept only while its lock names the image that runs the step: a Dockerfile
    edited since the build is not the one behind the image."""
    env_dir = project.environments_dir / step.env_name
    try:
        lock = json.loads((env_dir / "env.lock.json").read_text(encoding="utf-8"))
        same = lock["image_id"] == step.env_digest
        same = same and lock["dockerfile_hash"] == hash_file(env_dir / "Dockerfile")[0]
    except (OSError, ValueError, TypeError, KeyError):
        same = False
    return {
        "code_tree": store.put_tree(step.method.directory, code=True)[0],
        "env_tree": store.put_tree(env_dir, code=True)[0] if same else None,
    }


def container_user(project: Project) -> str:
    """The configured uid:gid as root; otherwise the invoking user's own (never root)."""
    if os.geteuid() == 0:
        return project.get("container_user")
    return f"{os.getuid()}:{os.getgid()}"


def _tail(path: Path) -> str:
    if not path.is_file():
        return ""
    with path.open("rb") as f:
        f.seek(max(0, path.stat().st_size - 64 * 1024))
        lines = f.read().decode("utf-8", "replace").splitlines()
    return "\n".join(lines[-TAIL_LINES:])


def _last_line(path: Path) -> str | None:
    for line in reversed(_tail(path).splitlines()):
        text = line.strip()
        if text and not text.startswith("=== wfc:"):
            return text
    return None
