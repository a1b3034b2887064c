"""``wfc run-step``: one concrete step, run in this process (by hand, under Argo or DVC, or a
Snakemake job with no worker to forward to: :mod:`wfc.cli.forward`).

The command line is :mod:`wfc.pipeline.job`'s (argparse: a cache hit pays no typer import); the
step runs through :func:`wfc.api.run_step`, and the outcome is finished and printed by the same
code the warm worker answers a forwarded job with: the same document, the same exit code.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any, NoReturn

from wfc.cli.boundary import guarded
from wfc.pipeline.job import build_parser, finish, request_of


def main(argv: list[str]) -> NoReturn:
    """Entry point of ``wfc run-step``."""
    signal.signal(signal.SIGTERM, _interrupt)
    json_mode, verbose = "--json" in argv, "--verbose" in argv or "-v" in argv
    guarded(lambda: _run(argv), json_mode=json_mode, verbose=verbose)


def _run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    cwd = os.getcwd()
    doc = _run_here(request_of(args, cwd, os.environ), stream=args.stream)
    out, err, code = finish(args, doc, cwd)
    sys.stdout.write(out)
    sys.stderr.write(err)
    return code


def _run_here(request: dict[str, Any], *, stream: bool) -> dict[str, Any]:
    if sys.flags.no_site:  # started light (`python -S`, to forward): the whole stack needs site-packages
        import site

        site.main()
    from wfc import api
    from wfc.output import to_document

    step = dict(request["step"])
    if step["bundle"]:  # a task with no project volume starts from an empty $WFC_PROJECT
        from wfc.bundle import materialise_project

        materialise_project(request["project"], step["bundle"])
    project = api.open_project(request["project"], runtime=request["runtime"])
    document = step.pop("pipeline_path")
    outcome = api.run_step(project, document, **step, output=_echo if stream else None)
    doc: dict[str, Any] = to_document(outcome)
    return doc


def _echo(_stream: str, chunk: bytes) -> None:
    sys.stderr.buffer.write(chunk)
    sys.stderr.buffer.flush()


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt
