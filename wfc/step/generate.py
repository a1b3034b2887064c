"""Generate time (BRIEF §13): load a pipeline and its methods, then render it with a backend.

Backends are pure renderers in ``wfc.compile`` registered in :data:`BACKENDS`; adding one is
adding an entry. Output is deterministic: the same document and methods give the same bytes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

from wfc import __version__
from wfc.compile.snakefile import compile_snakefile
from wfc.errors import UsageError, did_you_mean
from wfc.model.method import MethodSpec
from wfc.model.pipeline import MethodNode, Pipeline, load_pipeline
from wfc.project import Project
from wfc.step.methods import load_method

Renderer = Callable[[Pipeline, str, dict[str, dict[str, int]]], str]
BACKENDS: dict[str, Renderer] = {
    "snakemake": lambda pipeline, document, resources: compile_snakefile(
        pipeline, document, __version__, resources
    ),
}
_UNITS = {"b": 1 / (1 << 20), "k": 1 / 1024, "m": 1, "g": 1024}


def generate(project: Project, pipeline_path: Path, backend: str) -> str:
    """Render a pipeline document with a backend.

    Raises:
        UsageError: Unknown backend, invalid document or method.
    """
    if backend not in BACKENDS:
        raise UsageError(
            f"unknown backend '{backend}'{did_you_mean(backend, list(BACKENDS))}",
            "backends: " + ", ".join(sorted(BACKENDS)),
        )
    pipeline, _ = load_pipeline(pipeline_path)
    specs: dict[str, MethodSpec] = {}
    for node in pipeline.nodes:
        if isinstance(node, MethodNode) and node.method not in specs:
            specs[node.method] = load_method(project, node.method).spec
    resources = {
        node.id: snakemake_resources(specs[node.method])
        for node in pipeline.nodes
        if isinstance(node, MethodNode)
    }
    return BACKENDS[backend](pipeline, project.relative(pipeline_path), resources)


def snakemake_resources(spec: MethodSpec) -> dict[str, int]:
    """A method's limits as Snakemake resources: threads, mem_mb, runtime (minutes)."""
    res = spec.resources
    found: dict[str, int] = {}
    if res.cpus:
        found["threads"] = max(1, math.ceil(res.cpus))
    if res.memory:
        number, unit = re.match(r"^(\d+(?:\.\d+)?)([bkmgBKMG]?)$", res.memory).groups()  # type: ignore[union-attr]
        found["mem_mb"] = max(1, math.ceil(float(number) * _UNITS[(unit or "b").lower()]))
    if res.timeout:
        found["runtime"] = max(1, math.ceil(res.timeout / 60))
    return found
