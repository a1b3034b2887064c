"""Run events (BRIEF §19): what ``run_pipeline`` tells a live view, in order, as typed values.

A pipeline run emits :class:`PipelineStarted`; one :class:`StepQueued` per expected concrete step;
for each step that runs, :class:`StepStarted`, optionally :class:`StepLog` lines, then exactly one
:class:`StepFinished` per step (also for steps recorded ``cached`` or ``cancelled`` without
running); finally :class:`PipelineFinished`. :class:`PipelineNote` carries what people should
read on the way (Snakemake stopped, a run was interrupted). Events carry what a view needs without reading the
database; the database stays the record of truth. Every event is a frozen dataclass with a
``kind`` tag, so its JSON form (``wfc.output.to_document``) says what it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from wfc.model.status import Status


@dataclass(frozen=True)
class PipelineStarted:
    """A pipeline run was recorded and Snakemake is about to start."""

    pipeline_run: str
    pipeline: str
    steps: tuple[str, ...]  # every expected step, in dependency order
    cores: int
    snakemake_dir: str  # Snakemake's working directory, relative to the project
    kind: Literal["pipeline-started"] = "pipeline-started"


@dataclass(frozen=True)
class PipelineNote:
    """Something the people watching should read (Snakemake stopped, a run was interrupted)."""

    message: str
    level: Literal["info", "warning"] = "info"
    kind: Literal["pipeline-note"] = "pipeline-note"


@dataclass(frozen=True)
class StepQueued:
    """An expected concrete step, waiting for its upstream steps or a free core."""

    step: str  # node, node[sample] or node[sample|variant]
    node: str
    sample: str | None
    variant: str | None
    upstream: tuple[str, ...] = ()  # the steps it waits for
    kind: Literal["step-queued"] = "step-queued"


@dataclass(frozen=True)
class StepStarted:
    """A step's lifecycle started (it may still turn out to be a hit)."""

    step: str
    node: str
    sample: str | None
    variant: str | None
    kind: Literal["step-started"] = "step-started"


@dataclass(frozen=True)
class StepLog:
    """A line the running method wrote (only when ``run_pipeline(logs=True)``)."""

    step: str
    stream: Literal["stdout", "stderr"]
    line: str
    kind: Literal["step-log"] = "step-log"


@dataclass(frozen=True)
class StepFinished:
    """A step's record in this pipeline run: ``completed``, ``cached``, ``failed`` or ``cancelled``."""

    step: str
    node: str
    sample: str | None
    variant: str | None
    status: Status
    run_id: str
    seconds: float
    why: str  # why it ran, where it came from, its error or its cause
    stderr_tail: tuple[str, ...] = ()  # the last lines of a failed method's standard error
    kind: Literal["step-finished"] = "step-finished"


@dataclass(frozen=True)
class PipelineFinished:
    """The pipeline run ended; every expected step has a record."""

    pipeline_run: str
    status: Status
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    kind: Literal["pipeline-finished"] = "pipeline-finished"


RunEvent = (
    PipelineStarted | PipelineNote | StepQueued | StepStarted | StepLog | StepFinished | PipelineFinished
)
OnEvent = Callable[[RunEvent], None]


def last_lines(text: str | None, count: int = 5) -> tuple[str, ...]:
    """The last ``count`` non-blank lines of a log tail (wfc's attempt markers left out)."""
    lines = [ln for ln in (text or "").splitlines() if ln.strip() and not ln.startswith("=== wfc:")]
    return tuple(lines[-count:])


class CancelToken(Protocol):
    """Anything with ``is_set()``, e.g. a :class:`threading.Event`: set it to cancel a run."""

    def is_set(self) -> bool:
        """Whether cancelling was asked for."""
        ...
