"""The options and arguments commands share (``Annotated`` aliases, so each is declared once) and
the project a command works in, loaded through :func:`wfc.api.open_project`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from wfc.project import Project

ProjectOpt = Annotated[
    Path | None, typer.Option("--project", help="Project directory (default: nearest wfc.toml).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks on errors.")]
VarOpt = Annotated[
    list[str] | None, typer.Option("--var", help="Set a pipeline variable: NAME=VALUE (repeatable).")
]
PipelineArg = Annotated[Path, typer.Argument(help="The pipeline document (JSON).")]
RunArg = Annotated[
    str,
    typer.Argument(help="A step run id (r-…), a unique prefix of it, or last:STEP (e.g. last:clean[north])."),
]
ScopeOpt = Annotated[
    str | None,
    typer.Option(
        "--pipeline", help="With last:STEP, the newest run of the step in this pipeline (name or p-… id)."
    ),
]


def load_project(path: Path | None, **settings: str | None) -> Project:
    """The project of a command: ``--project``, else ``$WFC_PROJECT``, else the nearest
    ``wfc.toml``; ``settings`` override settings by key (``None`` leaves one as it is).

    Raises:
        UsageError: No project is found, or ``wfc.toml`` is invalid.
    """
    from wfc import api

    return api.open_project(path, **settings)


def variables(var: list[str] | None) -> dict[str, str]:
    """The pipeline variables of repeated ``--var NAME=VALUE`` options.

    Raises:
        UsageError: An item without ``=``.
    """
    from wfc.pipeline.job import parse_vars

    return parse_vars(var or [])
