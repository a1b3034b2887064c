"""A pipeline run as a Workflow Run RO-Crate (RO-Crate 1.1, Provenance Run Crate profile 0.5).

This module owns ``DEST/ro-crate-metadata.json`` and ``DEST/pipeline.json`` (the pipeline document,
byte for byte, so its hash is the recorded one). The crate says: the pipeline (``mainEntity``, a
``ComputationalWorkflow`` whose nodes are ``HowToStep`` entries), each method a
``SoftwareApplication`` with ``FormalParameter`` inputs, outputs and params, each step run a
``CreateAction`` (its inputs and param values as ``object``, its exported files as ``result``, the
method as ``instrument``, times, status and container image) under a ``ControlAction`` of its node,
all organised by the ``OrganizeAction`` of the pipeline run with wfc as its ``instrument``. Inputs
that are not in the crate (samples) are contextual entities named ``#blake3:<hex>``.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Any

from wfc import __version__
from wfc.lineage.query import RunDetail
from wfc.lineage.records import now
from wfc.model.status import Status
from wfc.ops.history import step_of
from wfc.ops.provenance import Facts, iso, method_ref, succeeded

METADATA = "ro-crate-metadata.json"
WFRUN = "https://w3id.org/ro/terms/workflow-run#"
PROFILES = {
    "https://w3id.org/ro/wfrun/process/0.5": ("Process Run Crate", "0.5"),
    "https://w3id.org/ro/wfrun/workflow/0.5": ("Workflow Run Crate", "0.5"),
    "https://w3id.org/ro/wfrun/provenance/0.5": ("Provenance Run Crate", "0.5"),
    "https://w3id.org/workflowhub/workflow-ro-crate/1.0": ("Workflow RO-Crate", "1.0"),
}
# the Workflow Run terms the crate uses, inline so that reading it needs no network
CONTEXT = [
    "https://w3id.org/ro/crate/1.1/context",
    {
        term: WFRUN + term
        for term in ("ContainerImage", "DockerImage", "containerImage", "sha256", "tag", "resourceUsage")
    },
]
STATUS = {
    Status.COMPLETED: "CompletedActionStatus",
    Status.CACHED: "CompletedActionStatus",
    Status.RUNNING: "ActiveActionStatus",
}
WFC = "#wfc"
QUDT = "https://qudt.org/vocab/unit/"  # units of the measured resources (``RunRecord.resources``)


def write_crate(dest: Path, facts: Facts) -> Path:
    """Write the crate's metadata (and the pipeline document) into the staged results ``dest``."""
    doc = facts.pipeline_run.document
    parsed = _parsed(doc)
    workflow = "pipeline.json" if parsed is not None else "pipeline.yaml"
    (dest / workflow).write_text(doc, encoding="utf-8")
    graph = _Graph()
    _describe(graph, facts, workflow)
    _workflow(graph, facts, workflow, parsed or {})
    text = json.dumps({"@context": CONTEXT, "@graph": graph.entities()}, indent=2, ensure_ascii=False)
    (dest / METADATA).write_text(text + "\n", encoding="utf-8")
    return Path(METADATA)


class _Graph:
    """Entities by ``@id``, without empty properties; adding one twice adds the properties it lacked
    and merges list properties (``exampleOfWork``)."""

    def __init__(self) -> None:
        self._by_id: dict[str, dict[str, Any]] = {}

    def add(self, entity: dict[str, Any]) -> dict[str, Any]:
        entity = {k: v for k, v in entity.items() if v is not None and v != []}
        old = self._by_id.setdefault(entity["@id"], entity)
        if old is not entity:
            for key, value in entity.items():
                if key not in old:
                    old[key] = value
                elif isinstance(value, list) and isinstance(old[key], list):
                    old[key] += [v for v in value if v not in old[key]]
        return old

    def entities(self) -> list[dict[str, Any]]:
        """The entities, a one-item list written as its item (as RO-Crate recommends)."""
        return [
            {k: v[0] if isinstance(v, list) and len(v) == 1 else v for k, v in e.items()}
            for e in self._by_id.values()
        ]


def _ref(entity_id: str) -> dict[str, str]:
    return {"@id": entity_id}


