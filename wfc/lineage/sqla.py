"""The SQLAlchemy implementation of the lineage protocol: any database URL (SQLite, PostgreSQL…)."""

from __future__ import annotations

from dataclasses import asdict, fields, replace
from typing import Any, TypeVar

from sqlalchemy import insert, select, update

from wfc.lineage.db import Database
from wfc.lineage.records import (
    EARLIER_LIMIT,
    STALE_MESSAGE,
    InputRecord,
    OutputRecord,
    PipelineRunRecord,
    RunRecord,
    SampleChange,
    SampleRecord,
    completion,
    failure,
    now,
    sample_change,
)
from wfc.lineage.schema import Base, PipelineRun, Run, RunInput, RunOutput, Sample
from wfc.model.status import Status

R = TypeVar("R")
_IN_CHUNK = 500  # names per IN (...) query: well below every driver's limit on bound parameters


def to_record(cls: type[R], row: Base) -> R:
    """A record dataclass from an ORM row (field names equal column names)."""
    return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})  # type: ignore[arg-type]


def _sample_record(row: Sample) -> SampleRecord:
    """A sample row as a record (its ``metadata`` column is the attribute ``metadata_``)."""
    values = {f.name: getattr(row, f.name) for f in fields(SampleRecord) if f.name != "metadata"}
    return SampleRecord(**values, metadata=dict(row.metadata_ or {}))


def _sample_values(sample: SampleRecord) -> dict[str, Any]:
    """A sample record as the column values of its row (by attribute name)."""
    values = {f.name: getattr(sample, f.name) for f in fields(SampleRecord) if f.name != "metadata"}
    return {**values, "metadata_": dict(sample.metadata)}


