"""Archiving a finished execution's outputs into the store: the store verb the lifecycle calls
between collecting outputs and recording them (BRIEF §6.7).

Each output (a file, or a directory as a tree of objects) is written atomically and durably before
the next; only when every one is in the store may the run be recorded ``completed``. The run
directory is removed next, so its files are moved into the store rather than copied where the file
system allows (one read to hash, one fsync: big outputs archive at disk speed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wfc.failpoints import failpoint
from wfc.store.local import Kind, ObjectStore


@dataclass(frozen=True)
class Archived:
    """One output as stored: its slot, its path in the run directory, digest, size and kind."""

    slot: str
    path: str
    digest: str
    size: int
    kind: Kind


def archive_outputs(store: ObjectStore, out_dir: Path, outputs: dict[str, str]) -> list[Archived]:
    """Put every output (slot -> path relative to ``out_dir``) into the store, in slot order."""
    archived = []
    for slot, rel in sorted(outputs.items()):
        digest, size, kind = store.put(out_dir / rel, move=True)
        archived.append(Archived(slot, rel, digest, size, kind))
        failpoint("archive.after_output")
    return archived
