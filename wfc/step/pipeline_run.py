"""The pipeline run a step records itself into (BRIEF §6.1): the one ``run-pipeline`` created,
one named by an external key (an Argo workflow uid, shared by all its tasks), or an ad-hoc one of
the document when the step is run by hand."""

from __future__ import annotations

import os
from pathlib import Path

from wfc import __version__
from wfc.cache.hashing import hash_bytes
from wfc.errors import UsageError
from wfc.lineage.ids import PIPELINE_PREFIX, keyed_id, new_id
from wfc.lineage.records import HOST, Lineage, PipelineRunRecord, now
from wfc.model.pipeline import Pipeline
from wfc.model.status import Status
from wfc.project import Project, git_commit


def start_pipeline_run(
    lineage: Lineage, project: Project, pipeline: Pipeline, raw: bytes, pr_id: str | None = None
) -> str:
    """Record a new ``running`` pipeline run of a document (frozen with its hash); return its id.
    With ``pr_id`` (a keyed run) a concurrent creator may win: that is fine."""
    wanted = pr_id
    pr_id = pr_id or new_id(PIPELINE_PREFIX)
    record = PipelineRunRecord(
        id=pr_id,
        name=pipeline.name,
        document_hash=hash_bytes(raw),
        document=raw.decode("utf-8", "replace"),
        status=Status.RUNNING.value,
        started_at=now(),
        wfc_version=__version__,
        git_commit=git_commit(project.root),
    )
    try:
        lineage.create_pipeline_run(record)
    except Exception:
        if wanted is None or not lineage.has_pipeline_run(wanted):
            raise
    return pr_id


def enter_pipeline_run(
    lineage: Lineage,
    project: Project,
    pipeline: Pipeline,
    raw: bytes,
    pipeline_run_id: str | None,
    pipeline_run_key: str | None,
) -> str:
    """The id of the pipeline run a step records into: the given one (which must exist), the one
    of an external key (created by the first step that uses it), or a new ad-hoc one.

    Raises:
        UsageError: ``pipeline_run_id`` names no recorded pipeline run.
    """
    if pipeline_run_id is not None:
        if not lineage.has_pipeline_run(pipeline_run_id):
            raise UsageError(
                f"unknown pipeline run '{pipeline_run_id}'",
                "pass the id of a recorded pipeline run, or leave --pipeline-run out",
            )
        return pipeline_run_id
    if pipeline_run_key:
        keyed = keyed_id(PIPELINE_PREFIX, pipeline_run_key)
        if not lineage.has_pipeline_run(keyed):
            start_pipeline_run(lineage, project, pipeline, raw, keyed)
        return keyed
    return start_pipeline_run(lineage, project, pipeline, raw)


def leave_pipeline_run(lineage: Lineage, pr_id: str, *, ad_hoc: bool, keyed: bool, status: Status) -> None:
    """After a step: an ad-hoc pipeline run ends with the step's status (a hit is a completed
    run); a keyed one is settled by whichever of its steps ends last; others are left to their
    owner (``run-pipeline``)."""
    if ad_hoc:
        lineage.finish_pipeline_run(pr_id, Status.COMPLETED if status is Status.CACHED else status)
    elif keyed:
        settle(lineage, pr_id)


def settle(lineage: Lineage, pr_id: str) -> None:
    """The status of a keyed pipeline run after one of its steps: running while any step runs,
    failed when any failed or was cancelled, else completed (the last step to end decides)."""
    statuses = {r.status for r in lineage.runs_of(pr_id)}
    if Status.RUNNING.value in statuses:
        return
    failed = statuses & {Status.FAILED.value, Status.CANCELLED.value}
    lineage.finish_pipeline_run(pr_id, Status.FAILED if failed else Status.COMPLETED)


def invocation_key(tool: str, proc: Path = Path("/proc")) -> str | None:
    """A key naming one invocation of ``tool``: the nearest process above this one whose command
    is ``tool`` (``dvc``, or ``python -m dvc``), by pid and start time, so the steps that one
    ``dvc repro`` runs share a pipeline run and a later repro gets a new one. None when there is
    no such process (or no ``/proc``): the step gets an ad-hoc pipeline run."""
    pid = os.getppid()
    for _ in range(32):  # a bounded walk up the process tree
        try:
            stat = (proc / str(pid) / "stat").read_text()
            argv = (proc / str(pid) / "cmdline").read_bytes().split(b"\0")
        except OSError:
            return None
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state, ppid, …
        if _is(tool, [a.decode(errors="replace") for a in argv[:3]]):
            return f"{tool}:{HOST}:{pid}:{fields[19]}"  # field 22 of stat: the start time
        pid = int(fields[1])
        if pid <= 1:
            return None
    return None


def _is(tool: str, argv: list[str]) -> bool:
    """Whether a command line runs ``tool``: ``tool …``, ``python …/tool …`` or ``python -m tool``."""
    names = [a.rsplit("/", 1)[-1] for a in argv]
    return bool(names) and (names[0] == tool or names[1:2] == [tool] or argv[1:3] == ["-m", tool])
