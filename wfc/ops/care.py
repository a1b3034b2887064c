"""``wfc cache verify|gc|stats``: checking, pruning and measuring the object store.

``verify`` re-hashes every object (a corrupt one is quarantined, as on every read) and looks for
objects the database references but the store lacks. ``gc`` removes objects nothing kept
references; it never removes an object written or re-used after the oldest running step started
(a step archives its outputs before it records them), nor one younger than the grace period.
``stats`` only reads (the database is opened read-only).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from typing import Any, ClassVar

from wfc.cache.hashing import hash_file
from wfc.failpoints import failpoint
from wfc.lineage.db import Database, database
from wfc.lineage.query import counts, prune, referenced, superseded, users_of
from wfc.model.status import Status
from wfc.project import Project
from wfc.store.local import ObjectCorrupt, ObjectStore

GRACE_S = 300  # objects younger than this are never collected (clock skew, steps starting now)


@dataclass(frozen=True)
class StoreProblem:
    """A ``corrupt`` (now quarantined) or ``missing`` object, and the runs that use it; ``stale``
    when it is missing but every run using it was superseded by a later run of the same key whose
    outputs are intact (``superseded_by``): history lost, nothing the cache serves."""

    hash: str
    problem: str  # "corrupt", "missing" or "stale"
    used_by: tuple[str, ...]
    superseded_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoreCheck:
    """Every object re-hashed and every referenced one looked for (``wfc cache verify``)."""

    SCHEMA: ClassVar[str] = "wfc.cache-verify/1"

    objects: int
    bytes: int
    problems: tuple[StoreProblem, ...] = ()

    @property
    def failed(self) -> bool:
        """Whether anything the cache or a sample needs is corrupt or missing (stale history is not)."""
        return any(p.problem != "stale" for p in self.problems)


def verify(project: Project, progress: Callable[[int, int], None] = lambda _d, _t: None) -> StoreCheck:
    """Re-hash every object and check that every referenced one exists."""
    store = project.object_store()
    digests = store.iter_objects()
    corrupt: list[str] = []
    total = 0
    for n, digest in enumerate(digests, 1):
        path = store.path(digest)
        actual, size = hash_file(path)
        total += size
        if actual != digest:
            store.quarantine(digest)
            corrupt.append(digest)
        if n % 200 == 0 or n == len(digests):
            progress(n, len(digests))
    with database(project.database_url) as db:
        refs = referenced(db, None)
        wanted = refs["file"] | refs["dir"] | refs["log"] | _tree_files(store, refs["dir"])
        missing = sorted(wanted - set(digests))  # corrupt ones are reported as corrupt
        users = users_of(db, set(missing) | set(corrupt))
        runs = {u for d in missing for u in users.get(d, []) if not u.startswith("sample ")}
        newer = superseded(db, runs, set(digests) - set(corrupt))
    problems = [StoreProblem(d, "corrupt", tuple(users.get(d, []))) for d in corrupt]
    for d in missing:
        used = tuple(users.get(d, []))
        stale = bool(used) and all(u in newer for u in used)
        by = tuple(sorted({newer[u] for u in used})) if stale else ()
        problems.append(StoreProblem(d, "stale" if stale else "missing", used, by))
    return StoreCheck(len(digests), total, tuple(problems))


def cutoff(db: Database, grace: float) -> float:
    """The time before which an unreferenced object may go: ``grace`` seconds ago, or before the
    oldest running step started less ``grace`` (it archives before it records)."""
    oldest_running = counts(db)["oldest_running"]
    moment = time.time() - grace
    if oldest_running is not None:
        moment = min(moment, oldest_running.replace(tzinfo=UTC).timestamp() - grace)
    return moment


def reachable(store: ObjectStore, refs: dict[str, set[str]]) -> set[str]:
    """Every object the references of :func:`~wfc.lineage.query.referenced` reach: themselves,
    and the files of the trees among them (those in ``store``)."""
    return refs["file"] | refs["dir"] | refs["log"] | refs["meta"] | _tree_files(store, refs["dir"])


def _tree_files(store: ObjectStore, trees: set[str]) -> set[str]:
    files: set[str] = set()
    for tree in trees:
        if not store.has(tree):
            continue
        try:
            files.update(str(d) for _r, mode, _s, d in store.read_tree(tree) if mode != "d")
        except (ObjectCorrupt, ValueError):
            continue  # reported as corrupt by the re-hash
    return files


@dataclass(frozen=True)
class GcReport:
    """The objects ``wfc cache gc`` removed (or would), what it kept, stale temp files."""

    SCHEMA: ClassVar[str] = "wfc.cache-gc/1"

    dry_run: bool
    removed: tuple[str, ...]
    bytes: int
    kept: int
    kept_recent: int
    temp_files: int


def gc(
    project: Project, *, dry_run: bool = False, keep_last: int | None = None, grace: float = GRACE_S
) -> GcReport:
    """Remove unreachable objects (see the module docstring for what is always kept).

    Args:
        project: The project.
        dry_run: Only report.
        keep_last: Keep the objects of the newest N pipeline runs of each pipeline (and pins).
        grace: Seconds: objects modified this recently, or since the oldest running step started
            less this, are kept.
    """
    store = project.object_store()
    with database(project.database_url) as db:  # prune writes
        refs = referenced(db, keep_last)
        keep = reachable(store, refs)
        report = _sweep(store, keep, cutoff(db, grace), dry_run)
        if keep_last is not None and not dry_run:
            prune(db, keep_last)  # their objects may now be gone: verify stops expecting them
    return report


def _sweep(store: ObjectStore, reachable: set[str], cutoff: float, dry_run: bool) -> GcReport:
    removed: list[str] = []
    freed = young = kept = 0
    for digest in store.iter_objects():
        if digest in reachable:
            kept += 1
            continue
        path = store.path(digest)
        st = path.stat()
        if st.st_mtime >= cutoff:
            young += 1
            continue
        removed.append(digest)
        freed += st.st_size
        if not dry_run:
            path.unlink(missing_ok=True)
            failpoint("gc.after_remove")
    return GcReport(dry_run, tuple(removed), freed, kept, young, store.sweep_tmp(dry_run=dry_run))


def stats(project: Project) -> dict[str, Any]:
    """Objects, bytes, deduplication and hit rate, as the ``wfc cache stats --json`` document.

    The dedup ratio compares the bytes the records describe (every run's outputs, hits included,
    and every sample) with the bytes their distinct data objects occupy in the store.
    """
    store = project.object_store()
    objects = store.iter_objects()
    physical = sum(os.stat(store.path(d)).st_size for d in objects)
    with database(project.database_url, read_only=True) as db:
        c = counts(db)
        refs = referenced(db, None)
    data = (refs["file"] - refs["kept"] | _tree_files(store, refs["dir"] - refs["kept"])) & set(objects)
    data_bytes = sum(os.stat(store.path(d)).st_size for d in data)
    executed = c["by_status"].get(Status.COMPLETED, 0)
    hits = c["by_status"].get(Status.CACHED, 0)
    logical = c["output_bytes"] + c["cached_bytes"] + c["sample_bytes"]
    return {
        "schema": "wfc.cache-stats/1",
        "store": str(store.root),
        "objects": len(objects),
        "bytes": physical,
        "data_bytes": data_bytes,
        "logical_bytes": logical,
        "dedup_ratio": round(logical / data_bytes, 3) if data_bytes else None,
        "runs": c["by_status"],
        "hit_rate": round(hits / (hits + executed), 3) if hits + executed else None,
        "bytes_reused_by_hits": c["cached_bytes"],
    }
