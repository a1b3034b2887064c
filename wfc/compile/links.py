"""The one checker of links and slots (BRIEF §10): every problem of how a pipeline's links meet
the slots its methods declare, in the words both ``wfc validate`` and the resolver use.

Pure: it reads the pipeline, the method specs and the expansion it is given, nothing else.
``wfc validate`` reports every problem; the resolver raises the first error among those about the
step it resolves.

What it finds, in document order (each link: its target end, its source end, the type check; then
each method node's input slots):

- a link into an input node (nothing flows into one);
- a link to an unknown input slot, or without a slot where the method has several (did-you-mean);
- a link from an unknown output slot, or without a slot where the method has several;
- a link from an input node's slot other than ``data``;
- a type mismatch between the file an output makes and the type an input expects (a warning);
- a required input slot that no link feeds;
- several inputs into a slot that is not ``multiple``: two links, a ``mode: all`` input node with
  several samples, or any gather (a gather delivers a list);
- a ``multiple`` slot whose only link comes, without ``gather``, from a node that runs once per
  sample: each step gets one sample's file, one step per sample (a warning: gathering is likely
  what was meant).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import TypeVar

from wfc.compile.expand import Expansion
from wfc.errors import UsageError, did_you_mean
from wfc.model.method import MethodSpec
from wfc.model.pipeline import InputNode, Link, MethodNode, Pipeline
from wfc.model.problem import Problem

S = TypeVar("S")


def check_links(
    pipeline: Pipeline,
    specs: Mapping[str, MethodSpec | None],
    *,
    into: str | None = None,
    expansion: Expansion | None = None,
) -> list[Problem]:
    """Every link and slot problem of ``pipeline``.

    Args:
        pipeline: A pipeline document that passed its schema (so every link names known nodes).
        specs: Method ref -> its spec. None (or a ref left out) means the method failed to load:
            the ends of links at its nodes are not checked (that failure is reported elsewhere).
        into: Only the links into this node and this node's own slots: what one step needs.
        expansion: The pipeline's expansion, which knows what each ``select`` picks (without
            it, a ``select`` picks nothing).
    """
    expansion = expansion or Expansion(pipeline)
    problems: list[Problem] = []
    fed: dict[tuple[str, str], int] = {}
    links_of: dict[tuple[str, str], list[int]] = {}
    for j, link in enumerate(pipeline.links):
        if into is not None and link.target.node != into:
            continue
        slot, target_problem = _target(pipeline, specs, j, link)
        out, source_problem = _source(pipeline, specs, j, link)
        problems += [p for p in (target_problem, source_problem) if p is not None]
        if slot is None:
            continue
        fed[(link.target.node, slot)] = fed.get((link.target.node, slot), 0) + _count(expansion, link)
        links_of.setdefault((link.target.node, slot), []).append(j)
        if out is not None:
            problems += _type_warning(pipeline, specs, j, link, slot, out)
    for i, node in enumerate(pipeline.nodes):
        if not isinstance(node, MethodNode) or (into is not None and node.id != into):
            continue
        spec = specs.get(node.method)
        if spec is None:
            continue
        for name, declared in spec.inputs.items():
            n = fed.get((node.id, name), 0)
            if declared.required and n == 0:
                problems.append(
                    Problem(
                        f"nodes[{i}]",
                        f"required input slot '{name}' of '{node.id}' is not fed",
                        f'add a link {{"from": "...", "to": "{node.id}.{name}"}}',
                    )
                )
            if n > 1 and not declared.multiple:
                problems.append(
                    Problem(
                        f"nodes[{i}]",
                        f"input slot '{name}' of '{node.id}' receives several inputs but is not multiple",
                        f"declare inputs.{name}.multiple: true in method.yaml, or feed it one input",
                    )
                )
            if declared.multiple and len(links_of.get((node.id, name), [])) == 1:
                problems += _ungathered(expansion, links_of[(node.id, name)][0], name)
    return problems


def slot_of(given: str | None, declared: Mapping[str, S]) -> str | None:
    """The slot a link end names: ``given`` when declared, the only slot when none is given."""
    if given is None:
        return next(iter(declared)) if len(declared) == 1 else None
    return given if given in declared else None


def _target(
    pipeline: Pipeline, specs: Mapping[str, MethodSpec | None], j: int, link: Link
) -> tuple[str | None, Problem | None]:
    target = pipeline.node(link.target.node)
    if isinstance(target, InputNode):
        return None, Problem(
            f"links[{j}].to",
            f"'{target.id}' is an input node: nothing flows into it",
            "link to a method node",
        )
    spec = specs.get(target.method)
    if spec is None:
        return None, None
    slot = slot_of(link.target.slot, spec.inputs)
    if slot is not None:
        return slot, None
    return None, _no_slot(f"links[{j}].to", target, link.target.slot, list(spec.inputs), "input")


def _source(
    pipeline: Pipeline, specs: Mapping[str, MethodSpec | None], j: int, link: Link
) -> tuple[str | None, Problem | None]:
    source = pipeline.node(link.source.node)
    if isinstance(source, InputNode):
        if link.source.slot in (None, "data"):
            return None, None
        return None, Problem(
            f"links[{j}].from",
            f"input node '{source.id}' has one slot, 'data', not '{link.source.slot}'",
            f'write "from": "{source.id}"',
        )
    spec = specs.get(source.method)
    if spec is None:
        return None, None
    out = slot_of(link.source.slot, spec.outputs)
    if out is not None:
        return out, None
    return None, _no_slot(f"links[{j}].from", source, link.source.slot, list(spec.outputs), "output")


def _no_slot(path: str, node: MethodNode, given: str | None, slots: list[str], side: str) -> Problem:
    """A link end that names no slot of its node (or names none where the node has several)."""
    shown = given or "(none)"
    end = "to" if side == "input" else "from"
    return Problem(
        path,
        f"'{node.id}' has no {side} slot {shown}{did_you_mean(shown, slots)}",
        f'write "{end}": "{node.id}.SLOT" with one of: ' + ", ".join(slots)
        if slots
        else f"{node.method} {'takes no inputs' if side == 'input' else 'makes no outputs'}: remove the link",
    )


def _count(expansion: Expansion, link: Link) -> int:
    """How many inputs one step receives through a link: 2 stands for several."""
    if link.gather:
        return 2
    source = expansion.pipeline.node(link.source.node)
    if isinstance(source, InputNode) and source.mode == "all":
        try:
            return len({s.partition("@")[0] for s in expansion.refs_of(source.id)})
        except UsageError:  # a select that picks nothing: reported on the input node
            return 1
    return 1


def _ungathered(expansion: Expansion, j: int, slot: str) -> list[Problem]:
    """A warning when a ``multiple`` slot's only link fans out per sample without ``gather``."""
    pipeline = expansion.pipeline
    link = pipeline.links[j]
    if link.gather:
        return []
    try:
        samples = expansion.samples_of(link.source.node)
    except UsageError:  # samples that do not join: reported by validate on the node
        return []
    if samples is None:
        return []
    return [
        Problem(
            f"links[{j}]",
            f"'{link.target.node}.{slot}' takes several files (multiple: true) but '{link.source.node}' "
            f"runs once per sample: '{link.target.node}' will run once per sample, on one file each",
            f'to give one step the files of every sample, add "gather": true to links[{j}]',
            "warning",
        )
    ]


def _type_warning(
    pipeline: Pipeline, specs: Mapping[str, MethodSpec | None], j: int, link: Link, slot: str, out: str
) -> list[Problem]:
    source, target = pipeline.node(link.source.node), pipeline.node(link.target.node)
    assert isinstance(source, MethodNode) and isinstance(target, MethodNode)
    made_by, wanted_by = specs.get(source.method), specs.get(target.method)
    assert made_by is not None and wanted_by is not None
    made = PurePosixPath(made_by.outputs[out].file.rstrip("/")).suffix.lstrip(".")
    wanted = wanted_by.inputs[slot].type
    if not wanted or not made or wanted == made:
        return []
    return [
        Problem(
            f"links[{j}]",
            f"'{source.id}.{out}' makes .{made} files but the input expects {wanted}",
            "check the link; types are advisory",
            "warning",
        )
    ]
