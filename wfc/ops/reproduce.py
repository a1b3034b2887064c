"""``wfc reproduce RUN|PIPELINE_RUN``: re-execute recorded steps from exactly what was recorded
and say, output by output, whether the bytes came out the same.

A step is rebuilt from its record alone: the method directory from its kept code tree, the inputs
by content digest from the store (staged under the names they had), the recorded params, sample
and members, and the image by digest. Everything is checked before anything runs; what is
missing is named with the command that restores it. The re-run happens in a scratch directory
under ``.wfc/reproduce/`` and is recorded as a *reproduction*: a run with no cache key (never a
cache source, never compared by ``why``), linked to the original by ``reproduces_id``, in a
pipeline run of its own named ``reproduce:<pipeline>``. It is ``completed`` when every output is
bit-identical and ``failed`` ("not reproducible: …") otherwise; the original is never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from wfc import __version__
from wfc.cache.hashing import hash_bytes
from wfc.errors import UsageError
from wfc.lineage import query
from wfc.lineage.db import Database, database
from wfc.lineage.ids import PIPELINE_PREFIX, STEP_PREFIX, new_id
from wfc.lineage.records import (
    HOST,
    InputRecord,
    PipelineRunRecord,
    RunRecord,
    completion,
    failure,
    now,
)
from wfc.lineage.sqla import SqlAlchemyLineage
from wfc.model.status import Status
from wfc.ops.differ import OutputVerdict, compare
from wfc.ops.reproduce_plan import Planned, plan, rebuilt
from wfc.project import Project, git_commit
from wfc.runtime.base import container_name
from wfc.runtime.cgroup import remove_container_parent as remove_cgroup
from wfc.runtime.factory import make_runtime
from wfc.runtime.reaper import pid_alive
from wfc.step.claim import store_guard
from wfc.step.execute import Execution, execute
from wfc.store.archive import archive_outputs
from wfc.store.local import ObjectStore


@dataclass(frozen=True)
class Reproduction:
    """One step re-run against its record; ``error``: the method failed when re-run."""

    run: str
    step: str
    reproduction: str
    identical: bool
    outputs: tuple[OutputVerdict, ...]
    error: str | None = None

    @property
    def differing(self) -> list[str]:
        """The slots whose bytes differ (or were not written)."""
        return [o.slot for o in self.outputs if not o.identical]


@dataclass(frozen=True)
class Reproductions:
    """What ``wfc reproduce`` did: each step's verdict, in step order, and the steps it left out."""

    SCHEMA: ClassVar[str] = "wfc.reproduce/1"

    pipeline_run: str  # the pipeline run that records the reproductions
    reproduces: str  # what was asked: a run or a pipeline run id
    steps: tuple[Reproduction, ...]
    skipped: tuple[str, ...]
    identical: bool  # every reproduced output is bit-identical to its original


def reproduce(
    project: Project,
    ref: str,
    *,
    cores: int = 1,
    pipeline: str | None = None,
    on_step: Callable[[Reproduction], None] | None = None,
) -> Reproductions:
    """Re-run the step run ``ref`` (or every executed step of pipeline run ``p-…``) and compare.

    Raises:
        UsageError: No such run, one that cannot be reproduced, or something it needs is missing
            (the message names it; the hint says how to restore it).
        InfraError: Docker or the database is unreachable.
    """
    store = project.object_store()
    with database(project.database_url) as db:
        _close_stale(project, db)
        planned, skipped, asked = plan(db, store, ref, pipeline)
        if project.get("runtime") == "docker":
            for env, digest in sorted({(p.run.env_name, p.run.env_digest) for p in planned}):
                _require_image(db, store, env, digest)
        lineage = SqlAlchemyLineage(db)
        pr = _pipeline_run(project, db, planned, asked)
        lineage.create_pipeline_run(pr)
        status = Status.FAILED
        done: list[Reproduction] = []
        try:
            for result in _each(project, db, store, pr.id, planned, cores):
                done.append(result)
                if on_step is not None:
                    on_step(result)
            status = Status.COMPLETED if all(r.identical for r in done) else Status.FAILED
        finally:
            lineage.finish_pipeline_run(pr.id, status)
    return Reproductions(pr.id, asked, tuple(done), tuple(skipped), status == Status.COMPLETED)


