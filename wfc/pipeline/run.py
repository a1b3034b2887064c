"""``run_pipeline``: compile a document to a Snakefile, let Snakemake order and parallelise its steps,
serve every step from a warm in-process worker, complete the record, and tell a live view what
happens through typed run events (BRIEF §11, §19; ADR 0009, ADR 0018).

A Ctrl-C, a SIGTERM or a set cancel token stop Snakemake, mark this run's running steps
``cancelled by user`` and remove their containers; every expected step still gets a record.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from wfc.atomic import write_text_atomic
from wfc.compile.expand import ConcreteStep, step_name
from wfc.compile.snakefile import rule_name, step_id
from wfc.compile.variables import resolve_variables
from wfc.errors import UsageError, did_you_mean
from wfc.lineage import open_lineage
from wfc.lineage.records import HOST, Lineage, RunRecord
from wfc.model.pipeline import MethodNode, load_pipeline
from wfc.model.status import Status
from wfc.pipeline import snakemake
from wfc.pipeline.complete import USER_CANCEL, Completion, complete, final_status
from wfc.pipeline.events import (
    CancelToken,
    OnEvent,
    PipelineFinished,
    PipelineNote,
    PipelineStarted,
    RunEvent,
    StepFinished,
    StepLog,
    StepQueued,
    StepStarted,
    last_lines,
)
from wfc.pipeline.generate import generate
from wfc.pipeline.shortcut import LOG_NOTE, all_cached, touch_markers, wants_snakemake
from wfc.pipeline.validate import check_document
from wfc.pipeline.worker import Listener, Worker
from wfc.project import Project
from wfc.runtime.base import OutputSink
from wfc.step.outcome import StepOutcome
from wfc.step.pipeline_run import start_pipeline_run
from wfc.step.resolve import Resolver, Warm


@dataclass(frozen=True)
class StepSummary:
    """One expected step of a pipeline run and its record."""

    name: str
    status: Status
    run_id: str
    why: str  # why it ran, where a hit came from, its error or its cause
    stderr_tail: tuple[str, ...] = ()  # for a failure: the last lines of the method's stderr


@dataclass(frozen=True)
class PipelineOutcome:
    """What a pipeline run did (the ``wfc run-pipeline --json`` document)."""

    SCHEMA: ClassVar[str] = "wfc.run-pipeline/1"

    pipeline_run: str
    status: Status
    counts: dict[str, int]
    seconds: float
    steps: tuple[StepSummary, ...]
    snakemake_log: str


def run_pipeline(
    project: Project,
    pipeline_path: Path,
    *,
    cores: int = 1,
    keep_going: bool = False,
    variables: dict[str, str] | None = None,
    force: Iterable[str] = (),
    snakemake_args: Iterable[str] = (),
    on_event: OnEvent | None = None,
    cancel: CancelToken | None = None,
    logs: bool = False,
) -> PipelineOutcome:
    """Run every step of a pipeline through Snakemake and record the complete outcome.

    Raises:
        UsageError: An invalid document, method, param, variable or forced node; an environment
            not built. A document with problems raises ``DocumentInvalid``, listing every problem
            ``validate`` finds, before anything is recorded.
        InfraError: Docker or the database is unreachable (checked before anything runs).
        KeyboardInterrupt: After cancelling the run on Ctrl-C or SIGTERM (the record is complete).
    """
    started = time.monotonic()
    pipeline, raw = load_pipeline(pipeline_path)
    given = dict(variables or {})
    check_document(project, pipeline_path, os.environ, given)
    values = resolve_variables(pipeline, os.environ, given)
    forced = _forced(pipeline.nodes, force)
    warm = Warm()
    with closing(open_lineage(project.database_url)) as lineage, closing(warm):
        resolver = Resolver(project, pipeline, lineage, str(pipeline_path), values, warm)
        steps = resolver.expansion.steps()
        fingerprints, digests = _preflight(resolver, steps)
        shortcut = not wants_snakemake(snakemake_args) and all_cached(
            resolver, steps, project.object_store().reader(), forced
        )
        if not shortcut:
            _require_runtime(resolver, digests)
        directory, lock = snakemake.workdir(project, pipeline, pipeline_path)
        with lock:
            snakefile = directory / "Snakefile"
            if not shortcut:
                write_text_atomic(snakefile, generate(project, pipeline_path, "snakemake")["Snakefile"])
            write_text_atomic(
                directory / "fingerprints.json", json.dumps(fingerprints, sort_keys=True, indent=1)
            )
            pr_id = start_pipeline_run(lineage, project, pipeline, raw)
            events = _Events(on_event or _ignore, logs)
            events.emit(
                PipelineStarted(
                    pr_id, pipeline.name, tuple(s.name for s in steps), cores, project.relative(directory)
                )
            )
            for s in steps:
                upstream = tuple(u.name for u in resolver.expansion.upstream_steps(s))
                events.emit(StepQueued(s.name, s.node, s.sample, s.variant.label, upstream))
            log = directory / "snakemake.log"
            worker = Worker(project, pr_id, given, events.listener(), warm, forced)
            raised = False
            with worker:
                code: int | None = 0
                if shortcut:  # every step a verified hit: recorded below by complete(), no Snakemake
                    write_text_atomic(log, LOG_NOTE)
                    touch_markers(directory / "markers", steps)
                else:
                    command = snakemake.argv(
                        project,
                        snakefile,
                        directory,
                        cores=cores,
                        keep_going=keep_going,
                        forcerun=sorted({rule_name(n) for n in forced}),
                        extra=list(snakemake_args),
                    )
                    env = snakemake.environment(project, worker.path, pr_id, pipeline, given)
                    try:
                        code = snakemake.run(command, env, log, cancel)
                    except KeyboardInterrupt:
                        code, raised = None, True
                if code is None:
                    _cancel(lineage, pr_id, events)
            if code not in (None, 0) and not any(r.status == Status.FAILED for r in lineage.runs_of(pr_id)):
                tail = log.read_text(errors="replace").splitlines()[-15:]
                note = f"Snakemake stopped with exit code {code}; the end of {project.relative(log)}:"
                events.emit(PipelineNote("\n".join([note, *(f"  {line}" for line in tail)]), "warning"))
            how = Completion(stopped=code != 0, interrupted=code is None)
            records = complete(
                project, resolver, lineage, pr_id, steps, how, lambda s: worker.run_concrete(s, pipeline_path)
            )
            summary = tuple(_summary(s, records[(s.node, s.sample, s.variant.label)]) for s in steps)
            for s in steps:
                events.finish_from_record(s, records[(s.node, s.sample, s.variant.label)])
            status = final_status(list(records.values()), how.interrupted)
            lineage.finish_pipeline_run(pr_id, status)
    counts = {s.value: 0 for s in Status if s is not Status.RUNNING}
    for item in summary:
        counts[item.status] = counts.get(item.status, 0) + 1
    seconds = round(time.monotonic() - started, 3)
    events.emit(PipelineFinished(pr_id, status, counts, seconds))
    if raised:
        raise KeyboardInterrupt
    return PipelineOutcome(pr_id, status, counts, seconds, summary, project.relative(log))


class _Events:
    """Emits run events in order, from Snakemake's jobs' threads too; each step finishes once."""

    def __init__(self, on_event: OnEvent, logs: bool) -> None:
        self.on_event = on_event
        self.logs = logs
        self.finished: set[tuple[str, str | None, str | None]] = set()
        self.cancelling = False  # set when the run is being cancelled
        self.lock = threading.RLock()

    def emit(self, event: RunEvent) -> None:
        with self.lock:
            self.on_event(event)

    def listener(self) -> Listener:
        return Listener(self._started, self._finished, self._output)

    def _started(self, node: str, sample: str | None, variant: str | None) -> None:
        self.emit(StepStarted(step_name(node, sample, variant), node, sample, variant))

    def _finished(
        self, node: str, sample: str | None, variant: str | None, outcome: StepOutcome | None
    ) -> None:
        if outcome is None or self.cancelling:  # the completed record says what became of it
            return
        with self.lock:
            self.finished.add((node, sample, variant))
            why = (
                outcome.error
                or outcome.reason
                or (f"from {outcome.cache_source}" if outcome.cache_source else "")
            )
            tail = last_lines(outcome.stderr_tail)
            self.emit(
                StepFinished(
                    outcome.name,
                    node,
                    sample,
                    variant,
                    outcome.status,
                    outcome.run_id,
                    outcome.seconds,
                    why,
                    tail,
                )
            )

    def finish_from_record(self, step: ConcreteStep, run: RunRecord) -> None:
        """The finished event of a step recorded without the worker (a hit Snakemake skipped, a
        cancelled step) or whose request failed before it recorded itself."""
        ref = (step.node, step.sample, step.variant.label)
        with self.lock:
            if ref in self.finished:
                return
            self.finished.add(ref)
            seconds = (run.ended_at - run.started_at).total_seconds() if run.ended_at else 0.0
            status, tail = Status(run.status), last_lines(run.error_tail)
            self.emit(StepFinished(step.name, *ref, status, run.id, round(seconds, 3), _why(run), tail))

    def _output(self, node: str, sample: str | None, variant: str | None) -> OutputSink | None:
        if not self.logs:
            return None
        name = step_name(node, sample, variant)
        pending = {"stdout": b"", "stderr": b""}

        def sink(stream: str, chunk: bytes) -> None:
            *lines, pending[stream] = (pending[stream] + chunk).split(b"\n")
            for line in lines:
                text = line.decode("utf-8", "replace").rstrip("\r")
                self.emit(StepLog(name, "stderr" if stream == "stderr" else "stdout", text))

        return sink


def _forced(nodes: Iterable[Any], force: Iterable[str]) -> frozenset[str]:
    method_nodes = [n.id for n in nodes if isinstance(n, MethodNode)]
    for node in force:
        if node not in method_nodes:
            raise UsageError(
                f"--force {node}: no method node '{node}'{did_you_mean(node, method_nodes)}",
                "method nodes: " + ", ".join(method_nodes),
            )
    return frozenset(force)


def _preflight(
    resolver: Resolver, steps: list[ConcreteStep]
) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Refuse bad params and environments not built before anything runs; return every step's
    fingerprint and the image digest of every environment used."""
    fingerprints: dict[str, dict[str, str]] = {}
    digests: dict[str, str] = {}
    for step in steps:
        node = resolver.pipeline.node(step.node)
        assert isinstance(node, MethodNode)
        fingerprints.setdefault(step.node, {})[step_id(step)] = resolver.fingerprint(
            node, step.sample, step.variant
        )
        env = resolver.method(node.method).spec.env
        digests[env] = resolver.lock(env).image_id
    return fingerprints, digests


