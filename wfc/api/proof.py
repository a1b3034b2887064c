"""The API verbs that prove results: re-run a recorded step and compare its bytes
(``reproduce``), and write a pipeline run's self-contained HTML report (``report``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from wfc.project import Project

if TYPE_CHECKING:
    from wfc.ops.report import WrittenReport
    from wfc.ops.reproduce import Reproduction, Reproductions


def reproduce(
    project: Project,
    run: str,
    *,
    cores: int = 1,
    pipeline: str | None = None,
    on_step: Callable[[Reproduction], None] | None = None,
) -> Reproductions:
    """Re-execute a recorded step run (a hit: the execution it reused), or every executed step of
    pipeline run ``p-…`` (``cores`` at a time), from exactly what was recorded, in a scratch
    directory; compare each output with the original's bytes. Each re-run is recorded as a
    reproduction linked to its original; the original and the cache are never touched.
    ``on_step`` receives each step's verdict as it is known.

    Raises:
        UsageError: No such run, one that cannot be reproduced, or something it needs (the code,
            an input, the image) is missing: the message names it, the hint restores it.
        InfraError: Docker or the database is unreachable.
    """
    from wfc.ops.reproduce import reproduce as _reproduce

    return _reproduce(project, run, cores=cores, pipeline=pipeline, on_step=on_step)


def report(
    project: Project, pipeline_run: str, dest: str | os.PathLike[str], *, force: bool = False
) -> WrittenReport:
    """Write the self-contained HTML report of a pipeline run (an id or a unique prefix) to
    ``dest``: its graph by status, a timeline, every step with its resources and why it ran,
    params, outputs, environments, the git commit and failed steps' stderr.

    Raises:
        UsageError: No such pipeline run, or ``dest`` exists (without ``force``) or is a directory.
    """
    from wfc.ops.report import write_report

    return write_report(project, pipeline_run, Path(dest), force=force)
