"""The ``wfc`` console script: routes ``run-step`` to its light parser, everything else to typer."""

from __future__ import annotations

import sys


def main() -> None:
    """Entry point of the ``wfc`` command."""
    argv = sys.argv[1:]
    if argv and argv[0] == "run-step":
        from wfc.cli.thin import forward

        code = forward(argv[1:])  # under run-pipeline: a warm worker runs the step
        if code is not None:
            sys.exit(code)
        from wfc.cli.run_step import main as run_step_main

        run_step_main(argv[1:])
    from wfc.cli import history, operate, setup  # noqa: F401  (they register their commands on app)
    from wfc.cli.app import app

    app()