def _describe(graph: _Graph, facts: Facts, workflow: str) -> None:
    pr = facts.pipeline_run
    placed = facts.by_hash()
    graph.add(
        {
            "@id": METADATA,
            "@type": "CreativeWork",
            "conformsTo": [
                _ref("https://w3id.org/ro/crate/1.1"),
                _ref("https://w3id.org/workflowhub/workflow-ro-crate/1.0"),
            ],
            "about": _ref("./"),
        }
    )
    root = graph.add(
        {
            "@id": "./",
            "@type": "Dataset",
            "name": f"{pr.name}: pipeline run {pr.id}",
            "description": f"The outputs of pipeline run {pr.id} of pipeline {pr.name}, exported by wfc "
            "with the provenance of every step.",
            "datePublished": iso(now()),
            "license": "NOASSERTION",  # SPDX: the results carry no licence statement
            "conformsTo": [_ref(p) for p in PROFILES],
            "mainEntity": _ref(workflow),
            "mentions": [_ref(f"#{pr.id}/run")] + [_ref(f"#{d.run.id}") for d in facts.steps],
            "hasPart": [_ref(workflow), _ref("manifest.json")],
        }
    )
    for url, (title, version) in PROFILES.items():
        graph.add({"@id": url, "@type": "CreativeWork", "name": title, "version": version})
    graph.add(
        {
            "@id": "manifest.json",
            "@type": "File",
            "name": "wfc export manifest",
            "encodingFormat": "application/json",
        }
    )
    tools = _tools(graph, facts)
    graph.add({"@id": WFC, "@type": "SoftwareApplication", "name": "wfc", "version": __version__})
    controls, inputs, results = [], [], []
    for detail in facts.steps:
        action = _action(graph, detail, tools[detail.run.node_id], placed)
        controls.append(_ref(f"#{detail.run.id}/control"))
        graph.add(
            {
                "@id": f"#{detail.run.id}/control",
                "@type": "ControlAction",
                "name": f"orchestrate {step_of(detail.run)}",
                "instrument": _ref(f"{workflow}#{detail.run.node_id}"),
                "object": _ref(action),
            }
        )
        inputs += [
            _object(graph, i.content_hash, i.kind, placed, i.sample_name, i.sample_version)
            for i in detail.inputs
            if i.source_run_id is None
        ]
        results += [
            _object(graph, o.content_hash, o.kind, placed, None, None, size=o.size)
            for o in detail.outputs
            if o.content_hash in placed and succeeded(detail.run)
        ]
    root["hasPart"] += _unique(results)
    graph.add(
        {
            "@id": f"#{pr.id}/run",
            "@type": "CreateAction",
            "name": f"pipeline run {pr.id} of {pr.name}",
            "description": f"wfc ran pipeline {pr.name} on {pr.host}",
            "instrument": _ref(workflow),
            "object": _unique(inputs),
            "result": _unique(results),
            "startTime": iso(pr.started_at),
            "endTime": iso(pr.ended_at),
            "actionStatus": _status(pr.status),
        }
    )
    graph.add(
        {
            "@id": f"#{pr.id}",
            "@type": "OrganizeAction",
            "name": f"wfc orchestrating pipeline run {pr.id} on {pr.host}",
            "instrument": _ref(WFC),
            "object": controls,
            "result": _ref(f"#{pr.id}/run"),
            "startTime": iso(pr.started_at),
            "endTime": iso(pr.ended_at),
            "description": f"git commit {pr.git_commit}" if pr.git_commit else None,
        }
    )


def _workflow(graph: _Graph, facts: Facts, workflow: str, parsed: dict[str, Any]) -> None:
    """The pipeline: a ``ComputationalWorkflow`` whose parts are the methods and whose steps are
    its nodes (in document order), each a ``HowToStep`` naming its method."""
    pr = facts.pipeline_run
    tools = {d.run.node_id: f"#method/{method_ref(d.run)}" for d in facts.steps}
    declared = [n.get("id") for n in parsed.get("nodes", []) if isinstance(n, dict)]
    nodes = sorted(tools, key=lambda n: (declared.index(n) if n in declared else len(declared), n))
    graph.add(
        {
            "@id": workflow,
            "@type": ["File", "SoftwareSourceCode", "ComputationalWorkflow", "HowTo"],
            "name": pr.name,
            "identifier": pr.document_hash,
            "version": pr.document_hash,
            "conformsTo": _ref("https://bioschemas.org/profiles/ComputationalWorkflow/1.0-RELEASE"),
            "encodingFormat": "application/json" if workflow.endswith(".json") else "application/yaml",
            "programmingLanguage": _ref("#wfc-pipeline"),
            "hasPart": [_ref(t) for t in sorted(set(tools.values()))],
            "step": [_ref(f"{workflow}#{n}") for n in nodes],
        }
    )
    version = parsed.get("version")
    graph.add(
        {
            "@id": "#wfc-pipeline",
            "@type": "ComputerLanguage",
            "name": "wfc pipeline document",
            "version": None if version is None else str(version),
        }
    )
    for position, node in enumerate(nodes):
        graph.add(
            {
                "@id": f"{workflow}#{node}",
                "@type": "HowToStep",
                "name": node,
                "position": str(position),
                "workExample": _ref(tools[node]),
            }
        )


def _tools(graph: _Graph, facts: Facts) -> dict[str, str]:
    """One ``SoftwareApplication`` per method, its ``FormalParameter`` entries from what its runs
    read, wrote and were given; returns the tool of each node."""
    of_node: dict[str, str] = {}
    for detail in facts.steps:
        run, tool = detail.run, f"#method/{method_ref(detail.run)}"
        of_node[run.node_id] = tool
        ins = [_formal(graph, tool, "in", i.slot, _kind(i.kind)) for i in detail.inputs]
        params = [_formal(graph, tool, "param", k, _value_type(v)) for k, v in sorted(run.params.items())]
        outs = [_formal(graph, tool, "out", o.slot, _kind(o.kind)) for o in detail.outputs]
        graph.add(
            {
                "@id": tool,
                "@type": "SoftwareApplication",
                "name": method_ref(run),
                "identifier": run.code_hash,
                "softwareVersion": run.code_hash,
                "input": _unique(ins + params),
                "output": _unique(outs),
            }
        )
    return of_node


