"""``/api/runs/{run_id}/outputs/{slot}[/{path}]``: a run's output bytes, straight from the object
store, each object verified against the hash the run recorded before a byte is sent.

Nothing but store objects is ever read: a file output is the object its record names; a directory
output is its tree object's listing, and a file inside it is served only when the tree lists that
exact path (no path is joined onto a directory, so ``..`` and friends have nothing to reach). A
missing or corrupt object is 404 (the store is opened read-only: a corrupt object is reported,
not moved). Every answer is ``nosniff`` and ``Content-Security-Policy: sandbox``, so an SVG or
HTML output cannot run script with the canvas's origin.
"""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse

from wfc import api
from wfc.canvas.deps import ProjectDep, errors
from wfc.canvas.errors import ApiError, not_found
from wfc.canvas.schemas import DirEntry, DirListing
from wfc.errors import StepFailed, UsageError
from wfc.project import Project
from wfc.store.local import ObjectStore

router = APIRouter(prefix="/api")
SAFE = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox",
    "Cache-Control": "no-store",
}
TYPES = {
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".md": "text/markdown",
    ".log": "text/plain",
}
_BYTES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/octet-stream": {}}, "description": "The verified bytes"}
}


@router.get(
    "/runs/{run_id}/outputs/{slot}",
    response_model=DirListing,
    responses={**_BYTES, **errors(404)},
)
def output(run_id: str, slot: str, proj: ProjectDep, download: bool = False) -> Any:
    """A file output's bytes (``download=1``: as an attachment), or a directory output's listing."""
    out = _output(proj, run_id, slot)
    store = proj.object_store().reader()
    if out["kind"] == "dir":
        entries = _tree(store, out)
        files = [DirEntry(path=p, size=s, hash=d, executable=m == "x") for p, m, s, d in entries if m != "d"]
        listing = DirListing(slot=slot, hash=out["hash"], files=files)
        return JSONResponse(listing.model_dump(), headers=SAFE)
    _verify(store, out["hash"], f"output '{slot}' of run {run_id}")
    return _file(store, out["hash"], _name(out["path"]), download)


@router.get(
    "/runs/{run_id}/outputs/{slot}/{path:path}",
    response_class=FileResponse,
    responses={**_BYTES, **errors(404)},
)
def output_file(run_id: str, slot: str, path: str, proj: ProjectDep, download: bool = False) -> Any:
    """One file of a directory output, by its path in the listing."""
    pure = PurePosixPath(path)
    if "\x00" in path or pure.is_absolute() or ".." in pure.parts or "\\" in path:
        raise ApiError(
            403, f"refused path '{path.replace(chr(0), '')}'", "give a path from the output's listing"
        )
    out = _output(proj, run_id, slot)
    if out["kind"] != "dir":
        raise ApiError(
            404, f"output '{slot}' of run {run_id} is a file, not a directory", "GET it without a path"
        )
    store = proj.object_store().reader()
    entries = {p: (m, d) for p, m, _s, d in _tree(store, out) if m != "d"}
    if path not in entries:
        raise ApiError(
            404, f"no file '{path}' in output '{slot}' of run {run_id}", "see the output's listing"
        )
    digest = str(entries[path][1])
    _verify(store, digest, f"{slot}/{path} of run {run_id}")
    return _file(store, digest, _name(path), download)


def _output(proj: Project, run_id: str, slot: str) -> dict[str, Any]:
    """The recorded output ``slot`` of a run (404 for an unknown run or slot)."""
    try:
        shown = api.show(proj, run_id)
    except UsageError as exc:
        raise not_found(exc) from None
    for out in shown["outputs"]:
        if out["slot"] == slot:
            return dict(out)
    slots = ", ".join(o["slot"] for o in shown["outputs"]) or "none"
    raise ApiError(404, f"run {shown['id']} has no output '{slot}'", f"its outputs: {slots}")


def _verify(store: ObjectStore, digest: str, what: str, kind: str = "file") -> None:
    try:
        store.verify(digest, "dir" if kind == "dir" else "file")
    except StepFailed as exc:
        raise ApiError(404, f"{what}: {exc.message}", exc.hint) from None


def _tree(store: ObjectStore, out: dict[str, Any]) -> list[tuple[str, str, int, str]]:
    """A directory output's entries, its tree object verified first."""
    _verify(store, out["hash"], f"output '{out['slot']}'")
    try:
        return [(p, m, s, str(d)) for p, m, s, d in store.read_tree(out["hash"])]
    except StepFailed as exc:
        raise ApiError(404, exc.message, exc.hint) from None


def _name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1] or "output"


def _file(store: ObjectStore, digest: str, name: str, download: bool) -> FileResponse:
    suffix = PurePosixPath(name).suffix.lower()
    media = TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return FileResponse(
        store.path(digest),
        media_type=media,
        headers=SAFE,
        filename=name if download else None,
        content_disposition_type="attachment" if download else "inline",
    )
