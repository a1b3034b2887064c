"""What the step lifecycle reads and writes in the lineage database, independent of the driver.

Field names equal the column names of ``wfc.lineage.schema``; times are naive UTC.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from wfc.errors import UsageError, WfcError
from wfc.model.status import Status

SCHEMA_VERSION = 4
HOST = socket.gethostname()
STALE_MESSAGE = "the process running this step died (claim taken over by a later run)"
EARLIER_LIMIT = 200  # earlier runs a new run is compared with (``wfc why``, a run's reason)


def newer_schema(version: int) -> UsageError:
    """The error for a database written by a newer wfc."""
    return UsageError(
        f"the database schema is version {version}, newer than this wfc understands ({SCHEMA_VERSION})",
        "upgrade wfc (pip install -U wfc)",
    )


def behind_schema(version: int) -> UsageError:
    """The error for a database that a read-only command finds behind this wfc (it never migrates)."""
    return UsageError(
        f"the database schema is version {version}, older than this wfc's ({SCHEMA_VERSION}); "
        "a command that only reads does not upgrade it",
        "upgrade it with `wfc doctor` (or any command that records, such as `wfc run-step`)",
    )


class ReadOnlyDatabase(WfcError):
    """A write through a lineage database opened read-only (a bug: reading commands never write)."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"the lineage database is open read-only: refused {what}",
            "a command that only reads tried to write; please report this as a bug",
        )


def now() -> datetime:
    """The current time as naive UTC (how every driver stores it)."""
    return datetime.now(UTC).replace(tzinfo=None)