def _require_runtime(resolver: Resolver, digests: dict[str, str]) -> None:
    """Refuse before anything runs when Docker is unreachable or an image is gone; reap orphans."""
    if resolver.project.get("runtime") != "docker" or not digests:
        return
    from wfc.runtime.docker import docker_client, require_image
    from wfc.runtime.reaper import reap_orphans

    client = docker_client()
    try:
        for env, digest in sorted(digests.items()):
            require_image(client, env, digest)
        reap_orphans(client, resolver.project.root, partial(_over, resolver.lineage))
    finally:
        client.close()


def _over(lineage: Lineage, run_id: str) -> bool:
    """Whether a run's containers may go: it ended, is unknown, or its process here died."""
    from wfc.runtime.reaper import pid_alive

    run = lineage.run_by_id(run_id)
    return run is None or run.status != "running" or (run.host == HOST and not pid_alive(run.pid))


def _cancel(lineage: Lineage, pr_id: str, events: _Events) -> None:
    """Mark running steps cancelled, then stop and remove this pipeline run's containers."""
    events.cancelling = True  # from now on, a step's record decides its finished event
    cancelled = lineage.cancel_running(pr_id, USER_CANCEL)
    removed = 0
    try:
        from wfc.runtime.docker import docker_client
        from wfc.runtime.reaper import remove_labelled

        client = docker_client()
        with closing(client):
            removed = remove_labelled(client, f"wfc.pipeline-run={pr_id}")
    except Exception as exc:  # cancelling must go on: report and continue
        events.emit(PipelineNote(f"warning: could not remove this run's containers: {exc}", "warning"))
    events.emit(
        PipelineNote(f"interrupted: {cancelled} running steps cancelled, {removed} containers removed")
    )


def _summary(step: ConcreteStep, run: RunRecord) -> StepSummary:
    return StepSummary(step.name, Status(run.status), run.id, _why(run), last_lines(run.error_tail))


def _why(run: RunRecord) -> str:
    return run.error or run.reason or (f"from {run.cache_source_id}" if run.cache_source_id else "")


def _ignore(_event: RunEvent) -> None:
    pass
