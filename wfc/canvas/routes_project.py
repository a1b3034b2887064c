"""``/api/project``, ``/api/methods``, ``/api/samples``, ``/api/environments``, ``/api/doctor`` and
``/api/schema/pipeline``: what the palette, the project view and the document editor read.

Reads change nothing (the database is opened read-only). Registering a sample goes through the
same function as ``wfc sample add``; an uploaded file is first written to ``data/<file name>`` in
the project, so the sample's recorded source is a file of the project, as with the CLI.
"""

from __future__ import annotations

import shutil
from contextlib import closing
from pathlib import Path, PurePosixPath
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload

from wfc import __version__, api
from wfc.canvas.deps import JobsDep, ProjectDep, errors
from wfc.canvas.errors import ApiError
from wfc.canvas.schemas import (
    Environment,
    Environments,
    Health,
    Job,
    MethodError,
    MethodInfo,
    Methods,
    ParamSpec,
    ProjectInfo,
    Sample,
    SampleByPath,
    Samples,
    SlotIn,
    SlotOut,
)
from wfc.environments.build import environment_dir, list_environments, read_lock
from wfc.errors import UsageError
from wfc.lineage import open_lineage
from wfc.lineage.records import SampleRecord
from wfc.methods import known_methods, load_method
from wfc.model.pipeline import Pipeline
from wfc.project import Project
from wfc.samples.register import add_sample as register_sample

router = APIRouter(prefix="/api")
UPLOADS = "data"  # where uploaded sample files are written, in the project


@router.get("/project", response_model=ProjectInfo, responses=errors())
def project(proj: ProjectDep, request: Request) -> ProjectInfo:
    """The project the canvas serves, and the document it was asked to open first."""
    return ProjectInfo(
        root=str(proj.root), name=proj.root.name, wfc_version=__version__, open=request.app.state.open_path
    )


@router.get("/methods", response_model=Methods, responses=errors())
def methods(proj: ProjectDep) -> Methods:
    """Every method of the project with its slots and typed params (the palette); a method whose
    ``method.yaml`` does not load is listed under ``errors``."""
    found, broken = [], []
    for ref in known_methods(proj):
        try:
            method = load_method(proj, ref)
        except UsageError as exc:
            broken.append(MethodError(ref=ref, error=exc.message, hint=exc.hint))
            continue
        spec = method.spec
        found.append(
            MethodInfo(
                ref=ref,
                description=spec.description,
                env=spec.env,
                inputs={
                    k: SlotIn(
                        description=s.description,
                        required=s.required,
                        multiple=s.multiple,
                        type=s.type or None,
                    )
                    for k, s in spec.inputs.items()
                },
                outputs={
                    k: SlotOut(
                        description=s.description,
                        file=None if s.is_dir else s.file,
                        dir=s.file if s.is_dir else None,
                        required=s.required,
                    )
                    for k, s in spec.outputs.items()
                },
                params={k: ParamSpec(**p.model_dump(mode="json")) for k, p in spec.params.items()},
            )
        )
    return Methods(methods=found, errors=broken)


@router.get("/samples", response_model=Samples, responses=errors())
def samples(proj: ProjectDep) -> Samples:
    """Every registered sample version."""
    with closing(open_lineage(proj.database_url, read_only=True)) as lineage:
        return Samples(samples=[_sample(s) for s in lineage.list_samples()])


_SAMPLE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "file": {"type": "string", "format": "binary"},
                    },
                    "required": ["name", "file"],
                }
            },
            "application/json": {"schema": SampleByPath.model_json_schema()},
        },
    }
}


