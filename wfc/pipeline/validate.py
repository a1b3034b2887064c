"""``wfc validate``: every problem of a pipeline document at once, each with its JSON path and a fix.

Schema problems come from the pydantic model (all of them); then the document is checked against
the project: methods, slots, links, params of every variant and sample override, variables,
registered samples and per-sample joins. Type mismatches between linked slots are warnings.
"""

from __future__ import annotations

import json
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from wfc.compile.expand import Variant, sample_ref
from wfc.compile.variables import resolve_variables
from wfc.errors import UsageError, did_you_mean
from wfc.lineage import open_lineage
from wfc.model.base import describe
from wfc.model.pipeline import InputNode, MethodNode, Pipeline
from wfc.project import Project
from wfc.step.resolve import Resolver


@dataclass(frozen=True)
class Problem:
    """One finding: where, what, how to fix it."""

    path: str
    message: str
    hint: str
    severity: Literal["error", "warning"] = "error"


def validate(project: Project, pipeline_path: Path, environ: dict[str, str]) -> list[Problem]:
    """Every problem of a pipeline document (empty when it is valid)."""
    try:
        data = json.loads(pipeline_path.read_bytes())
    except FileNotFoundError:
        return [Problem("", f"pipeline file not found: {pipeline_path}", "check the path")]
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return [Problem("", f"invalid JSON: {exc}", "fix the JSON syntax")]
    try:
        pipeline = Pipeline.model_validate(data)
    except ValidationError as exc:
        return [
            Problem(*describe(err), "see docs/pipelines.md for the document format") for err in exc.errors()
        ]
    problems: list[Problem] = []
    with closing(open_lineage(project.database_url)) as lineage:
        try:
            values = resolve_variables(pipeline, environ, {})
        except UsageError as exc:
            problems.append(Problem("variables", exc.message, exc.hint))
            values = {}
        resolver = Resolver(project, pipeline, lineage, str(pipeline_path), values)
        problems += _check_nodes(resolver)
        problems += _check_links(resolver)
    return problems


def _check_nodes(resolver: Resolver) -> list[Problem]:
    problems: list[Problem] = []
    for i, node in enumerate(resolver.pipeline.nodes):
        where = f"nodes[{i}]"
        if isinstance(node, InputNode):
            for name, version in map(sample_ref_safe, node.samples):
                if name and resolver.lineage.sample_version(name, version) is None:
                    what = f"{name}@{version}" if version else name
                    problems.append(
                        Problem(
                            f"{where}.samples",
                            f"unknown sample '{what}'",
                            f"register it with `wfc sample add {name} PATH`",
                        )
                    )
            continue
        try:
            resolver.method(node.method)
        except UsageError as exc:
            problems.append(Problem(f"{where}.method", exc.message, exc.hint))
            continue
        try:
            samples = resolver.expansion.samples_of(node.id)
            for sample in node.overrides:
                if samples is None or sample not in samples:
                    problems.append(
                        Problem(
                            f"{where}.overrides.{sample}",
                            f"'{sample}' is not a sample of this node{did_you_mean(sample, samples or [])}",
                            "samples: " + (", ".join(samples or []) or "none (not per-sample)"),
                        )
                    )
            contexts = resolver.expansion.variants_of(node.id)
            own = [v for v in contexts if v.choice(node.id) is not None] or [Variant()]
            for each in [None, *node.overrides]:
                for variant in {v.choice(node.id): v for v in own}.values():
                    resolver.params_of(node, each, variant)
        except UsageError as exc:  # the message names its own location (nodes[id].params.name)
            problems.append(Problem("", exc.message, exc.hint))
    return _unique(problems)


def _check_links(resolver: Resolver) -> list[Problem]:
    pipeline = resolver.pipeline
    problems: list[Problem] = []
    fed: dict[tuple[str, str], int] = {}
    for j, link in enumerate(pipeline.links):
        source, target = pipeline.node(link.source.node), pipeline.node(link.target.node)
        if isinstance(target, InputNode):
            problems.append(
                Problem(
                    f"links[{j}].to",
                    f"'{target.id}' is an input node: nothing flows into it",
                    "link to a method node",
                )
            )
            continue
        try:
            spec = resolver.method(target.method).spec
        except UsageError:
            continue  # reported on the node
        slot: str | None = link.target.slot or (next(iter(spec.inputs)) if len(spec.inputs) == 1 else None)
        if slot is None or slot not in spec.inputs:
            shown = link.target.slot or "(none)"
            problems.append(
                Problem(
                    f"links[{j}].to",
                    f"'{target.id}' has no input slot {shown}{did_you_mean(shown, list(spec.inputs))}",
                    f'write "to": "{target.id}.SLOT" with one of: ' + ", ".join(spec.inputs),
                )
            )
            continue
        count = 1
        if isinstance(source, InputNode):
            if link.source.slot not in (None, "data"):
                problems.append(
                    Problem(
                        f"links[{j}].from",
                        f"input node '{source.id}' has one slot, 'data'",
                        f'write "from": "{source.id}"',
                    )
                )
            if source.mode == "all" or link.gather:
                count = len(source.samples)
        else:
            problems += _source_slot(resolver, j, source, link.source.slot, spec.inputs[slot].type)
            if link.gather:
                count = 2  # a gathered list
        fed[(target.id, slot)] = fed.get((target.id, slot), 0) + count
    for i, node in enumerate(pipeline.nodes):
        if not isinstance(node, MethodNode):
            continue
        try:
            spec = resolver.method(node.method).spec
        except UsageError:
            continue
        for slot, declared in spec.inputs.items():
            n = fed.get((node.id, slot), 0)
            if declared.required and n == 0:
                problems.append(
                    Problem(
                        f"nodes[{i}]",
                        f"required input slot '{slot}' of '{node.id}' is not fed",
                        f'add a link {{"from": "...", "to": "{node.id}.{slot}"}}',
                    )
                )
            if n > 1 and not declared.multiple:
                problems.append(
                    Problem(
                        f"nodes[{i}]",
                        f"input slot '{slot}' of '{node.id}' receives several inputs but is not multiple",
                        f"declare inputs.{slot}.multiple: true, or feed it one input",
                    )
                )
    return problems


def _source_slot(
    resolver: Resolver, j: int, source: MethodNode, slot: str | None, wanted: str
) -> list[Problem]:
    try:
        outputs = resolver.method(source.method).spec.outputs
    except UsageError:
        return []
    name = slot or (next(iter(outputs)) if len(outputs) == 1 else None)
    if name is None or name not in outputs:
        shown = slot or "(none)"
        return [
            Problem(
                f"links[{j}].from",
                f"'{source.id}' has no output slot {shown}{did_you_mean(shown, list(outputs))}",
                f'write "from": "{source.id}.SLOT" with one of: ' + ", ".join(outputs),
            )
        ]
    made = Path(outputs[name].file.rstrip("/")).suffix.lstrip(".")
    if wanted and made and wanted != made:
        return [
            Problem(
                f"links[{j}]",
                f"'{source.id}.{name}' makes .{made} files but the input expects {wanted}",
                "check the link; types are advisory",
                "warning",
            )
        ]
    return []


def sample_ref_safe(text: str) -> tuple[str, int | None]:
    """``sample_ref`` that reports a bad reference as a missing sample instead of raising."""
    try:
        return sample_ref(text)
    except UsageError:
        return text, None


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))
