"""The shared store in bulk: ``wfc cache push|pull`` and ``wfc cache gc --shared``.

Push and pull move everything, or one pipeline run's closure: the objects its steps read and wrote
(a directory's tree and every file in it), their logs and their code and contract listings, which
is exactly what another machine needs to rerun it fully cached or to ``export``/``show``/``why`` it.

gc of the shared store (ADR 0029) holds the store's collection lock exclusively while it decides
and deletes: every step holds it shared from finding an object in the store to recording the run
that names it, so nothing about to be named is deleted; objects younger than the grace period, or
than the oldest running step less it, are kept too (uploads that no record names yet: a push).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress

from wfc.lineage import query
from wfc.lineage.db import database
from wfc.ops.care import GcReport, cutoff, reachable
from wfc.project import Project
from wfc.step.claim import store_guard
from wfc.store import remote
from wfc.store.local import ObjectMissing, ObjectStore
from wfc.store.remote import THREADS, Progress, Transfer


def push(project: Project, pipeline_run: str | None, progress: Progress) -> Transfer:
    """Upload what the shared store lacks: every local object, or one pipeline run's closure."""
    store = project.object_store()
    wanted = None if pipeline_run is None else _closure(project, store, pipeline_run, fetch=False)
    return remote.push(store, wanted, progress)


def pull(project: Project, pipeline_run: str | None, progress: Progress) -> Transfer:
    """Download what the local store lacks: every shared object, or one pipeline run's closure."""
    store = project.object_store()
    wanted = None if pipeline_run is None else _closure(project, store, pipeline_run, fetch=True)
    return remote.pull(store, wanted, progress)


def _closure(project: Project, store: ObjectStore, ref: str, *, fetch: bool) -> set[str]:
    """The digests of a pipeline run's objects; a tree's files are read from its tree object
    (fetched first when ``fetch`` and only the shared store has it)."""
    remote.shared(store)  # the one "no shared store" error, before any database work
    with database(project.database_url, read_only=True) as db:
        found = query.pipeline_run_objects(db, query.find_pipeline_run(db, ref).id)
    if fetch:
        _fetch_missing(store, found["dir"])
    return reachable(store, found)


def _fetch_missing(store: ObjectStore, trees: set[str]) -> None:
    """Bring the tree objects the cache lacks from the shared store: their files are named only
    inside them (one missing there too is reported by whoever needs it)."""
    for tree in trees:
        if not store.has(tree):
            with suppress(ObjectMissing):
                store.fetch(tree)


def gc_shared(project: Project, *, dry_run: bool, keep_last: int | None, grace: float) -> GcReport:
    """Remove from the shared store the objects nothing kept references (as ``gc`` does locally)."""
    store = project.object_store()
    bucket = remote.shared(store)
    with (
        store_guard(project.state_dir / "locks", project.database_url, exclusive=True),
        database(project.database_url) as db,
    ):
        refs = query.referenced(db, keep_last)
        _fetch_missing(store, refs["dir"])
        keep = reachable(store, refs)
        before = cutoff(db, grace)
        removed: list[str] = []
        freed = kept = young = 0
        for digest, modified, size in bucket.iter_objects_with_mtime():
            if digest in keep:
                kept += 1
            elif modified.timestamp() >= before:
                young += 1
            else:
                removed.append(digest)
                freed += size
        if not dry_run:
            with ThreadPoolExecutor(THREADS) as pool:
                list(pool.map(bucket.delete, removed))
            if keep_last is not None:
                query.prune(db, keep_last)
    return GcReport(dry_run, tuple(sorted(removed)), freed, kept, young, 0)