def _formal(graph: _Graph, tool: str, role: str, slot: str, kind: str) -> dict[str, str]:
    return _ref(
        graph.add(
            {
                "@id": f"{tool}/{role}/{slot}",
                "@type": "FormalParameter",
                "name": slot,
                "additionalType": kind,
                "conformsTo": _ref("https://bioschemas.org/profiles/FormalParameter/1.0-RELEASE"),
            }
        )["@id"]
    )


def _action(graph: _Graph, detail: RunDetail, tool: str, placed: dict[str, str]) -> str:
    run = detail.run
    objects = [
        _object(graph, i.content_hash, i.kind, placed, i.sample_name, i.sample_version, f"{tool}/in/{i.slot}")
        for i in detail.inputs
    ]
    for key, value in sorted(run.params.items()):
        objects.append(
            _ref(
                graph.add(
                    {
                        "@id": f"#{run.id}/param/{key}",
                        "@type": "PropertyValue",
                        "name": key,
                        "value": value if isinstance(value, str | int | float | bool) else json.dumps(value),
                        "exampleOfWork": [_ref(f"{tool}/param/{key}")],
                    }
                )["@id"]
            )
        )
    results = [
        _object(graph, o.content_hash, o.kind, placed, None, None, f"{tool}/out/{o.slot}", o.size)
        for o in detail.outputs
        if succeeded(run) and o.content_hash in placed
    ]
    image = None
    if run.env_digest.startswith("sha256:"):  # a Docker image id (the process runtime has none)
        image = f"#image/{run.env_digest}"
        graph.add(
            {
                "@id": image,
                "@type": "ContainerImage",
                "additionalType": _ref(WFRUN + "DockerImage"),
                "name": run.env_name,
                "sha256": run.env_digest.removeprefix("sha256:"),
                "identifier": run.env_digest,
            }
        )
    usage = [
        _ref(
            graph.add(
                {
                    "@id": f"#{run.id}/usage/{k}",
                    "@type": "PropertyValue",
                    "propertyID": k,
                    "name": k,
                    "value": v,
                    "unitCode": QUDT + ("SEC" if k.endswith("_s") else "BYTE"),
                }
            )["@id"]
        )
        for k, v in sorted((run.resources or {}).items())
        if isinstance(v, int | float) and k.endswith(("_s", "_bytes"))
    ]
    how = f"in environment {run.env_name}" + (f" on {run.host}" if run.host else "")
    hit = f"a cache hit: reused the outputs of run {run.cache_source_id}" if run.cache_source_id else None
    action = f"#{run.id}"
    graph.add(
        {
            "@id": action,
            "@type": "CreateAction",
            "name": f"{step_of(run)}: {method_ref(run)} ({run.status})",
            "description": hit or f"{step_of(run)} ran method {method_ref(run)} {how}",
            "identifier": run.key,
            "instrument": _ref(tool),
            "object": _unique(objects),
            "result": _unique(results),
            "startTime": iso(run.started_at),
            "endTime": iso(run.ended_at),
            "actionStatus": _status(run.status),
            "error": run.error,
            "containerImage": None if image is None else _ref(image),
            "resourceUsage": usage or None,
        }
    )
    return action


def _object(
    graph: _Graph,
    digest: str,
    kind: str,
    placed: dict[str, str],
    sample: str | None,
    version: int | None,
    formal: str | None = None,
    size: int | None = None,
) -> dict[str, str]:
    """An object by content hash: the exported file or folder, else a contextual entity."""
    entity_id = placed.get(digest, f"#{digest}")
    if kind == "dir" and not entity_id.startswith("#"):
        entity_id += "/"
    entity: dict[str, Any] = {
        "@id": entity_id,
        "@type": _kind(kind),
        "identifier": digest,
        "encodingFormat": _format(entity_id) if kind == "file" else None,
        "contentSize": None if size is None else str(size),
        "exampleOfWork": [_ref(formal)] if formal else None,
    }
    if sample is not None:
        entity["name"] = f"sample {sample}" + (f" (version {version})" if version else "")
    return _ref(graph.add(entity)["@id"])


def _format(path: str) -> str:
    return mimetypes.guess_type(path.rsplit("/", 1)[-1])[0] or "application/octet-stream"


def _kind(kind: str) -> str:
    return "Dataset" if kind == "dir" else "File"


def _value_type(value: Any) -> str:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "Float"
    return "Text" if isinstance(value, str) else "StructuredValue"


def _status(status: str) -> str:
    """The ``actionStatus`` as the profile writes it: the status's full IRI, as text."""
    return "http://schema.org/" + STATUS.get(Status(status), "FailedActionStatus")


def _unique(refs: list[dict[str, str]]) -> list[dict[str, str]]:
    return [dict(t) for t in dict.fromkeys(tuple(r.items()) for r in refs)]


def _parsed(text: str) -> dict[str, Any] | None:
    """A JSON pipeline document as data; None for another format (YAML)."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
