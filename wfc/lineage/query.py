"""The read side of the lineage database: look-ups the step lifecycle and the CLI need."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from wfc.lineage.schema import Run, RunOutput, Sample
from wfc.model.status import Status


def find_completed(session: Session, key: str) -> Run | None:
    """The most recent executed-and-completed run with this key, if any."""
    stmt = (
        select(Run)
        .where(Run.key == key, Run.status == Status.COMPLETED.value)
        .order_by(Run.ended_at.desc(), Run.id.desc())
        .limit(1)
    )
    return session.execute(stmt).scalar_one_or_none()


def outputs_of(session: Session, run_id: str) -> dict[str, RunOutput]:
    """The recorded outputs of a run by slot."""
    rows = session.execute(select(RunOutput).where(RunOutput.run_id == run_id)).scalars()
    return {row.slot: row for row in rows}


def running_with_key(session: Session, key: str, host: str) -> list[Run]:
    """Runs of this key still marked ``running`` on this host."""
    stmt = select(Run).where(Run.key == key, Run.status == Status.RUNNING.value, Run.host == host)
    return list(session.execute(stmt).scalars())


def sample_version(session: Session, name: str, version: int | None = None) -> Sample | None:
    """A sample by name: the given version, or the newest."""
    stmt = select(Sample).where(Sample.name == name)
    if version is not None:
        stmt = stmt.where(Sample.version == version)
    return session.execute(stmt.order_by(Sample.version.desc()).limit(1)).scalar_one_or_none()


def list_samples(session: Session, name: str | None = None) -> list[Sample]:
    """Every sample version, by name then version."""
    stmt = select(Sample)
    if name is not None:
        stmt = stmt.where(Sample.name == name)
    return list(session.execute(stmt.order_by(Sample.name, Sample.version)).scalars())


def get_run(session: Session, run_id: str) -> Run | None:
    """A run by its full id."""
    return session.get(Run, run_id)
