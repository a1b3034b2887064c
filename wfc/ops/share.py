"""``wfc cache push`` and ``wfc cache pull``: the local store and the shared one, in bulk.

Everything, or one pipeline run's closure: the objects its steps read and wrote (a directory's
tree and every file in it), their logs and their code and contract listings, which is exactly what
another machine needs to rerun it fully cached or to ``export``/``show``/``why`` it.
"""

from __future__ import annotations

from wfc.lineage import query
from wfc.lineage.db import database
from wfc.project import Project
from wfc.store import remote
from wfc.store.local import ObjectMissing, ObjectStore
from wfc.store.remote import Progress, Transfer


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
    digests = set().union(*found.values())
    for tree in found["dir"]:
        try:
            if not store.has(tree) and fetch:
                store.fetch(tree)
            if store.has(tree):
                digests.update(str(d) for _p, mode, _s, d in store.read_tree(tree) if mode != "d")
        except ObjectMissing:
            continue  # reported as missing by the transfer
    return digests
