"""What a finished step tells the outside: its :class:`StepOutcome` (the value ``run_step``
returns, ``wfc run-step --json`` prints and run events carry) and its Pushgateway metrics."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, ClassVar

from wfc import metrics
from wfc.model.status import Status
from wfc.step.resolve import ResolvedStep, Warm


@dataclass(frozen=True)
class StepOutcome:
    """What ``run_step`` did.

    Attributes:
        run_id: The step run recorded (``r-…``).
        pipeline_run_id: The pipeline run it was recorded in (``p-…``).
        name: ``node``, ``node[sample]`` or ``node[sample|variant]``.
        key: The cache key.
        status: ``completed``, ``cached`` or ``failed``.
        reason: Why it executed (a miss), e.g. ``no earlier run with this key`` or ``forced``.
        cache_source: For a hit, the completed run whose outputs it reuses.
        outputs: Slot -> ``{"path", "hash", "size", "kind"}``.
        error: For a failure, the message (last meaningful stderr line, timeout, OOM …).
        stderr_tail: For a failure, the end of the method's standard error.
        exit_code: The method's exit code when it ran.
        log_dir: Where its logs are, relative to the project root.
        seconds: Wall time of the whole lifecycle.
        phases: Seconds per phase: resolve, restore, run, archive, total.
        metrics: The method's own metrics (those of the reused run, for a hit).
    """

    SCHEMA: ClassVar[str] = "wfc.run-step/1"

    run_id: str
    pipeline_run_id: str
    name: str
    key: str
    status: Status
    reason: str | None = None
    cache_source: str | None = None
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None
    stderr_tail: str | None = None
    exit_code: int | None = None
    log_dir: str | None = None
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, Any] | None = None
    resources: dict[str, Any] | None = None  # what an execution used (None for a hit)


def push_metrics(url: str, outcome: StepOutcome, step: ResolvedStep, warm: Warm) -> None:
    """Push a finished step's metrics; one warning per process when the gateway fails."""
    labels = {
        "pipeline_run": outcome.pipeline_run_id,
        "node": step.node.id,
        "sample": step.sample or "",
        "variant": step.variant or "",
    }
    body = metrics.exposition(
        status=outcome.status.value,
        method=step.method.ref,
        phases=outcome.phases,
        output_bytes=sum(int(o["size"]) for o in outcome.outputs.values()),
        metrics=outcome.metrics,
        resources=outcome.resources,
    )

    def warn_once(message: str) -> None:
        if url not in warm.warned:
            warm.warned.add(url)
            sys.stderr.write(message + "\n")

    metrics.push(url, labels, body, warn_once)
