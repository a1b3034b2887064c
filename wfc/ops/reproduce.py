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

import json
import os
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from wfc import __version__
from wfc.cache.hashing import hash_bytes
from wfc.cache.key import StepIdentity
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
from wfc.methods import Method, parse_method_file
from wfc.model.pipeline import MethodNode
from wfc.model.status import Status
from wfc.ops.differ import OutputVerdict, compare
from wfc.ops.reproduce_plan import Planned, plan
from wfc.project import Project, git_commit
from wfc.runtime.factory import make_runtime
from wfc.runtime.reaper import pid_alive
from wfc.step.execute import Execution, execute
from wfc.step.resolve import InputItem, ResolvedStep
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
        _close_stale(db)
        planned, skipped, asked = plan(db, store, ref, pipeline)
        if project.get("runtime") == "docker":
            for env, digest in sorted({(p.run.env_name, p.run.env_digest) for p in planned}):
                _require_image(db, store, env, digest)
        lineage = SqlAlchemyLineage(db)
        pr = _pipeline_run(project, db, planned, asked)
        lineage.create_pipeline_run(pr)
        status = Status.FAILED
        try:
            with ThreadPoolExecutor(max_workers=max(1, cores)) as pool:
                done = []
                for result in pool.map(lambda p: _one(project, db, store, pr.id, p), planned):
                    done.append(result)
                    if on_step is not None:
                        on_step(result)
            status = Status.COMPLETED if all(r.identical for r in done) else Status.FAILED
        finally:
            lineage.finish_pipeline_run(pr.id, status)
    return Reproductions(pr.id, asked, tuple(done), tuple(skipped), status == Status.COMPLETED)


def _close_stale(db: Database) -> None:
    """Fail the reproductions of this host whose process died (a kill, a crash), and their
    pipeline runs: what is left running is never a verdict."""
    lineage = SqlAlchemyLineage(db)
    for run in query.running_reproductions(db, HOST):
        if not pid_alive(run.pid):
            died = f"the process running this reproduction died (pid {run.pid} on {HOST})"
            query.finish_reproduction(db, run.id, [], failure(Status.FAILED, died, None, None, (None, None)))
            lineage.finish_pipeline_run(run.pipeline_run_id, Status.FAILED)


def _pipeline_run(project: Project, db: Database, planned: list[Planned], asked: str) -> PipelineRunRecord:
    originals = {query.run_by_id(db, p.run.id).pipeline_run_id for p in planned}  # type: ignore[union-attr]
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


def _one(project: Project, db: Database, store: ObjectStore, pr_id: str, planned: Planned) -> Reproduction:
    """Rebuild one step in a scratch directory, run it, record it, compare its outputs."""
    run = planned.run
    run_id = new_id(STEP_PREFIX)
    scratch = project.state_dir / "reproduce" / run_id
    step = _rebuilt(store, planned, scratch / "method")
    lineage = SqlAlchemyLineage(db)
    record = RunRecord(
        **{**_copied(run), "id": run_id, "pipeline_run_id": pr_id, "status": Status.RUNNING.value},
        started_at=now(),
        pid=os.getpid(),
        reason=f"reproduction of {run.id}",
        log_dir=project.relative(scratch),
        reproduces_id=run.id,
    )
    lineage.start_run(record, [InputRecord(**{**i.__dict__, "run_id": run_id}) for i in planned.inputs])
    try:
        runtime = make_runtime(project.get("runtime"), run.env_name, run.env_digest)
        try:
            result = execute(Execution(project, store, step, run_id, pr_id, scratch, runtime, None))
        finally:
            runtime.close()
        if result.error is not None:
            values = failure(Status.FAILED, result.error, result.stderr_tail, result.exit_code, result.logs)
            query.finish_reproduction(db, run_id, [], {**values, "resources": result.resources})
            return Reproduction(run.id, planned.step, run_id, False, (), f"the method failed: {result.error}")
        verdicts, rows = _judge(store, planned, run_id, result.out_dir, result.outputs, scratch)
        differing = [v.slot for v in verdicts if not v.identical]
        if differing:
            what = (
                f"output {differing[0]} differs"
                if len(differing) == 1
                else f"outputs {', '.join(differing)} differ"
            )
            error = f"not reproducible: {what} from {run.id}"
            values = failure(Status.FAILED, error, None, 0, result.logs, result.resources)
        else:
            values = completion(result.metrics, result.logs, result.resources)
        query.finish_reproduction(db, run_id, rows, values)
        return Reproduction(run.id, planned.step, run_id, not differing, tuple(verdicts))
    except BaseException as exc:
        message = getattr(exc, "message", None) or f"interrupted: {exc!r}"
        query.finish_reproduction(db, run_id, [], failure(Status.FAILED, message, None, None, (None, None)))
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


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


def _rebuilt(store: ObjectStore, planned: Planned, method_dir: Path) -> ResolvedStep:
    """The step as the lifecycle runs it, made from the record and the kept code tree."""
    run = planned.run
    store.materialize(str(run.code_tree), "dir", method_dir)
    ref = f"{run.module}/{run.method}"
    spec = parse_method_file(method_dir / "method.yaml", f"{ref} (kept code of {run.id})")
    method = Method(run.module, run.method, method_dir, spec, run.code_hash, run.contract_hash, (b"", b""))
    slots: dict[str, list[str]] = {}
    for item in planned.items:
        slots.setdefault(item.slot, []).append(item.digest)
    identity = StepIdentity(
        module=run.module,
        method=run.method,
        code=run.code_hash,
        contract=run.contract_hash,
        params=run.params,
        env_digest=run.env_digest,
        inputs=slots,
        sample=run.sample,
        members=run.members,
    )
    return ResolvedStep(
        node=MethodNode(id=run.node_id, method=ref),
        method=method,
        params=run.params,
        env_name=run.env_name,
        env_digest=run.env_digest,
        sample=run.sample,
        variant=run.variant,
        members=run.members,
        inputs=list[InputItem](planned.items),
        identity=identity,
        key=run.key or "",
    )


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
