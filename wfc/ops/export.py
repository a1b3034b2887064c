"""``wfc export``: copy a run's output out of the store, verified, never over a file by accident.

The bytes are written to a temporary sibling of the destination, re-hashed there, and renamed into
place; an existing destination is replaced only with ``force``. A cache hit exports the outputs it
recorded, which are those of the run it reused.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from wfc.cache.hashing import hash_file
from wfc.errors import StepFailed, UsageError, did_you_mean
from wfc.failpoints import failpoint
from wfc.lineage.db import database
from wfc.lineage.query import find_run, run_detail
from wfc.lineage.records import OutputRecord
from wfc.project import Project
from wfc.store.local import Kind, ObjectStore


@dataclass(frozen=True)
class Exported:
    """A run's output copied out of the store, verified; ``source_run`` made the bytes."""

    SCHEMA: ClassVar[str] = "wfc.export/1"

    run: str
    source_run: str
    slot: str
    dest: Path
    hash: str
    size: int
    kind: str


def export(
    project: Project,
    ref: str,
    slot: str | None,
    dest: Path,
    *,
    force: bool = False,
    pipeline: str | None = None,
) -> Exported:
    """Export output ``slot`` of run ``ref`` to ``dest``, or into ``dest`` when it is a directory.

    Raises:
        UsageError: Unknown run or slot, a run without outputs, or an existing destination.
        StepFailed: The object is missing or corrupt in the store, or the written bytes differ.
    """
    with database(project.database_url, read_only=True) as db:
        detail = run_detail(db, find_run(db, ref, pipeline))
    run = detail.run
    out = _pick(run.id, run.status, detail.outputs, slot)
    name = out.path.rstrip("/").rsplit("/", 1)[-1]
    target = dest / name if dest.is_dir() else dest
    if target.exists() and not force:
        raise UsageError(
            f"{target} already exists: not overwriting it",
            "choose another destination, or pass --force to replace it",
        )
    store = project.object_store("copy")  # the user's copy must not share the store's inodes
    verify(store, out)  # before anything is written
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".wfc-export-"))
    try:
        staged = tmp / "out"
        stage(store, out, staged)
        replace_with(staged, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Exported(
        run.id, run.cache_source_id or run.id, out.slot, target, out.content_hash, out.size, out.kind
    )


def _pick(run_id: str, status: str, outputs: list[OutputRecord], slot: str | None) -> OutputRecord:
    if not outputs:
        raise UsageError(f"run {run_id} has no outputs ({status})", "export from a completed or cached run")
    slots = [o.slot for o in outputs]
    if slot is None:
        if len(outputs) > 1:
            raise UsageError(
                f"run {run_id} has several outputs: say which slot", "slots: " + ", ".join(slots)
            )
        return outputs[0]
    for o in outputs:
        if o.slot == slot:
            return o
    raise UsageError(
        f"run {run_id} has no output slot '{slot}'{did_you_mean(slot, slots)}", "slots: " + ", ".join(slots)
    )


def verify(store: ObjectStore, out: OutputRecord) -> None:
    """Check an output's object in the store before anything is written.

    Raises:
        StepFailed: The object is missing or corrupt.
    """
    store.verify(out.content_hash, "dir" if out.kind == "dir" else "file")


def stage(store: ObjectStore, out: OutputRecord, staged: Path) -> None:
    """Write an output's bytes to ``staged`` (a path that does not exist yet), re-hash what was
    written and make it the user's (writable)."""
    kind: Kind = "dir" if out.kind == "dir" else "file"
    staged.parent.mkdir(parents=True, exist_ok=True)
    store.materialize(out.content_hash, kind, staged)
    _check(store, out, staged)
    _writable(staged)


def _check(store: ObjectStore, out: OutputRecord, staged: Path) -> None:
    """Re-hash what was written."""
    if out.kind == "file":
        pairs = [(staged, out.content_hash)]
    else:
        pairs = [
            (staged / rel, str(d)) for rel, mode, _s, d in store.read_tree(out.content_hash) if mode != "d"
        ]
    for path, digest in pairs:
        actual, _ = hash_file(path)
        if actual != digest:
            raise StepFailed(
                f"export of {out.slot} wrote bytes that hash to {actual}, not {digest}",
                "check the destination file system, then export again",
            )


def _writable(path: Path) -> None:
    """Exported copies belong to the user: make them writable again."""
    paths = [path] if path.is_file() else [path, *path.rglob("*")]
    for p in paths:
        mode = p.stat().st_mode
        os.chmod(p, mode | 0o200 | (0o100 if p.is_dir() else 0))


def replace_with(staged: Path, target: Path) -> None:
    """Move ``staged`` to ``target``, replacing what is there (a directory is set aside first)."""
    if target.is_dir() and not target.is_symlink():
        old = target.with_name(f".{target.name}.wfc-old")
        os.replace(target, old)
        os.replace(staged, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        failpoint("export.before_rename")
        os.replace(staged, target)
