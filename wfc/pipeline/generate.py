"""Generate time (BRIEF §13): load a pipeline and its methods, then render it with a backend.

Backends are pure renderers in ``wfc.compile`` registered in :data:`BACKENDS`; adding one is
one module plus one entry. Output is deterministic: the same document, methods and values give
the same bytes, with relative paths only and nothing from the machine's environment (pipeline
variables take their defaults; their run-time values come from ``WFC_VAR_*`` where steps run).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from wfc import __version__
from wfc.bundle import archive
from wfc.compile.argo import render_argo
from wfc.compile.backend import GenerateInput, Render, StepPlan
from wfc.compile.dvc import render_dvc
from wfc.compile.expand import Expansion
from wfc.compile.snakefile import compile_snakefile, path_segment, run_step_argv, step_id
from wfc.compile.variables import VAR_KEY, resolve_variables
from wfc.environments.build import LOCK_FILE, workflow_image
from wfc.errors import UsageError, did_you_mean
from wfc.methods import Method, load_method
from wfc.model.method import MethodSpec
from wfc.model.pipeline import MethodNode, load_pipeline
from wfc.model.values import Values
from wfc.project import Project
from wfc.samples import catalog_for


@dataclass(frozen=True)
class Backend:
    """A target engine: its renderer and where its output goes by default."""

    render: Render
    files: tuple[str, ...]  # the files it writes (one: -o is that file; several: -o is a directory)
    bundles: bool = False  # archive the document and methods in the store (tasks run elsewhere)


def _snakefile(gen: GenerateInput, values: Values) -> dict[str, str]:
    markers = values.snakemake.markers_dir or f".wfc/markers/{path_segment(gen.pipeline.name)}"
    return {
        "Snakefile": compile_snakefile(
            gen.pipeline, gen.document, gen.version, gen.resources, markers, catalog=gen.catalog
        )
    }


BACKENDS: dict[str, Backend] = {
    "snakemake": Backend(_snakefile, ("Snakefile",)),
    "argo": Backend(render_argo, ("workflow.yaml",), bundles=True),
    "dvc": Backend(render_dvc, ("dvc.yaml", "params.yaml")),
}
_UNITS = {"b": 1 / (1 << 20), "k": 1 / 1024, "m": 1, "g": 1024}


def backend_of(name: str) -> Backend:
    """A registered backend.

    Raises:
        UsageError: Unknown backend.
    """
    if name not in BACKENDS:
        raise UsageError(
            f"unknown backend '{name}'{did_you_mean(name, list(BACKENDS))}",
            "backends: " + ", ".join(sorted(BACKENDS)),
        )
    return BACKENDS[name]


def generate(
    project: Project,
    pipeline_path: Path,
    backend: str,
    values: Values | None = None,
    *,
    out_dir: Path | None = None,
) -> dict[str, str]:
    """Render a pipeline document with a backend: its files by name. ``out_dir``: where they
    will be written (the project root when None); DVC runs its commands there.

    Raises:
        UsageError: Unknown backend, invalid document or method, or values naming unknown nodes.
    """
    chosen = backend_of(backend)
    values = values or Values()
    gen, methods = generate_input(project, pipeline_path)
    unknown = sorted(set(values.argo.nodes) - {s.node for s in gen.steps})
    if unknown:
        nodes = sorted({s.node for s in gen.steps})
        name = unknown[0]
        raise UsageError(
            f"values: argo.nodes.{name}: no method node '{name}'{did_you_mean(name, nodes)}",
            "method nodes: " + ", ".join(nodes),
        )
    if out_dir is not None:
        gen = replace(gen, root=os.path.relpath(project.root, out_dir.resolve()))
    if chosen.bundles:
        store = project.object_store()
        gen = replace(gen, bundle=archive(project, store, pipeline_path, methods))
    return chosen.render(gen, values)


def generate_input(project: Project, pipeline_path: Path) -> tuple[GenerateInput, list[Method]]:
    """Expand a document and resolve what generate time can know about each step; also return
    the methods it uses (loaded once, code trees hashed once)."""
    pipeline, _ = load_pipeline(pipeline_path)
    methods: dict[str, Method] = {}
    for node in pipeline.nodes:
        if isinstance(node, MethodNode) and node.method not in methods:
            methods[node.method] = load_method(project, node.method)
    defaults = resolve_variables(pipeline, {}, {})
    catalog = catalog_for(project, pipeline)  # what an input node's select picks from
    expansion = Expansion(pipeline, catalog)
    steps = []
    for concrete in expansion.steps():
        node = pipeline.node(concrete.node)
        assert isinstance(node, MethodNode)
        method = methods[node.method]
        steps.append(
            StepPlan(
                id=step_id(concrete),
                name=concrete.name,
                node=node.id,
                sample=concrete.sample,
                variant=concrete.variant.label,
                argv=run_step_argv(concrete),
                after=sorted({step_id(up) for up in expansion.upstream_steps(concrete)}),
                env=method.spec.env,
                method=method.ref,
                params=_params(
                    node, method.spec, concrete.sample, concrete.variant.choice(node.id), defaults
                ),
            )
        )
    envs = sorted({m.spec.env for m in methods.values()})
    locks = {e: f"environments/{e}/{LOCK_FILE}" for e in envs if (project.environments_dir / e).is_dir()}
    gen = GenerateInput(
        pipeline=pipeline,
        document=project.relative(pipeline_path),
        version=__version__,
        steps=steps,
        method_dirs={ref: project.relative(m.directory) for ref, m in methods.items()},
        env_locks=locks,
        images={e: workflow_image(project, e) for e in envs},
        resources={
            n.id: snakemake_resources(methods[n.method].spec)
            for n in pipeline.nodes
            if isinstance(n, MethodNode)
        },
        catalog=catalog,
    )
    return gen, [methods[ref] for ref in sorted(methods)]


def _params(
    node: MethodNode, spec: MethodSpec, sample: str | None, choice: str | None, values: dict[str, Any]
) -> dict[str, Any]:
    """A step's params as generate time knows them: variables at their defaults; a variable
    without a default stays ``{"$var": name}`` (its value comes at run time)."""
    given = dict(node.params)
    if choice is not None:
        given.update(dict(node.choices())[choice])
    if sample is not None:
        given.update(node.overrides.get(sample, {}))
    pending = False
    for key, value in list(given.items()):
        if isinstance(value, dict) and set(value) == {VAR_KEY}:
            name = str(value[VAR_KEY])
            if name in values:
                given[key] = values[name]
            else:
                pending = True
    return given if pending else spec.resolve_params(given, f"nodes[{node.id}].params")


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
