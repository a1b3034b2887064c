"""The ``wfc`` console script: routes ``run-step`` to its light parser, everything else to typer."""

from __future__ import annotations

import sys


def main() -> None:
    """Entry point of the ``wfc`` command."""
    argv = sys.argv[1:]
    if argv and argv[0] == "run-step":  # light and fast: no typer (under run-pipeline, a warm worker runs it)
        from wfc.cli.run_step import main as run_step_main

        run_step_main(argv[1:])
    from wfc.cli import canvas, history, operate, samples, setup  # noqa: F401  (they register commands on app)
    from wfc.cli.app import app

    app()
