"""The API verbs that look after the store and the installation: verify, gc, push, pull, pin,
doctor (``wfc cache …``, ``wfc doctor``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from wfc.project import Project

if TYPE_CHECKING:
    from wfc.ops.care import GcReport, StoreCheck
    from wfc.ops.doctor import Health
    from wfc.store.remote import Transfer


def cache_verify(project: Project, *, progress: Callable[[int, int], None] | None = None) -> StoreCheck:
    """Re-hash every object (a corrupt one is quarantined), look for referenced ones missing."""
    from wfc.ops.care import verify

    return verify(project, progress or (lambda _done, _total: None))


def cache_gc(
    project: Project,
    *,
    dry_run: bool = False,
    keep_last: int | None = None,
    grace: float = 300,
    shared: bool = False,
) -> GcReport:
    """Remove objects nothing kept (``keep_last`` runs, pins) references (``shared``: from the bucket)."""
    from wfc.ops.care import gc
    from wfc.ops.share import gc_shared

    return (gc_shared if shared else gc)(project, dry_run=dry_run, keep_last=keep_last, grace=grace)


def cache_push(
    project: Project, *, pipeline_run: str | None = None, progress: Callable[[int, int], None] | None = None
) -> Transfer:
    """Upload to the shared store the objects it lacks: all, or one pipeline run's closure."""
    from wfc.ops.share import push

    return push(project, pipeline_run, progress or (lambda _done, _total: None))


def cache_pull(
    project: Project, *, pipeline_run: str | None = None, progress: Callable[[int, int], None] | None = None
) -> Transfer:
    """Download from the shared store what the local cache lacks, verified: all, or one run's closure."""
    from wfc.ops.share import pull

    return pull(project, pipeline_run, progress or (lambda _done, _total: None))


def pin(
    project: Project, run: str, *, note: str = "", remove: bool = False, pipeline: str | None = None
) -> tuple[str, bool]:
    """Pin a run's outputs against ``cache_gc(keep_last=…)`` (or unpin): its id, and if it changed."""
    from wfc.lineage import query
    from wfc.lineage.db import database

    with database(project.database_url) as db:
        found = query.find_run(db, run, pipeline).id
        return found, query.unpin(db, found) if remove else query.pin(db, found, note)


def doctor(project: Project) -> Health:
    """Check Docker, the database, the store, environments, Snakemake, git; a failure has a fix."""
    from wfc.ops.doctor import doctor as _doctor

    return _doctor(project)
