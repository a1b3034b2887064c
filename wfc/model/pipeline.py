"""The pipeline document (BRIEF §10): input nodes, method nodes and the links between their slots."""

from __future__ import annotations

import itertools
import json
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    model_validator,
)

from wfc.errors import UsageError, did_you_mean
from wfc.model.base import Frozen, problems_of
from wfc.model.bounds import parse_json
from wfc.model.problem import DocumentInvalid, Problem

_NODE_ID = re.compile(r"^\w[\w-]*$")  # letters of any script, digits, "_" and "-"; no leading "-"
MAX_NAME_BYTES = 100  # node ids, pipeline and sample names: they become parts of file names
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _short(kind: str, value: str) -> None:
    size = len(value.encode())
    if size > MAX_NAME_BYTES:
        raise ValueError(f"{kind} is {size} bytes long; the limit is {MAX_NAME_BYTES} bytes (UTF-8)")


def _node_id(value: str) -> str:
    if not _NODE_ID.match(value):
        raise ValueError(
            f"node id {value!r} may use only letters, digits, '_' and '-', and may not start with '-'"
        )
    _short("node id", value)
    return value


def _pipeline_name(value: str) -> str:
    if not value.strip() or _CONTROL.search(value):
        raise ValueError("a pipeline name must be non-blank and free of control characters")
    _short("pipeline name", value)
    return value


NodeId = Annotated[str, AfterValidator(_node_id)]
PipelineName = Annotated[str, AfterValidator(_pipeline_name)]


def _select_value(value: Any) -> Any:
    if isinstance(value, str) or (
        isinstance(value, list) and value and all(isinstance(v, str) for v in value)
    ):
        return value
    raise ValueError(
        f"expected a string or a non-empty list of strings, got {json.dumps(value, default=str)}"
    )


SelectValue = Annotated[str | list[str], BeforeValidator(_select_value)]


class InputNode(Frozen):
    """Registered samples entering the pipeline; one output slot, ``data``.

    Either ``samples`` names them (``name`` or ``name@version``), or ``select``
    (``{column: value or [values]}``) picks every registered sample whose metadata matches each
    column, sorted by name, at their newest versions (``wfc.compile.expand`` applies it).
    """

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["samples"]}, {"required": ["select"]}]}
    )

    id: NodeId
    samples: list[str] | None = Field(default=None, min_length=1)
    select: dict[str, SelectValue] | None = None
    mode: Literal["each", "all"] = "each"
    description: str = ""

    @model_validator(mode="after")
    def _one_source(self) -> InputNode:
        if self.samples is not None and self.select is not None:
            raise ValueError("an input node takes 'samples' or 'select', not both")
        if self.samples is None and self.select is None:
            raise ValueError("an input node needs 'samples' (a list of names) or 'select' ({column: value})")
        if self.select is not None and not self.select:
            raise ValueError("select must name at least one metadata column")
        return self


class MethodNode(Frozen):
    """A node that runs a method, optionally in named variants and over a parameter sweep.

    ``variants`` (``{name: {param: value}}``) and ``sweep`` (``{param: [values]}``, a cross
    product) replace the node's single run by one run per variant x sweep point; ``overrides``
    (``{sample: {param: value}}``) adjust the params of one sample's steps.
    """

    id: NodeId
    method: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    params: dict[str, Any] = {}
    variants: dict[str, dict[str, Any]] = {}
    sweep: dict[str, list[Any]] = {}
    overrides: dict[str, dict[str, Any]] = {}
    description: str = ""

    @model_validator(mode="after")
    def _check_axes(self) -> MethodNode:
        for name in self.variants:
            if not name or name.startswith("-") or any(c in name for c in ",|=:[]"):
                raise ValueError(
                    f"variant name {name!r} must be non-empty, free of , | = : [ ] and not start with '-'"
                )
            _short("variant name", name)
        for param, values in self.sweep.items():
            if not values:
                raise ValueError(f"sweep.{param} must list at least one value")
        return self

    def choices(self) -> list[tuple[str, dict[str, Any]]]:
        """This node's own variant axis: ``(label, params)`` per variant x sweep point; empty if none."""
        if not self.variants and not self.sweep:
            return []
        named = list(self.variants.items()) or [("", {})]
        keys = sorted(self.sweep)
        points = [
            (
                ",".join(f"{k}={_show(v)}" for k, v in zip(keys, combo, strict=True)),
                dict(zip(keys, combo, strict=True)),
            )
            for combo in itertools.product(*(self.sweep[k] for k in keys))
        ]
        return [
            (",".join(x for x in (name, point) if x), {**given, **swept})
            for name, given in named
            for point, swept in points
        ]


class Variable(Frozen):
    """A pipeline variable: params refer to it as ``{"$var": "name"}``."""

    type: Literal["str", "int", "float", "bool", "list", "dict"] = "str"
    default: Any = None
    description: str = ""


def _node_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "method node" if "method" in value else "input node"
    return "method node" if hasattr(value, "method") else "input node"


Node = Annotated[
    Annotated[MethodNode, Tag("method node")] | Annotated[InputNode, Tag("input node")],
    Discriminator(_node_kind),
]


