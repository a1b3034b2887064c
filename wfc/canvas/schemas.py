"""The request and response bodies of the canvas HTTP API, as pydantic models: they are the OpenAPI
schema the frontend's TypeScript types are generated from (``python -m wfc.canvas.openapi``).

Documents that the CLI already prints under ``--json`` (``plan``, ``runs``, ``show``, ``lineage``,
``doctor``) are passed through as they are (objects with their ``schema`` tag), so the API and the
CLI cannot drift; the models here name their top-level fields only.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

JobStatus = Literal["running", "completed", "failed", "cancelled"]


class Body(BaseModel):
    """A request body: unknown fields are a 400, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class Open(BaseModel):
    """A CLI ``--json`` document: the named fields, and whatever else that document carries."""

    model_config = ConfigDict(extra="allow")


class Problem(BaseModel):
    """One problem of a document, as ``wfc validate --json`` reports it."""

    path: str
    message: str
    hint: str
    severity: Literal["error", "warning"]


class ErrorBody(BaseModel):
    """Every error response: the message, the next action, and a document's problems (422)."""

    error: str
    hint: str
    problems: list[Problem] | None = None


class ProjectInfo(BaseModel):
    root: str
    name: str
    wfc_version: str
    open: str | None = None  # the document `wfc canvas PIPELINE` asked to open first


class SlotIn(BaseModel):
    description: str
    required: bool
    multiple: bool
    type: str | None = None


class SlotOut(BaseModel):
    description: str
    file: str | None = None  # a file output's name
    dir: str | None = None  # a directory output's name (ending in "/")
    required: bool = True


class ParamSpec(BaseModel):
    type: str
    default: Any = None
    required: bool = False
    choices: list[Any] | None = None
    min: float | None = None
    max: float | None = None
    description: str


class MethodInfo(BaseModel):
    ref: str
    description: str
    env: str
    inputs: dict[str, SlotIn]
    outputs: dict[str, SlotOut]
    params: dict[str, ParamSpec]


class MethodError(BaseModel):
    """A method whose ``method.yaml`` does not load: the palette shows why."""

    ref: str
    error: str
    hint: str


class Methods(BaseModel):
    methods: list[MethodInfo]
    errors: list[MethodError] = []


class Sample(BaseModel):
    name: str
    version: int
    hash: str
    kind: str
    size: int
    source: str | None
    metadata: dict[str, str]


class Samples(BaseModel):
    samples: list[Sample]


class SampleByPath(Body):
    name: str
    path: str


class Environment(BaseModel):
    name: str
    built: bool
    image_id: str | None = None
    built_at: str | None = None


class Environments(BaseModel):
    environments: list[Environment]


class Job(BaseModel):
    job: str


class PipelineEntry(BaseModel):
    path: str
    name: str
    nodes: int


class Pipelines(BaseModel):
    pipelines: list[PipelineEntry]


class PipelineFile(BaseModel):
    path: str
    document: dict[str, Any]


class SaveBody(Body):
    document: dict[str, Any]


class Saved(BaseModel):
    path: str
    problems: list[Problem]


class ValidateBody(Body):
    document: dict[str, Any]
    variables: dict[str, str] = {}


class Validation(BaseModel):
    valid: bool
    problems: list[Problem]


class PlanBody(Body):
    document: dict[str, Any]
    variables: dict[str, str] = {}
    explain: bool = False


class Plan(Open):
    """``wfc plan --json`` (``wfc.plan/1``), or with ``explain`` ``wfc plan --explain --json``."""

    schema_: str = Field(alias="schema")
    pipeline: str
    steps: list[dict[str, Any]]


class RunBody(Body):
    document: dict[str, Any] | None = None
    path: str | None = None  # a project-relative document, when no document is given
    cores: int = Field(default=1, ge=1)
    keep_going: bool = False
    variables: dict[str, str] = {}
    force: list[str] = []
    force_all: bool = False


class Started(BaseModel):
    job: str
    pipeline_run: str | None = None


class Cancelled(BaseModel):
    job: str
    cancelled: bool


class JobInfo(BaseModel):
    job: str
    kind: Literal["run", "env-build"] = "run"
    document_path: str | None = None
    pipeline: str
    pipeline_run: str | None = None
    status: JobStatus
    started_at: str
    error: str | None = None
    hint: str | None = None


class Jobs(BaseModel):
    jobs: list[JobInfo]


class JobEvents(BaseModel):
    job: str
    status: JobStatus
    events: list[dict[str, Any]]
    next: int


class RunHistory(Open):
    """``wfc runs --json`` (``wfc.runs/1``)."""

    schema_: str = Field(alias="schema")
    pipeline_runs: list[dict[str, Any]]


class PipelineRunDetail(BaseModel):
    pipeline_run: dict[str, Any]
    document: dict[str, Any] | None  # the exact document the run used (None if it does not parse)


class ShowRun(Open):
    """``wfc show --json`` (``wfc.show/1``)."""

    schema_: str = Field(alias="schema")
    id: str
    step: str
    status: str
    outputs: list[dict[str, Any]]


class Lineage(Open):
    """``wfc lineage --format json`` (``wfc.lineage/1``)."""

    schema_: str = Field(alias="schema")
    root: str
    runs: list[dict[str, Any]]
    edges: list[dict[str, Any]]


class Health(Open):
    """``wfc doctor --json`` (``wfc.doctor/1``)."""

    schema_: str = Field(alias="schema")
    ok: bool
    checks: list[dict[str, Any]]


class DirEntry(BaseModel):
    path: str
    size: int
    hash: str
    executable: bool = False


class DirListing(BaseModel):
    """A directory output: its files (``GET …/outputs/{slot}/{path}`` serves one)."""

    slot: str
    hash: str
    files: list[DirEntry]
