"""The unchanged rerun without Snakemake: when every step of a pipeline run is a verified hit,
``run_pipeline`` records the hits itself and never starts Snakemake (its start-up and DAG build
would be the whole cost of the run).

The decision is made in the run-pipeline process with the resolver the run uses anyway: every
step resolves (its inputs are recorded), its method caches, it is not forced, and a completed
run with its key has all its outputs in the store. The record is then made by the same code that
records the steps Snakemake finds up to date (:func:`wfc.pipeline.complete.complete`), so the two
paths give the same record; a hit that vanishes in between is run like any missing step.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

from wfc.compile.expand import ConcreteStep
from wfc.compile.snakefile import step_id
from wfc.errors import WfcError
from wfc.model.pipeline import MethodNode
from wfc.step.lifecycle import find_reusable
from wfc.step.resolve import Resolver
from wfc.store.local import ObjectStore

# Snakemake options that only say where and how jobs run: with every step cached there are none
# to run, so they do not need Snakemake. Any other option (--printshellcmds, --dry-run, --touch…)
# is a wish to see or steer Snakemake itself, and it runs.
EXECUTION_OPTIONS = (
    "--executor",
    "-e",
    "--jobs",
    "-j",
    "--default-resources",
    "--set-resources",
    "--set-threads",
    "--resources",
    "--latency-wait",
    "--retries",
    "--slurm-",
    "--cluster-generic-",
    "--kubernetes-",
    "--quiet",
    "-q",
)
LOG_NOTE = "Snakemake was not started: every step was cached, and wfc run-pipeline recorded them.\n"


def wants_snakemake(args: Iterable[str]) -> bool:
    """Whether the arguments given after ``--`` ask for more than where and how jobs run."""
    options = [a for a in args if a.startswith("-")]
    return any(not a.split("=", 1)[0].startswith(EXECUTION_OPTIONS) for a in options)


def all_cached(
    resolver: Resolver, steps: list[ConcreteStep], store: ObjectStore, forced: frozenset[str]
) -> bool:
    """Whether every step would be recorded ``cached`` (checked in order; stops at the first miss)."""
    seen: set[str] = set()
    for step in steps:
        node = resolver.pipeline.node(step.node)
        assert isinstance(node, MethodNode)
        if step.node in forced or not resolver.method(node.method).spec.cache:
            return False
        try:
            key = resolver.resolve_in(node, step.sample, step.variant).key
        except WfcError:  # an upstream step without a record, a sample gone: Snakemake's path says why
            return False
        if key not in seen and find_reusable(resolver.lineage, store, key)[0] is None:
            return False
        seen.add(key)
    return True


def touch_markers(markers: Path, steps: list[ConcreteStep]) -> None:
    """Leave Snakemake's markers as a run of it would: one per step, none newer than another, so
    a later run under Snakemake finds every unchanged step up to date."""
    moment = time.time_ns()
    for step in steps:
        path = markers / step.node / f"{step_id(step)}.done"
        try:
            os.utime(path, ns=(moment, moment))
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
            os.utime(path, ns=(moment, moment))
