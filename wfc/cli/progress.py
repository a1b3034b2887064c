"""What ``wfc run-pipeline`` shows while it runs: a line per finished step with counts and an ETA
(one line rewritten in place on a terminal), built from the API's run events."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

from wfc.cli.boundary import say
from wfc.model.status import Status
from wfc.output import plural
from wfc.pipeline.events import (
    PipelineNote,
    PipelineStarted,
    RunEvent,
    StepFinished,
    StepStarted,
)

SHOWN = (Status.COMPLETED, Status.CACHED, Status.FAILED)  # counted in the progress line


@dataclass
class Progress:
    """Counts the steps that run as they finish; prints one line each (or one live line)."""

    live: bool = field(default_factory=lambda: sys.stderr.isatty())
    total: int = 0
    started: float = field(default_factory=time.monotonic)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SHOWN, 0))
    running: set[str] = field(default_factory=set)

    def __call__(self, event: RunEvent) -> None:
        """The ``on_event`` of a pipeline run."""
        if isinstance(event, PipelineStarted):
            self.total = len(event.steps)
            say(
                f"pipeline run {event.pipeline_run}: {plural(len(event.steps), 'step')},"
                f" {plural(event.cores, 'core')}"
                f" (Snakemake in {event.snakemake_dir})"
            )
        elif isinstance(event, PipelineNote):
            self.end_line()
            say(event.message)
        elif isinstance(event, StepStarted):
            self.running.add(event.step)
        elif isinstance(event, StepFinished) and event.step in self.running:
            self.running.discard(event.step)
            self.counts[event.status] = self.counts.get(event.status, 0) + 1
            self.show(self.line(f"{event.step} {event.status}"))
            if event.status == Status.FAILED:
                self.show(f"  error: step {event.step} failed: {event.why}", keep=True)

    def line(self, last: str) -> str:
        """``[done/total] last step (completed, cached, failed, running, ETA)``."""
        done = sum(self.counts.values())
        elapsed = time.monotonic() - self.started
        eta = elapsed / done * (self.total - done) if done else 0.0
        ran, cached, failed = (self.counts[s] for s in SHOWN)
        return (
            f"[{done}/{self.total}] {last} ({ran} ran, {cached} cached, {failed} failed, "
            f"{len(self.running)} running, ETA {int(eta) // 60}:{int(eta) % 60:02d})"
        )

    def show(self, line: str, keep: bool = False) -> None:
        """On a terminal, progress rewrites one line; elsewhere it is one line per step."""
        if not self.live:
            say(line)
            return
        sys.stderr.write("\r\x1b[K" + line + ("\n" if keep else ""))
        sys.stderr.flush()

    def end_line(self) -> None:
        """Leave the live line before other output."""
        if self.live:
            sys.stderr.write("\n")
