"""Snakemake's command line as ``run-pipeline`` starts it: ``python -m wfc.pipeline.snakemake_cli``.

Two things differ from the stock ``snakemake`` script. The recursion limit is raised (the stock
CLI dies on long chains, ADR 0009). And the timers Snakemake's scheduler arms after every round
(its job-rate limiter looks again a second later) are daemon threads: the stock process, its work
done, waits up to a second for the last one to fire before it exits, on every run that executes a
job (ADR 0033). Nothing else is changed; the timers still fire while Snakemake runs.
"""

from __future__ import annotations

import sys
import threading
from typing import Any


class _DaemonTimer(threading.Timer):
    """A ``threading.Timer`` that does not hold the process open."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.daemon = True


def main() -> None:
    """Run Snakemake's CLI with ``sys.argv`` and exit with its code."""
    sys.setrecursionlimit(1_000_000)
    threading.Timer = _DaemonTimer  # type: ignore[misc]  # this process only: it is Snakemake's
    from snakemake.cli import main as snakemake_main

    sys.argv[0] = "snakemake"
    sys.exit(snakemake_main())


if __name__ == "__main__":
    main()
