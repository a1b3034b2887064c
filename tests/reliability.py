"""The reliability figures of the fault-injection and hostile-input suites: the invariants checked
after every fault (:func:`violations`) and the tally written to ``bench/results/reliability.json``
(faults injected, trials, violations found), which docs/reliability.md explains."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import create_engine, text

from tests.conftest import REPO, Proj, project_containers
from wfc.store.local import ObjectCorrupt, ObjectMissing, ObjectStore

RESULTS = REPO / "bench" / "results" / "reliability.json"
Tally = dict[str, dict[str, int]]


def tallying() -> Iterator[Tally]:
    """A module fixture's body: counts per fault family, written to the results file at the end."""
    counts: Tally = {}
    yield counts
    record(counts)


def record(counts: Tally) -> None:
    """Merge these families' counts into the results file and recompute the totals."""
    found = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    families = {**found.get("families", {}), **counts}
    totals = {k: sum(f.get(k, 0) for f in families.values()) for k in ("faults", "trials", "violations")}
    doc = {"schema": "wfc.bench.reliability/1", "families": families, "totals": totals}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")


def count(tally: Tally, family: str, *, fault: bool, found: list[str]) -> None:
    entry = tally.setdefault(family, {"faults": 0, "trials": 0, "violations": 0})
    entry["trials"] += 1
    entry["faults"] += int(fault)
    entry["violations"] += len(found)


def rows(proj: Proj, sql: str, url: str | None = None) -> list[Any]:
    """Query the project's lineage database: SQLite, or the PostgreSQL at ``url``."""
    engine = create_engine(url or f"sqlite:///{proj.root / '.wfc' / 'wfc.db'}")
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)))
    finally:
        engine.dispose()


def violations(proj: Proj, url: str | None = None) -> list[str]:
    """What breaks wfc's integrity promises in this project, now (empty: nothing)."""
    found: list[str] = []
    store = ObjectStore(proj.root / ".wfc" / "store", read_only=True)
    for digest in store.iter_objects():
        try:
            store.verify(digest, quarantine=False)
        except (ObjectCorrupt, ObjectMissing) as exc:
            found.append(f"object {digest}: {exc.message}")
    done = rows(
        proj,
        "SELECT r.id, o.content_hash, o.kind FROM runs r JOIN run_outputs o ON o.run_id = r.id"
        " WHERE r.status IN ('completed', 'cached')",
        url,
    )
    for run_id, digest, kind in done:
        try:
            store.verify(digest, kind, quarantine=False)
        except (ObjectCorrupt, ObjectMissing) as exc:
            found.append(f"run {run_id} is recorded done but its output {digest} fails: {exc.message}")
    deadline = time.monotonic() + 20  # a killed wfc's watchdog removes its container
    while project_containers(proj) and time.monotonic() < deadline:
        time.sleep(0.2)
    found += [f"container {c} left behind" for c in project_containers(proj)]
    return found