@router.post(
    "/samples",
    response_model=Sample,
    status_code=201,
    responses={200: {"model": Sample, "description": "Already registered: nothing changed"}, **errors(404)},
    openapi_extra=_SAMPLE_BODY,
)
async def add_sample(proj: ProjectDep, request: Request) -> Any:
    """Register a sample: multipart ``name`` + ``file`` (an upload), or JSON ``{name, path}`` (a
    file or directory inside the project). Registering the same content again changes nothing."""
    kind = request.headers.get("content-type", "")
    if kind.startswith("multipart/form-data"):
        async with request.form() as form:  # closes the uploaded file's spool
            name, upload = form.get("name"), form.get("file")
            if not isinstance(name, str) or not isinstance(upload, StarletteUpload):
                raise ApiError(400, "bad request: multipart needs 'name' and 'file'", "send both fields")
            path = await run_in_threadpool(_save_upload, proj, upload)
    else:
        try:
            body = SampleByPath.model_validate_json(await request.body())
        except ValidationError as exc:
            raise ApiError(400, f"bad request: {exc.errors()[0]['msg']}", 'send {"name", "path"}') from None
        name, path = body.name, _inside(proj, body.path)
    record, created = await run_in_threadpool(register_sample, proj, name, path)
    return JSONResponse(_sample(record).model_dump(), status_code=201 if created else 200)


@router.get("/environments", response_model=Environments, responses=errors())
def environments(proj: ProjectDep) -> Environments:
    """Every environment with a Dockerfile, and whether it is built."""
    found = []
    for name in list_environments(proj):
        try:
            lock = read_lock(proj, name)
            found.append(Environment(name=name, built=True, image_id=lock.image_id, built_at=lock.built_at))
        except UsageError:
            found.append(Environment(name=name, built=False))
    return Environments(environments=found)


@router.post("/environments/{name}/build", response_model=Job, status_code=202, responses=errors(404))
def build_environment(name: str, proj: ProjectDep, jobs: JobsDep) -> Job:
    """Build an environment in the background (``wfc env build NAME``); its output comes on the
    event stream as ``env-build-log`` events, then ``env-build-finished``."""
    try:
        environment_dir(proj, name)
    except UsageError as exc:
        raise ApiError(404, exc.message, exc.hint) from None
    return Job(job=jobs.start_build(name).id)


@router.get("/doctor", response_model=Health, responses=errors())
def doctor(proj: ProjectDep) -> Any:
    """The ``wfc doctor --json`` document."""
    return api.to_json(api.doctor(proj))


@router.get("/schema/pipeline", response_model=dict[str, Any], responses=errors())
def pipeline_schema() -> dict[str, Any]:
    """The JSON Schema of a pipeline document (``wfc schema pipeline``)."""
    return Pipeline.model_json_schema(by_alias=True)


def _sample(s: SampleRecord) -> Sample:
    return Sample(
        name=s.name,
        version=s.version,
        hash=s.content_hash,
        kind=s.kind,
        size=s.size,
        source=s.source_path or None,
        metadata=dict(s.metadata),
    )


def _inside(proj: Project, rel: str) -> Path:
    """A file or directory of the project named by a request (403 outside it, 404 missing)."""
    root = proj.root.resolve()
    pure = PurePosixPath(rel)
    if "\x00" in rel or pure.is_absolute() or ".." in pure.parts:
        raise ApiError(403, f"refused path '{rel}': give a path inside the project", "e.g. data/north.csv")
    path = (root / pure).resolve()
    try:
        inside = path.relative_to(root)
    except ValueError:
        raise ApiError(
            403, f"refused path '{rel}': it leads outside the project", "e.g. data/north.csv"
        ) from None
    if any(part.startswith(".") for part in inside.parts):
        raise ApiError(403, f"refused path '{rel}': hidden files are not registered", "e.g. data/north.csv")
    if not path.exists():
        raise ApiError(404, f"sample path not found: {rel}", "check the path (relative to the project)")
    return path


def _save_upload(proj: Project, upload: StarletteUpload) -> Path:
    """Write an uploaded file to ``data/<its name>``; an existing file with other bytes is kept
    (400), the same bytes are reused."""
    name = PurePosixPath((upload.filename or "").replace("\\", "/")).name
    if not name or name.startswith(".") or "\x00" in name:
        raise ApiError(400, f"bad upload file name '{upload.filename}'", "upload a file with a plain name")
    target = proj.root / UPLOADS / name
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{name}.upload")
    with tmp.open("wb") as out:
        shutil.copyfileobj(upload.file, out)
    if target.exists() and target.read_bytes() != tmp.read_bytes():
        tmp.unlink()
        raise ApiError(
            400,
            f"{UPLOADS}/{name} already exists with other content",
            "rename the file, or register the existing one by its path",
        )
    tmp.replace(target)
    return target
