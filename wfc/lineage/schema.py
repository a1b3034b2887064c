"""The lineage schema: typed SQLAlchemy 2 models of pipeline runs, runs, inputs, outputs, samples.

Version history lives in ``wfc.lineage.db.MIGRATIONS``; bump ``records.SCHEMA_VERSION`` with every change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of the lineage models."""

    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}


class Meta(Base):
    """Key/value facts about the database itself (``schema_version``)."""

    __tablename__ = "wfc_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))


class PipelineRun(Base):
    """One run of a pipeline document (or an ad-hoc run of one step by hand)."""

    __tablename__ = "pipeline_runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    document_hash: Mapped[str] = mapped_column(String(80))
    document: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    git_commit: Mapped[str | None] = mapped_column(String(64))
    wfc_version: Mapped[str] = mapped_column(String(32))
    host: Mapped[str] = mapped_column(String(256))


class Run(Base):
    """One concrete step execution or cache hit."""

    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    pipeline_run_id: Mapped[str] = mapped_column(ForeignKey("pipeline_runs.id"), index=True)
    node_id: Mapped[str] = mapped_column(String(256))
    sample: Mapped[str | None] = mapped_column(String(256))
    variant: Mapped[str | None] = mapped_column(String(256))
    members: Mapped[list[str] | None]
    module: Mapped[str] = mapped_column(String(256))
    method: Mapped[str] = mapped_column(String(256))
    code_hash: Mapped[str] = mapped_column(String(80))
    contract_hash: Mapped[str] = mapped_column(String(80))
    params: Mapped[dict[str, Any]]
    env_name: Mapped[str] = mapped_column(String(256))
    env_digest: Mapped[str] = mapped_column(String(80))
    key: Mapped[str | None] = mapped_column(String(80))  # None: cancelled before its inputs existed
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    cache_source_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"))
    cancel_cause_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"))
    error: Mapped[str | None] = mapped_column(Text)
    error_tail: Mapped[str | None] = mapped_column(Text)
    exit_code: Mapped[int | None]
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    host: Mapped[str] = mapped_column(String(256))
    pid: Mapped[int | None]
    log_dir: Mapped[str | None] = mapped_column(Text)
    stdout_object: Mapped[str | None] = mapped_column(String(80))
    stderr_object: Mapped[str | None] = mapped_column(String(80))
    metrics: Mapped[dict[str, Any] | None]
    # v4: what a re-run needs and what the execution used (NULL on older rows and on hits)
    resources: Mapped[dict[str, Any] | None]
    code_tree: Mapped[str | None] = mapped_column(String(80))  # the method directory, a tree object
    env_tree: Mapped[str | None] = mapped_column(String(80))  # the environment's Dockerfile and lock
    reproduces_id: Mapped[str | None] = mapped_column(String(32))  # a reproduction: the run it re-ran

    __table_args__ = (
        Index("ix_runs_key_status", "key", "status"),
        Index("ix_runs_node", "node_id"),
        Index("ix_runs_cache_source", "cache_source_id"),  # schema v2: lineage --down through hits
    )


class RunInput(Base):
    """One input object of a run: from an upstream run's slot, or a sample version."""

    __tablename__ = "run_inputs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    slot: Mapped[str] = mapped_column(String(256))
    position: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(8))
    source_run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"), index=True)
    source_slot: Mapped[str | None] = mapped_column(String(256))
    sample_name: Mapped[str | None] = mapped_column(String(256))
    sample_version: Mapped[int | None]


class RunOutput(Base):
    """One output of a run, archived in the store."""

    __tablename__ = "run_outputs"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    slot: Mapped[str] = mapped_column(String(256), primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(80), index=True)
    size: Mapped[int] = mapped_column(BigInteger)  # v4: outputs pass 2 GiB (PostgreSQL's INTEGER)
    kind: Mapped[str] = mapped_column(String(8))


class Sample(Base):
    """One version of a registered sample; re-adding a name with new content adds a version."""

    __tablename__ = "samples"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(256))
    version: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(8))
    original_name: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)  # v4: samples pass 2 GiB (PostgreSQL's INTEGER)
    source_path: Mapped[str] = mapped_column(Text)
    registered_at: Mapped[datetime]
    # v3: a sample sheet's extra columns ({column: value}); NULL on rows older than v3 reads as {}.
    # The attribute cannot be called ``metadata`` (SQLAlchemy's declarative base uses that name).
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata")

    __table_args__ = (UniqueConstraint("name", "version", name="uq_samples_name_version"),)


class Pin(Base):
    """A run whose outputs ``wfc cache gc`` must keep whatever ``--keep-last`` says (v2)."""

    __tablename__ = "pins"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    note: Mapped[str] = mapped_column(Text, default="")
    pinned_at: Mapped[datetime]


class Pruned(Base):
    """A run whose objects ``wfc cache gc --keep-last`` let go: ``verify`` no longer expects them (v2)."""

    __tablename__ = "pruned_runs"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    pruned_at: Mapped[datetime]


class SavedImage(Base):
    """An environment image kept in the store by ``wfc env save`` (``docker save``), so that a
    reproduction never depends on a registry or a rebuild (v4)."""

    __tablename__ = "saved_images"
    image_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    env_name: Mapped[str] = mapped_column(String(256))
    object: Mapped[str] = mapped_column(String(80))  # the ``docker save`` archive in the store
    size: Mapped[int] = mapped_column(BigInteger)  # images pass 2 GiB (PostgreSQL's INTEGER)
    saved_at: Mapped[datetime]


V1_TABLES = ("wfc_meta", "pipeline_runs", "runs", "run_inputs", "run_outputs", "samples")
