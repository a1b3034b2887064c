"""``wfc canvas``: serve the local web UI (BRIEF §20, ADR 0022) over the project's pipelines, runs
and outputs; ``wfc.canvas.server`` does the serving."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wfc.cli.app import app
from wfc.cli.boundary import guard
from wfc.cli.options import ProjectOpt, VerboseOpt, load_project


@app.command("canvas")
@guard
def canvas_cmd(
    pipeline: Annotated[
        Path | None, typer.Argument(help="A pipeline document to open first (inside the project).")
    ] = None,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port to listen on; 0 picks a free one.")
    ] = 8500,
    host: Annotated[
        str,
        typer.Option("--host", help="Address to listen on; anything but loopback is reachable by others."),
    ] = "127.0.0.1",
    no_open: Annotated[bool, typer.Option("--no-open", help="Do not open a browser.")] = False,
    project: ProjectOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Draw, run and inspect pipelines in the browser: a local server on 127.0.0.1 guarded by a
    token. Prints one line, the URL with its token; Ctrl-C stops it and cancels running pipelines.

    Example: wfc canvas pipelines/rna.json --port 0 --no-open
    """
    from wfc.canvas.server import serve
    from wfc.errors import UsageError

    proj = load_project(project)
    open_path = None
    if pipeline is not None:
        found = pipeline.resolve()
        if not found.is_file():
            raise UsageError(f"pipeline file not found: {pipeline}", "check the path")
        try:
            open_path = found.relative_to(proj.root.resolve()).as_posix()
        except ValueError:
            raise UsageError(
                f"{pipeline} is not inside the project {proj.root}", "give a document of this project"
            ) from None
    serve(proj, host=host, port=port, open_path=open_path, browser=not no_open)
