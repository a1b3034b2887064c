"""``wfc run-step``, the process: parsed with argparse so that a cache hit never imports typer or
the Docker SDK (step processes are short-lived and many; see ``bench/step_overhead.py``)."""

from __future__ import annotations

import signal
import sys
from typing import NoReturn

from wfc.cli.boundary import guarded
from wfc.step.command import invoke


def main(argv: list[str]) -> NoReturn:
    """Entry point of ``wfc run-step``."""
    signal.signal(signal.SIGTERM, _interrupt)

    def body() -> int:
        reply = invoke(argv)
        sys.stdout.write(reply.stdout)
        sys.stderr.write(reply.stderr)
        return reply.code

    guarded(body, json_mode="--json" in argv, verbose="--verbose" in argv or "-v" in argv)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt
