"""The ``wfc`` console script: routes ``run-step`` to its light parser, everything else to typer."""

from __future__ import annotations

import os
import sys


def main() -> None:
    """Entry point of the ``wfc`` command."""
    argv = sys.argv[1:]
    if argv and argv[0] == "run-step":  # light and fast: no typer (under run-pipeline, a warm worker runs it)
        from wfc.cli.forward import WORKER_ENV, forward

        if WORKER_ENV in os.environ:
            forward(argv[1:])  # exits with the worker's answer, if a worker answers
        from wfc.cli.run_step import main as run_step_main

        run_step_main(argv[1:])
    if sys.flags.no_site:  # `python -S` suits only run-step's forwarding: the rest needs site-packages
        import site

        site.main()
    from wfc.cli import canvas, history, operate, prove, samples, setup  # noqa: F401  (they register commands on app)
    from wfc.cli.app import app

    app()
