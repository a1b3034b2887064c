"""``/api/pipelines``, ``/api/validate`` and ``/api/plan``: the documents of the project, saving them,
and checking a document being edited before it is saved.

A document from the editor is checked by :func:`wfc.api.validate` (the same problems, in the same
words, as ``wfc validate --json``). Saving writes pretty JSON (2-space indent, the keys in the
order the model declares them, ``layout`` last, a trailing newline) atomically, and only when the
document parses as a pipeline; problems with the project (an unknown method…) are returned, not
refused, so half-done work can be saved.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from pydantic import ValidationError

from wfc import api
from wfc.atomic import write_text_atomic
from wfc.canvas.deps import ProjectDep, errors
from wfc.canvas.paths import document_path, existing_document, pipeline_files
from wfc.canvas.schemas import (
    PipelineEntry,
    PipelineFile,
    Pipelines,
    Plan,
    PlanBody,
    Problem,
    SaveBody,
    Saved,
    ValidateBody,
    Validation,
)
from wfc.model.pipeline import Pipeline, schema_problems
from wfc.model.problem import DocumentInvalid
from wfc.model.problem import Problem as ApiProblem
from wfc.project import Project

router = APIRouter(prefix="/api")


@router.get("/pipelines", response_model=Pipelines, responses=errors())
def pipelines(proj: ProjectDep) -> Pipelines:
    """Every pipeline document under ``pipelines/`` and ``examples/pipelines/``; a file that does
    not parse is listed with its file name and 0 nodes."""
    found = []
    for rel in pipeline_files(proj):
        try:
            doc = json.loads((proj.root / rel).read_bytes())
        except (OSError, ValueError):
            doc = {}
        doc = doc if isinstance(doc, dict) else {}
        nodes = doc.get("nodes")
        name = doc.get("name") if isinstance(doc.get("name"), str) else rel.rsplit("/", 1)[-1][:-5]
        found.append(PipelineEntry(path=rel, name=name, nodes=len(nodes) if isinstance(nodes, list) else 0))
    return Pipelines(pipelines=found)


@router.get("/pipelines/{path:path}", response_model=PipelineFile, responses=errors(404, 422))
def open_pipeline(path: str, proj: ProjectDep) -> PipelineFile:
    """A document as it is on disk (any JSON object: an invalid one opens, to be fixed)."""
    file = existing_document(proj, path)
    try:
        doc = json.loads(file.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise DocumentInvalid(path, [ApiProblem("", f"invalid JSON: {exc}", "fix the JSON syntax")]) from None
    if not isinstance(doc, dict):
        raise DocumentInvalid(
            path, [ApiProblem("", "a pipeline document is a JSON object", "see docs/pipelines.md")]
        )
    return PipelineFile(path=path, document=doc)


@router.put("/pipelines/{path:path}", response_model=Saved, responses=errors(422))
def save_pipeline(path: str, body: SaveBody, proj: ProjectDep) -> Saved:
    """Write a document (atomically, pretty, ``layout`` last); 422 with its problems, and nothing
    written, when it does not parse as a pipeline."""
    file = document_path(proj, path)
    try:
        pipeline = Pipeline.model_validate(body.document)
    except ValidationError as exc:
        raise DocumentInvalid(path, schema_problems(exc)) from None
    file.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(file, pretty(pipeline))
    return Saved(path=path, problems=_problems(api.validate(proj, file)))


@router.post("/validate", response_model=Validation, responses=errors())
def validate(body: ValidateBody, proj: ProjectDep) -> Validation:
    """Every problem of a document (200 even when it is invalid)."""
    found = _problems(api.validate(proj, body.document, variables=body.variables))
    return Validation(valid=not any(p.severity == "error" for p in found), problems=found)


@router.post("/plan", response_model=Plan, responses=errors(422))
def plan(body: PlanBody, proj: ProjectDep) -> Any:
    """The ``wfc plan --json`` document; with ``explain``, each step also has ``why`` (what
    changed since its nearest earlier run, as ``wfc why``). 422 when the document is invalid."""
    check(proj, body.document, body.variables, f"<{body.document.get('name') or 'pipeline'}>")
    doc = api.to_json(api.plan(proj, body.document, body.variables))
    if body.explain:
        found = api.why(proj, body.document, variables=body.variables)
        why = {e.step: {"compared_with": e.compared_with, "reasons": list(e.reasons)} for e in found.steps}
        for step in doc["steps"]:
            step["why"] = why.get(step["name"])
    return doc


def check(proj: Project, document: api.Document, variables: dict[str, str], shown: str) -> None:
    """Refuse a document with errors, as ``wfc validate`` words them (422).

    Raises:
        DocumentInvalid: It has errors (warnings pass).
    """
    found = [p for p in api.validate(proj, document, variables=variables) if p.severity == "error"]
    if found:
        raise DocumentInvalid(shown, found)


def pretty(pipeline: Pipeline) -> str:
    """A document as the canvas saves it: the model's keys in order (``layout`` last), defaults
    left out, 2-space indent, a trailing newline."""
    doc = pipeline.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if "layout" in doc:
        doc["layout"] = doc.pop("layout")
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _problems(found: list[ApiProblem]) -> list[Problem]:
    return [Problem(path=p.path, message=p.message, hint=p.hint, severity=p.severity) for p in found]
