"""``wfc validate``: every problem of a pipeline document at once, each with its JSON path and a fix.

Schema problems come from the pydantic model (all of them); then the document is checked against
the project: methods, slots, links, params of every variant and sample override, variables,
registered samples (and what each ``select`` picks) and per-sample joins, and the environment of
every method (missing: an error; not built: a warning). Type mismatches between linked slots,
and a ``multiple`` slot fed per sample without ``gather``, are warnings.
Links and slots are checked by ``wfc.compile.links``, the checker the resolver uses too.

Validating writes nothing: the database is opened read-only (a missing one is not created) and a
sample known only from ``samples.lock.json`` counts as registered without being restored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from pydantic import ValidationError

from wfc.compile.expand import NoSampleSelected, Variant, sample_ref
from wfc.compile.links import check_links
from wfc.compile.variables import resolve_variables
from wfc.environments.build import environment_dir, list_environments
from wfc.errors import UsageError, did_you_mean
from wfc.lineage import open_lineage
from wfc.model.bounds import parse_json
from wfc.model.method import MethodSpec
from wfc.model.pipeline import InputNode, MethodNode, Pipeline, schema_problems
from wfc.model.problem import DocumentInvalid
from wfc.model.problem import Problem as Problem  # importers name it from here
from wfc.project import Project
from wfc.step.resolve import Resolver


@dataclass(frozen=True)
class Validation:
    """Every problem of a document, and whether it is valid: no errors (``wfc validate``)."""

    SCHEMA: ClassVar[str] = "wfc.validate/1"

    pipeline: str
    problems: tuple[Problem, ...]
    valid: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "valid", not any(p.severity == "error" for p in self.problems))


def validate(
    project: Project,
    pipeline_path: Path,
    environ: Mapping[str, str],
    variables: Mapping[str, str] | None = None,
) -> list[Problem]:
    """Every problem of a pipeline document (empty when it is valid); ``variables`` are the
    values given on the command line (``--var``)."""
    try:
        data = parse_json(pipeline_path.read_bytes(), str(pipeline_path))
    except FileNotFoundError:
        return [Problem("", f"pipeline file not found: {pipeline_path}", "check the path")]
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return [Problem("", f"invalid JSON: {exc}", "fix the JSON syntax")]
    except UsageError as exc:  # too large, too deep
        return [Problem("", exc.message, exc.hint)]
    try:
        pipeline = Pipeline.model_validate(data)
    except ValidationError as exc:
        return schema_problems(exc)
    problems: list[Problem] = _check_layout(pipeline)
    with closing(open_lineage(project.database_url, read_only=True)) as lineage:
        try:
            values = resolve_variables(pipeline, environ, dict(variables or {}))
        except UsageError as exc:
            problems.append(Problem("variables", exc.message, exc.hint))
            values = {}
        resolver = Resolver(project, pipeline, lineage, str(pipeline_path), values, read_only=True)
        problems += _check_nodes(resolver)
        problems += _check_environments(resolver)
        problems += _check_links(resolver)
    return problems


def _check_nodes(resolver: Resolver) -> list[Problem]:
    problems: list[Problem] = []
    for i, node in enumerate(resolver.pipeline.nodes):
        where = f"nodes[{i}]"
        if isinstance(node, InputNode):
            field = "samples" if node.select is None else "select"
            try:
                refs = resolver.expansion.refs_of(node.id)
            except NoSampleSelected as exc:
                problems.append(Problem(f"{where}.select", exc.problem, exc.hint))
                continue
            for name, version in map(sample_ref_safe, refs):
                try:
                    known = not name or resolver.sample(name, version) is not None
                except UsageError as exc:  # listed in samples.lock.json, but its source is gone
                    problems.append(Problem(f"{where}.{field}", exc.message, exc.hint))
                    continue
                if not known:
                    what = f"{name}@{version}" if version else name
                    problems.append(
                        Problem(
                            f"{where}.{field}",
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
            try:
                samples = resolver.expansion.samples_of(node.id)
            except NoSampleSelected:  # reported at the input node; its overrides cannot be checked
                samples = list(node.overrides)
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


def _check_environments(resolver: Resolver) -> list[Problem]:
    """Each method's environment exists (an error) and is built (a warning), once per environment,
    at the first node that needs it."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, node in enumerate(resolver.pipeline.nodes):
        if not isinstance(node, MethodNode):
            continue
        try:
            env = resolver.method(node.method).spec.env
        except UsageError:
            continue  # reported on the node
        if env in seen:
            continue
        seen.add(env)
        try:
            environment_dir(resolver.project, env)
        except UsageError:
            known = list_environments(resolver.project)
            problems.append(
                Problem(
                    f"nodes[{i}].method",
                    f"environment '{env}' of method '{node.method}' does not exist: no "
                    f"environments/{env}/Dockerfile{did_you_mean(env, known)}",
                    f"create environments/{env}/Dockerfile, then run `wfc env build {env}`"
                    + (f" (environments are: {', '.join(known)})" if known else ""),
                )
            )
            continue
        try:
            resolver.lock(env)
        except UsageError as exc:  # not built, or a lock that does not parse
            problems.append(Problem(f"nodes[{i}].method", exc.message, exc.hint, "warning"))
    return problems


def _check_links(resolver: Resolver) -> list[Problem]:
    specs: dict[str, MethodSpec | None] = {}
    for node in resolver.pipeline.nodes:
        if isinstance(node, MethodNode) and node.method not in specs:
            try:
                specs[node.method] = resolver.method(node.method).spec
            except UsageError:
                specs[node.method] = None  # reported on the node
    return check_links(resolver.pipeline, specs, expansion=resolver.expansion)


def check_document(
    project: Project,
    pipeline_path: Path,
    environ: Mapping[str, str],
    variables: Mapping[str, str] | None = None,
) -> None:
    """Refuse a document with any error ``wfc validate`` finds, in its words, before it runs or
    compiles (warnings do not stop it).

    Raises:
        DocumentInvalid: Every error.
    """
    errors = [p for p in validate(project, pipeline_path, environ, variables) if p.severity == "error"]
    if errors:
        raise DocumentInvalid(str(pipeline_path), errors)


def _check_layout(pipeline: Pipeline) -> list[Problem]:
    """A canvas position of a node that does not exist is a warning (it only places a drawing)."""
    if pipeline.layout is None:
        return []
    ids = [n.id for n in pipeline.nodes]
    return [
        Problem(
            f"layout.nodes.{node}",
            f"layout places unknown node '{node}'{did_you_mean(node, ids)}",
            "remove it from layout.nodes (the canvas rewrites the layout when it saves)",
            "warning",
        )
        for node in pipeline.layout.nodes
        if node not in ids
    ]


def sample_ref_safe(text: str) -> tuple[str, int | None]:
    """``sample_ref`` that reports a bad reference as a missing sample instead of raising."""
    try:
        return sample_ref(text)
    except UsageError:
        return text, None


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))