def _close_stale(project: Project, db: Database) -> None:
    """Fail the reproductions of this host whose process died (a kill, a crash), and their
    pipeline runs: what is left running is never a verdict."""
    lineage = SqlAlchemyLineage(db)
    for run in query.running_reproductions(db, HOST):
        if not pid_alive(run.pid):
            died = f"the process running this reproduction died (pid {run.pid} on {HOST})"
            query.finish_reproduction(db, run.id, [], failure(Status.FAILED, died, None, None, (None, None)))
            lineage.finish_pipeline_run(run.pipeline_run_id, Status.FAILED)
            shutil.rmtree(scratch_dir(project, run.id), ignore_errors=True)
            remove_cgroup(container_name(run.id))


def _pipeline_run(project: Project, db: Database, planned: list[Planned], asked: str) -> PipelineRunRecord:
    originals = {p.run.pipeline_run_id for p in planned}
    names = sorted({query.find_pipeline_run(db, o).name for o in originals})
    raw = json.dumps({"reproduces": asked, "runs": [p.run.id for p in planned]}, sort_keys=True)
    return PipelineRunRecord(
        id=new_id(PIPELINE_PREFIX),
        name="reproduce:" + ",".join(names),
        document_hash=hash_bytes(raw.encode()),
        document=raw,
        status=Status.RUNNING.value,
        started_at=now(),
        wfc_version=__version__,
        git_commit=git_commit(project.root),
    )


