"""Which files the canvas may read and write: pipeline documents inside the project, and nothing
else (ADR 0022).

A path from a request is project-relative, ends in ``.json``, and names no hidden directory
(``.wfc/``, ``.git/``) and no ``..``; resolved (symlinks followed), it must still be inside the
project and still not hidden. Everything else is refused with 403 before any file is opened.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from wfc.canvas.errors import ApiError
from wfc.project import Project

PIPELINE_GLOBS = ("pipelines/**/*.json", "examples/pipelines/*.json")


def _refuse(rel: str, why: str) -> ApiError:
    return ApiError(
        403,
        f"refused path '{rel}': {why}",
        "give a project-relative path of a .json document, e.g. pipelines/rna.json",
    )


def document_path(project: Project, rel: str) -> Path:
    """The file a request names, checked: inside the project (after symlinks), a ``.json``
    document, in no hidden directory. It may not exist yet (a save creates it).

    Raises:
        ApiError: 403 for any path outside those rules.
    """
    if not rel or "\x00" in rel or "\\" in rel:
        raise _refuse(rel.replace("\x00", "\\0"), "not a plain relative path")
    pure = PurePosixPath(rel)
    if pure.is_absolute() or rel.startswith("~"):
        raise _refuse(rel, "absolute paths are not allowed")
    if any(part == ".." for part in pure.parts):
        raise _refuse(rel, "'..' is not allowed")
    if any(part.startswith(".") for part in pure.parts):
        raise _refuse(rel, "hidden files and directories (.wfc/, .git/) are not served")
    if pure.suffix != ".json":
        raise _refuse(rel, "only .json pipeline documents")
    root = project.root.resolve()
    resolved = (root / pure).resolve()
    try:
        inside = resolved.relative_to(root)
    except ValueError:
        raise _refuse(rel, "it leads outside the project (a symlink)") from None
    if any(part.startswith(".") for part in inside.parts) or resolved.suffix != ".json":
        raise _refuse(rel, "it leads to a hidden or non-document file (a symlink)")
    return resolved


def existing_document(project: Project, rel: str) -> Path:
    """As :func:`document_path`, for a file that must exist.

    Raises:
        ApiError: 403 as there; 404 when it does not exist.
    """
    path = document_path(project, rel)
    if not path.is_file():
        raise ApiError(404, f"no pipeline document '{rel}'", "list them with GET /api/pipelines")
    return path


def pipeline_files(project: Project) -> list[str]:
    """Every pipeline document the canvas lists, as sorted project-relative paths (the ones
    :func:`document_path` accepts)."""
    found: set[str] = set()
    for pattern in PIPELINE_GLOBS:
        for path in project.root.glob(pattern):
            rel = path.relative_to(project.root).as_posix()
            try:
                if document_path(project, rel).is_file():
                    found.add(rel)
            except ApiError:
                continue
    return sorted(found)