class Endpoint(Frozen):
    """One end of a link: a node id and an optional slot name."""

    node: str
    slot: str | None = None

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        """Parse ``node`` or ``node.slot``."""
        node, _, slot = text.partition(".")
        return cls(node=node, slot=slot or None)


class Link(Frozen):
    """Data flows from an output slot to an input slot; ``gather`` collects every sample."""

    from_: str = Field(alias="from")
    to: str
    gather: bool = False

    @property
    def source(self) -> Endpoint:
        """The upstream end."""
        return Endpoint.parse(self.from_)

    @property
    def target(self) -> Endpoint:
        """The downstream end."""
        return Endpoint.parse(self.to)


class Position(Frozen):
    """Where a node is drawn on the canvas."""

    x: float
    y: float


class Layout(Frozen):
    """Where the canvas draws each node (``wfc canvas``): presentation only, so no key, compile
    backend or link check reads it; a position of a node that does not exist is a warning."""

    nodes: dict[str, Position] = {}


class Pipeline(Frozen):
    """A whole pipeline document; ``layout`` (node positions) is ignored by keys and compile."""

    version: Literal[1] = 1
    name: PipelineName
    description: str = ""
    nodes: list[Node] = Field(min_length=1)
    links: list[Link] = []
    variables: dict[str, Variable] = {}
    layout: Layout | None = None  # last: a saved document ends with it

    @model_validator(mode="after")
    def _check_references(self) -> Pipeline:
        seen: set[str] = set()
        for node in self.nodes:
            if node.id in seen:
                raise ValueError(f"node id '{node.id}' is used twice")
            seen.add(node.id)
        for i, link in enumerate(self.links):
            for end in (link.source, link.target):
                if end.node not in seen:
                    raise ValueError(f"links[{i}]: unknown node '{end.node}'{did_you_mean(end.node, seen)}")
        edges: dict[str, list[str]] = {n.id: [] for n in self.nodes}
        for link in self.links:
            edges[link.source.node].append(link.target.node)
        cycle = _find_cycle(edges)
        if cycle:
            raise ValueError("links form a cycle: " + " -> ".join(cycle))
        return self

    @cached_property
    def _by_id(self) -> dict[str, MethodNode | InputNode]:
        return {node.id: node for node in self.nodes}

    @cached_property
    def _into(self) -> dict[str, list[Link]]:
        found: dict[str, list[Link]] = {node.id: [] for node in self.nodes}
        for link in self.links:
            found.setdefault(link.target.node, []).append(link)
        return found

    def node(self, node_id: str) -> MethodNode | InputNode:
        """Return the node with this id.

        Raises:
            UsageError: No such node.
        """
        if node_id in self._by_id:
            return self._by_id[node_id]
        ids = [n.id for n in self.nodes]
        raise UsageError(
            f"unknown node '{node_id}' in pipeline '{self.name}'{did_you_mean(node_id, ids)}",
            "nodes are: " + ", ".join(ids),
        )

    def links_into(self, node_id: str) -> list[Link]:
        """The links whose target is ``node_id``, in document order."""
        return self._into.get(node_id, [])


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _find_cycle(edges: dict[str, list[str]]) -> list[str] | None:
    """A cycle of the directed graph as a closed path of node ids, or None (iterative: long chains
    must not hit the recursion limit)."""
    waiting = dict.fromkeys(edges, 0)
    for targets in edges.values():
        for target in targets:
            waiting[target] = waiting.get(target, 0) + 1
    ready = [node for node, count in waiting.items() if count == 0]
    while ready:
        for target in edges.get(ready.pop(), []):
            waiting[target] -= 1
            if waiting[target] == 0:
                ready.append(target)
    stuck = {node for node, count in waiting.items() if count > 0}
    if not stuck:
        return None
    # A stuck node is on a cycle or downstream of one, so it has a stuck node feeding it: walk
    # upstream until a node repeats (walking downstream can end at a node that feeds nothing).
    feeders: dict[str, set[str]] = {node: set() for node in stuck}
    for source, targets in edges.items():
        for target in targets:
            if source in stuck and target in stuck:
                feeders[target].add(source)
    node, path = min(stuck), []
    while node not in path:
        path.append(node)
        node = min(feeders[node])
    cycle = path[path.index(node) :]
    cycle.reverse()  # upstream order -> the direction data flows
    first = cycle.index(min(cycle))
    cycle = cycle[first:] + cycle[:first]
    return [*cycle, cycle[0]]


def load_pipeline(path: Path) -> tuple[Pipeline, bytes]:
    """Read and validate a pipeline document; return it with its raw bytes.

    Raises:
        UsageError: Missing file, invalid JSON, or a document that breaks the schema.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"pipeline file not found: {path}", "check the path") from None
    try:
        data = parse_json(raw, str(path))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: invalid JSON: {exc}", "fix the JSON syntax") from None
    try:
        return Pipeline.model_validate(data), raw
    except ValidationError as exc:
        raise DocumentInvalid(str(path), schema_problems(exc)) from None


def schema_problems(exc: ValidationError) -> list[Problem]:
    """The schema problems of a pipeline document, unknown fields first (``wfc validate``'s words)."""
    return [
        Problem(where, what, "see docs/pipelines.md for the document format")
        for where, what in problems_of(exc, Pipeline)
    ]
