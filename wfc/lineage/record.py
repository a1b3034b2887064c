"""The write side of the lineage database: every state change of a run, each one transaction.

The rule that matters (BRIEF §6.7): a run becomes ``completed`` in the same transaction that
records its outputs, and only after those outputs are in the store.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update

from wfc.lineage.db import Database
from wfc.lineage.ids import PIPELINE_PREFIX, new_id
from wfc.lineage.schema import PipelineRun, Run, RunInput, RunOutput
from wfc.model.status import Status

HOST = socket.gethostname()


def now() -> datetime:
    """The current time, UTC."""
    return datetime.now(UTC)


def create_pipeline_run(
    db: Database, *, name: str, document_hash: str, document: str, git_commit: str | None, version: str
) -> str:
    """Record a new pipeline run as ``running``; return its id."""
    run = PipelineRun(
        id=new_id(PIPELINE_PREFIX),
        name=name,
        document_hash=document_hash,
        document=document,
        status=Status.RUNNING.value,
        started_at=now(),
        git_commit=git_commit,
        wfc_version=version,
        host=HOST,
    )
    with db.session() as s, s.begin():
        s.add(run)
    return run.id


def finish_pipeline_run(db: Database, pipeline_run_id: str, status: Status) -> None:
    """Close a pipeline run with its final status."""
    with db.session() as s, s.begin():
        s.execute(
            update(PipelineRun)
            .where(PipelineRun.id == pipeline_run_id)
            .values(status=status.value, ended_at=now())
        )


def start_run(db: Database, run: Run, inputs: Iterable[RunInput]) -> None:
    """Record a run as ``running`` with its inputs (the claim is already held)."""
    with db.session() as s, s.begin():
        s.add(run)
        s.flush()
        s.add_all(inputs)


def complete_run(
    db: Database,
    run_id: str,
    outputs: list[RunOutput],
    *,
    metrics: dict[str, Any],
    logs: tuple[str | None, str | None],
) -> None:
    """Mark an executed run ``completed`` together with its archived outputs: one transaction."""
    with db.session() as s, s.begin():
        s.add_all(outputs)
        s.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(
                status=Status.COMPLETED.value,
                ended_at=now(),
                metrics=metrics,
                stdout_object=logs[0],
                stderr_object=logs[1],
                exit_code=0,
            )
        )


def record_cached(db: Database, run: Run, inputs: Iterable[RunInput], outputs: list[RunOutput]) -> None:
    """Record a cache hit: a ``cached`` run pointing at its source, with its own lineage rows."""
    with db.session() as s, s.begin():
        s.add(run)
        s.flush()
        s.add_all(inputs)
        s.add_all(outputs)


def fail_run(
    db: Database,
    run_id: str,
    *,
    error: str,
    tail: str | None,
    exit_code: int | None,
    logs: tuple[str | None, str | None],
    status: Status = Status.FAILED,
) -> None:
    """Mark a run ``failed`` (or ``cancelled``) with its message, stderr tail, exit code and logs."""
    with db.session() as s, s.begin():
        s.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(
                status=status.value,
                ended_at=now(),
                error=error,
                error_tail=tail,
                exit_code=exit_code,
                stdout_object=logs[0],
                stderr_object=logs[1],
            )
        )


def mark_stale(db: Database, run_ids: list[str]) -> None:
    """Fail runs whose process died while holding the claim (found when the claim is taken over)."""
    if not run_ids:
        return
    with db.session() as s, s.begin():
        s.execute(
            update(Run)
            .where(Run.id.in_(run_ids), Run.status == Status.RUNNING.value)
            .values(
                status=Status.FAILED.value,
                ended_at=now(),
                error="the process running this step died (claim taken over by a later run)",
            )
        )