def _each(
    project: Project, db: Database, store: ObjectStore, pr_id: str, planned: list[Planned], cores: int
) -> Iterator[Reproduction]:
    """Reproduce each planned step, ``cores`` at a time, yielding verdicts in plan order. On
    Ctrl-C (or SIGTERM) the queued steps are dropped and the running ones' containers removed,
    so that each records its failure before the interrupt goes on."""
    previous = _on_sigterm()
    try:
        if cores <= 1:  # in this thread, where Ctrl-C arrives
            yield from (_one(project, db, store, pr_id, p) for p in planned)
            return
        pool = ThreadPoolExecutor(max_workers=cores)
        try:
            yield from pool.map(lambda p: _one(project, db, store, pr_id, p), planned)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            running = [r.id for r in query.running_reproductions(db, HOST) if r.pipeline_run_id == pr_id]
            if running and project.get("runtime") == "docker":
                from wfc.runtime.docker import DockerRuntime

                docker = DockerRuntime()
                docker.reap(running)  # their steps end now, and record it
                docker.close()
            raise
        finally:
            pool.shutdown(wait=True)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _on_sigterm() -> Any:
    """Make SIGTERM interrupt like Ctrl-C (in the main thread only; the old handler back after)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)


def _one(project: Project, db: Database, store: ObjectStore, pr_id: str, planned: Planned) -> Reproduction:
    """Rebuild one step in a scratch directory, run it, record it, compare its outputs."""
    run = planned.run
    run_id = new_id(STEP_PREFIX)
    scratch = scratch_dir(project, run_id)
    lineage = SqlAlchemyLineage(db)
    record = RunRecord(
        **{**_copied(run), "id": run_id, "pipeline_run_id": pr_id, "status": Status.RUNNING.value},
        started_at=now(),
        pid=os.getpid(),
        reason=f"reproduction of {run.id}",
        reproduces_id=run.id,
    )
    lineage.start_run(record, [InputRecord(**{**i.__dict__, "run_id": run_id}) for i in planned.inputs])
    try:
        step = rebuilt(store, planned, scratch / "method")
        runtime = make_runtime(project.get("runtime"), run.env_name, run.env_digest)
        try:
            result = execute(Execution(project, store, step, run_id, pr_id, scratch, runtime, None))
        finally:
            runtime.close()
        if result.error is not None:
            tail, code, logs = result.stderr_tail, result.exit_code, result.logs
            values = failure(Status.FAILED, result.error, tail, code, logs, result.resources)
            query.finish_reproduction(db, run_id, [], values)
            return Reproduction(run.id, planned.step, run_id, False, (), f"the method failed: {result.error}")
        guard = store_guard(project.state_dir / "locks", project.database_url) if store.remote else None
        with guard or contextlib.nullcontext():  # a shared store's gc waits: archive, then record
            verdicts, rows = _judge(store, planned, run_id, result.out_dir, result.outputs, scratch)
            differing = [v.slot for v in verdicts if not v.identical]
            if differing:
                error = f"not reproducible: {_differ(differing)} from {run.id}"
                values = failure(Status.FAILED, error, None, 0, result.logs, result.resources)
            else:
                values = completion(result.metrics, result.logs, result.resources)
            query.finish_reproduction(db, run_id, rows, values)
        return Reproduction(run.id, planned.step, run_id, not differing, tuple(verdicts))
    except BaseException as exc:
        if isinstance(exc, Exception):
            message = f"failed: {getattr(exc, 'message', None) or repr(exc)}"
        else:
            message = "cancelled by user"
        with contextlib.suppress(Exception):  # the database may be what failed: keep the first error
            query.finish_reproduction(
                db, run_id, [], failure(Status.FAILED, message, None, None, (None, None))
            )
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def scratch_dir(project: Project, run_id: str) -> Path:
    """Where a reproduction is rebuilt and run (removed when it is over, or by the next
    ``wfc reproduce`` when its process died)."""
    return project.state_dir / "reproduce" / run_id


def _differ(slots: list[str]) -> str:
    return f"output {slots[0]} differs" if len(slots) == 1 else f"outputs {', '.join(slots)} differ"


def _judge(
    store: ObjectStore, planned: Planned, run_id: str, out_dir: Path, outputs: dict[str, str], scratch: Path
) -> tuple[list[OutputVerdict], list[Any]]:
    """Archive the reproduced outputs (so a difference can be exported and looked at) and compare
    each with the original, restored beside it."""
    from wfc.lineage.records import OutputRecord

    archived = {a.slot: a for a in archive_outputs(store, out_dir, outputs)}
    rows = [OutputRecord(run_id, a.slot, a.path, a.digest, a.size, a.kind) for a in archived.values()]
    verdicts = []
    for out in planned.outputs:
        again = archived.get(out.slot)
        original = scratch / "original" / out.slot / Path(out.path).name
        reproduced = scratch / "reproduced" / out.slot / Path(again.path if again else out.path).name
        if again is not None and again.digest != out.content_hash:  # a difference: restore both
            store.materialize(out.content_hash, "dir" if out.kind == "dir" else "file", original)
            store.materialize(again.digest, again.kind, reproduced)
        after = (again.digest, again.size) if again else None
        verdicts.append(compare(out.slot, original, reproduced, (out.content_hash, out.size), after))
    return verdicts, rows


def _copied(run: RunRecord) -> dict[str, Any]:
    """The fields a reproduction takes from its original: what ran, never its key or outcome."""
    keep = ("node_id", "sample", "variant", "members", "module", "method", "code_hash", "contract_hash")
    more = ("params", "env_name", "env_digest", "code_tree", "env_tree")
    return {name: getattr(run, name) for name in (*keep, *more)} | {"key": None}


def _require_image(db: Database, store: ObjectStore, env: str, digest: str) -> None:
    """Make sure Docker has the recorded image: as it is, or loaded back from the store (``wfc
    env save``). A rebuild makes another image, so the hint names the only ways back to this one."""
    from wfc.ops.images import restore_image
    from wfc.runtime.docker import docker_client, image_present

    client = docker_client()
    try:
        if image_present(client, digest) or restore_image(db, store, client, digest):
            return
    finally:
        client.close()
    raise UsageError(
        f"cannot reproduce: the image of environment '{env}' ({digest}) is not in Docker, nor saved",
        f"load a copy you kept with `docker load -i FILE`; `wfc env build {env}` makes a new image "
        f"with another digest (keep images for later with `wfc env save {env}`)",
    )