def completion(
    metrics: dict[str, Any], logs: tuple[str | None, str | None], resources: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The column values that mark a run ``completed`` (both drivers write exactly these)."""
    return {
        "resources": resources,
        "status": Status.COMPLETED.value,
        "ended_at": now(),
        "metrics": metrics,
        "exit_code": 0,
        "stdout_object": logs[0],
        "stderr_object": logs[1],
    }


def failure(
    status: Status,
    error: str,
    tail: str | None,
    exit_code: int | None,
    logs: tuple[str | None, str | None],
    resources: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The column values that mark a run ``failed`` or ``cancelled`` (both drivers write these)."""
    return {
        "resources": resources,
        "status": status.value,
        "ended_at": now(),
        "error": error,
        "error_tail": tail,
        "exit_code": exit_code,
        "stdout_object": logs[0],
        "stderr_object": logs[1],
    }


@dataclass(frozen=True)
class PipelineRunRecord:
    """One pipeline run."""

    id: str
    name: str
    document_hash: str
    document: str
    status: str
    started_at: datetime
    wfc_version: str
    host: str = HOST
    ended_at: datetime | None = None
    git_commit: str | None = None


@dataclass(frozen=True)
class RunRecord:
    """One concrete step execution or cache hit."""

    id: str
    pipeline_run_id: str
    node_id: str
    sample: str | None
    variant: str | None
    members: list[str] | None
    module: str
    method: str
    code_hash: str
    contract_hash: str
    params: dict[str, Any]
    env_name: str
    env_digest: str
    key: str | None
    status: str
    started_at: datetime
    host: str = HOST
    pid: int | None = None
    reason: str | None = None
    cache_source_id: str | None = None
    cancel_cause_id: str | None = None
    error: str | None = None
    error_tail: str | None = None
    exit_code: int | None = None
    ended_at: datetime | None = None
    log_dir: str | None = None
    stdout_object: str | None = None
    stderr_object: str | None = None
    metrics: dict[str, Any] | None = field(default=None)
    # v4: what the execution used, measured by the runtime (see ``wfc.runtime.base.Resources``):
    # {"wall_s", "cpu_s", "peak_memory_bytes", "read_bytes", "written_bytes"}; a hit has None
    resources: dict[str, Any] | None = field(default=None)
    code_tree: str | None = None  # v4: the method directory as a tree object in the store
    env_tree: str | None = None  # v4: the environment's Dockerfile and lock as a tree object
    reproduces_id: str | None = None  # v4: set on a reproduction (``wfc reproduce``): the original


@dataclass(frozen=True)
class InputRecord:
    """One input object of a run."""

    run_id: str
    slot: str
    position: int
    content_hash: str
    kind: str
    source_run_id: str | None = None
    source_slot: str | None = None
    sample_name: str | None = None
    sample_version: int | None = None


@dataclass(frozen=True)
class OutputRecord:
    """One archived output of a run."""

    run_id: str
    slot: str
    path: str
    content_hash: str
    size: int
    kind: str


@dataclass(frozen=True)
class SampleRecord:
    """One version of a sample; ``metadata`` holds the extra columns of a sample sheet (v3)."""

    name: str
    version: int
    content_hash: str
    kind: str
    original_name: str
    size: int
    source_path: str
    registered_at: datetime
    metadata: dict[str, str] = field(default_factory=dict)


SampleChange = Literal["added", "updated", "unchanged"]
"""What registering a sample did: a new version, new metadata on the newest one, or nothing."""


def sample_change(
    latest: SampleRecord | None, sample: SampleRecord, *, keep_metadata: bool = False
) -> tuple[SampleRecord, SampleChange]:
    """What registering ``sample`` does, given the newest version of its name (both drivers apply
    this): the record as it will be stored, and the change. A version is content: the same content
    never makes a new version, whatever its metadata."""
    if latest is not None and latest.content_hash == sample.content_hash:
        if keep_metadata or latest.metadata == sample.metadata:
            return latest, "unchanged"
        return replace(latest, metadata=dict(sample.metadata)), "updated"
    metadata = latest.metadata if keep_metadata and latest is not None else sample.metadata
    version = latest.version + 1 if latest is not None else 1
    return replace(sample, version=version, metadata=dict(metadata)), "added"


class Lineage(Protocol):
    """The lineage operations of the step lifecycle; every write is one transaction."""

    def find_completed(self, key: str) -> tuple[RunRecord, list[OutputRecord]] | None:
        """The newest executed, completed run with this key and its outputs."""
        ...

    def sample_version(self, name: str, version: int | None = None) -> SampleRecord | None:
        """A sample by name: the given version, or the newest."""
        ...

    def list_samples(self) -> list[SampleRecord]:
        """Every sample version by name, then version."""
        ...

    def add_sample_version(self, sample: SampleRecord) -> tuple[SampleRecord, bool]:
        """Record new content as the next version; the same content returns the existing one."""
        ...

    def register_samples(
        self, samples: list[SampleRecord], *, keep_metadata: bool = False
    ) -> list[tuple[SampleRecord, SampleChange]]:
        """Record many samples in one transaction, each like :meth:`add_sample_version`, except
        that the same content with other metadata replaces the newest version's metadata
        (``updated``). ``keep_metadata``: the records bring no metadata; a new version takes
        its predecessor's and nothing is ``updated``."""
        ...

    def create_pipeline_run(self, run: PipelineRunRecord) -> None:
        """Record a pipeline run."""
        ...

    def has_pipeline_run(self, pipeline_run_id: str) -> bool:
        """Whether a pipeline run with this id is recorded."""
        ...

    def finish_pipeline_run(self, pipeline_run_id: str, status: Status) -> None:
        """Close a pipeline run with its final status."""
        ...

    def start_run(self, run: RunRecord, inputs: list[InputRecord]) -> None:
        """Record a claimed run as ``running`` with its inputs."""
        ...

    def record_cached(self, run: RunRecord, inputs: list[InputRecord], outputs: list[OutputRecord]) -> None:
        """Record a finished run (a cache hit, or a step cancelled before it ran) with its rows."""
        ...

    def runs_of(self, pipeline_run_id: str) -> list[RunRecord]:
        """Every step run recorded in a pipeline run, oldest first."""
        ...

    def earlier_runs(self, node: str, module: str, method: str) -> list[tuple[RunRecord, str]]:
        """Keyed runs of this node id (else, when it has none, of this method), each with the
        name of its pipeline; newest first, at most 200: what a new run is compared with."""
        ...

    def inputs_of(self, run_id: str) -> list[InputRecord]:
        """The input rows of a run in slot and position order."""
        ...

    def run_by_id(self, run_id: str) -> RunRecord | None:
        """A run by its exact id."""
        ...

    def cancel_running(self, pipeline_run_id: str, message: str) -> int:
        """Mark a pipeline run's ``running`` steps ``cancelled``; return how many."""
        ...

    def complete_run(
        self,
        run_id: str,
        outputs: list[OutputRecord],
        metrics: dict[str, Any],
        logs: tuple[str | None, str | None],
        resources: dict[str, Any] | None = None,
    ) -> None:
        """Mark a run ``completed`` together with its outputs and what it used: one transaction."""
        ...

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
        """Mark a run ``failed`` (or ``cancelled``) with its message, logs and what it used."""
        ...

    def fail_stale(self, key: str, host: str) -> list[str]:
        """Fail this host's ``running`` runs of ``key`` (their process died); return their ids."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