class SqlAlchemyLineage:
    """Lineage through SQLAlchemy 2 (ORM models of ``wfc.lineage.schema``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def close(self) -> None:
        """Release pooled connections."""
        self.db.engine.dispose()

    def find_completed(self, key: str) -> tuple[RunRecord, list[OutputRecord]] | None:
        """The newest executed, completed run with this key and its outputs."""
        with self.db.session() as s:
            stmt = (
                select(Run)
                .where(Run.key == key, Run.status == Status.COMPLETED.value)
                .order_by(Run.ended_at.desc(), Run.id.desc())
                .limit(1)
            )
            run = s.execute(stmt).scalar_one_or_none()
            if run is None:
                return None
            outs = s.execute(
                select(RunOutput).where(RunOutput.run_id == run.id).order_by(RunOutput.slot)
            ).scalars()
            return to_record(RunRecord, run), [to_record(OutputRecord, o) for o in outs]

    def sample_version(self, name: str, version: int | None = None) -> SampleRecord | None:
        """A sample by name: the given version, or the newest."""
        with self.db.session() as s:
            stmt = select(Sample).where(Sample.name == name)
            if version is not None:
                stmt = stmt.where(Sample.version == version)
            row = s.execute(stmt.order_by(Sample.version.desc()).limit(1)).scalar_one_or_none()
            return _sample_record(row) if row else None

    def list_samples(self) -> list[SampleRecord]:
        """Every sample version by name, then version."""
        with self.db.session() as s:
            rows = s.execute(select(Sample).order_by(Sample.name, Sample.version)).scalars()
            return [_sample_record(r) for r in rows]

    def add_sample_version(self, sample: SampleRecord) -> tuple[SampleRecord, bool]:
        """Record new content as the next version; the same content returns the existing one."""
        with self.db.session() as s, s.begin():
            latest = s.execute(
                select(Sample).where(Sample.name == sample.name).order_by(Sample.version.desc()).limit(1)
            ).scalar_one_or_none()
            if latest is not None and latest.content_hash == sample.content_hash:
                return _sample_record(latest), False
            version = latest.version + 1 if latest else 1
            row = Sample(**_sample_values(replace(sample, version=version)))
            s.add(row)
        return _sample_record(row), True

    def register_samples(
        self, samples: list[SampleRecord], *, keep_metadata: bool = False
    ) -> list[tuple[SampleRecord, SampleChange]]:
        """Record many samples in one transaction (see the protocol): the newest version of every
        name is read in a few queries, and new versions are inserted in one statement."""
        done: list[tuple[SampleRecord, SampleChange]] = []
        with self.db.session() as s, s.begin():
            names = sorted({x.name for x in samples})
            newest: dict[str, SampleRecord] = {}
            for i in range(0, len(names), _IN_CHUNK):
                stmt = (
                    select(Sample).where(Sample.name.in_(names[i : i + _IN_CHUNK])).order_by(Sample.version)
                )
                newest.update((row.name, _sample_record(row)) for row in s.execute(stmt).scalars())
            added: list[dict[str, Any]] = []
            for sample in samples:
                record, change = sample_change(newest.get(sample.name), sample, keep_metadata=keep_metadata)
                if change == "added":
                    added.append(_sample_values(record))
                elif change == "updated":
                    s.execute(
                        update(Sample)
                        .where(Sample.name == record.name, Sample.version == record.version)
                        .values(metadata_=record.metadata)
                    )
                newest[sample.name] = record
                done.append((record, change))
            if added:
                s.execute(insert(Sample), added)
        return done

    def create_pipeline_run(self, run: PipelineRunRecord) -> None:
        """Record a pipeline run."""
        with self.db.session() as s, s.begin():
            s.add(PipelineRun(**asdict(run)))

    def has_pipeline_run(self, pipeline_run_id: str) -> bool:
        """Whether a pipeline run with this id is recorded."""
        with self.db.session() as s:
            return s.get(PipelineRun, pipeline_run_id) is not None

    def finish_pipeline_run(self, pipeline_run_id: str, status: Status) -> None:
        """Close a pipeline run with its final status."""
        with self.db.session() as s, s.begin():
            s.execute(
                update(PipelineRun)
                .where(PipelineRun.id == pipeline_run_id)
                .values(status=status.value, ended_at=now())
            )

    def start_run(self, run: RunRecord, inputs: list[InputRecord]) -> None:
        """Record a claimed run as ``running`` with its inputs."""
        self._add(run, inputs, [])

    def record_cached(self, run: RunRecord, inputs: list[InputRecord], outputs: list[OutputRecord]) -> None:
        """Record a cache hit with its own input and output rows."""
        self._add(run, inputs, outputs)

    def _add(self, run: RunRecord, inputs: list[InputRecord], outputs: list[OutputRecord]) -> None:
        with self.db.session() as s, s.begin():
            s.add(Run(**asdict(run)))
            s.flush()
            s.add_all(RunInput(**asdict(i)) for i in inputs)
            s.add_all(RunOutput(**asdict(o)) for o in outputs)

    def complete_run(
        self,
        run_id: str,
        outputs: list[OutputRecord],
        metrics: dict[str, Any],
        logs: tuple[str | None, str | None],
        resources: dict[str, Any] | None = None,
    ) -> None:
        """Mark a ``running`` run ``completed`` with its outputs: one transaction (no-op otherwise)."""
        with self.db.session() as s, s.begin():
            done = s.execute(
                update(Run)
                .where(Run.id == run_id, Run.status == Status.RUNNING.value)
                .values(**completion(metrics, logs, resources))
            )
            if done.rowcount:  # type: ignore[attr-defined]
                s.add_all(RunOutput(**asdict(o)) for o in outputs)

    def fail_run(
        self,
        run_id: str,
        *,
        error: str,
        tail: str | None,
        exit_code: int | None,
        logs: tuple[str | None, str | None],
        status: Status = Status.FAILED,
        resources: dict[str, Any] | None = None,
    ) -> None:
        """Mark a ``running`` run ``failed`` (or ``cancelled``) with its message and logs."""
        with self.db.session() as s, s.begin():
            s.execute(
                update(Run)
                .where(Run.id == run_id, Run.status == Status.RUNNING.value)
                .values(**failure(status, error, tail, exit_code, logs, resources))
            )

    def runs_of(self, pipeline_run_id: str) -> list[RunRecord]:
        """Every step run recorded in a pipeline run, oldest first."""
        with self.db.session() as s:
            rows = s.execute(
                select(Run).where(Run.pipeline_run_id == pipeline_run_id).order_by(Run.id)
            ).scalars()
            return [to_record(RunRecord, r) for r in rows]

    def earlier_runs(self, node: str, module: str, method: str) -> list[tuple[RunRecord, str]]:
        """Keyed runs of this node id (else of this method) with their pipeline's name, newest first."""
        with self.db.session() as s:
            for condition in (Run.node_id == node, (Run.module == module) & (Run.method == method)):
                stmt = (
                    select(Run, PipelineRun.name)
                    .join(PipelineRun, PipelineRun.id == Run.pipeline_run_id)
                    .where(condition, Run.key.is_not(None))
                    .order_by(Run.started_at.desc(), Run.id.desc())
                    .limit(EARLIER_LIMIT)
                )
                rows = [(to_record(RunRecord, run), name) for run, name in s.execute(stmt)]
                if rows:
                    return rows
        return []

    def inputs_of(self, run_id: str) -> list[InputRecord]:
        """The input rows of a run in slot and position order."""
        with self.db.session() as s:
            stmt = (
                select(RunInput).where(RunInput.run_id == run_id).order_by(RunInput.slot, RunInput.position)
            )
            return [to_record(InputRecord, r) for r in s.execute(stmt).scalars()]

    def run_by_id(self, run_id: str) -> RunRecord | None:
        """A run by its exact id."""
        with self.db.session() as s:
            row = s.get(Run, run_id)
            return to_record(RunRecord, row) if row else None

    def cancel_running(self, pipeline_run_id: str, message: str) -> int:
        """Mark a pipeline run's ``running`` steps ``cancelled``; return how many."""
        with self.db.session() as s, s.begin():
            result = s.execute(
                update(Run)
                .where(Run.pipeline_run_id == pipeline_run_id, Run.status == Status.RUNNING.value)
                .values(status=Status.CANCELLED.value, ended_at=now(), error=message)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def fail_stale(self, key: str, host: str) -> list[str]:
        """Fail this host's ``running`` runs of ``key`` (their process died); return their ids."""
        with self.db.session() as s, s.begin():
            ids = list(
                s.execute(
                    select(Run.id).where(Run.key == key, Run.status == Status.RUNNING.value, Run.host == host)
                ).scalars()
            )
            if ids:
                s.execute(
                    update(Run)
                    .where(Run.id.in_(ids))
                    .values(status=Status.FAILED.value, ended_at=now(), error=STALE_MESSAGE)
                )
        return ids
