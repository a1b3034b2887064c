"""Registering samples: content into the store, versions into the database, entries into the lock.

Many samples register at once (``wfc sample add PATH...``, ``wfc sample import SHEET``): every
argument or row is checked first, then every file is stored, then every version is recorded in
one database transaction, then the lock is written once. A mistake registers nothing.

A version is content. Re-adding a name's newest content changes nothing; new content becomes the
next version, and earlier versions stay resolvable as ``name@version``. Metadata comes from sample
sheets only: importing the newest content with other metadata replaces that version's metadata
(``updated``: it is a label, not part of any step key); ``wfc sample add`` never changes
metadata, and a new version it adds keeps the metadata of the version before.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from wfc.errors import UsageError
from wfc.failpoints import failpoint
from wfc.lineage import open_lineage
from wfc.lineage.records import SampleChange, SampleRecord, now
from wfc.project import Project
from wfc.samples.lock import write_lock
from wfc.samples.paths import check_name, legacy_form, named_paths
from wfc.samples.sheet import read_sheet


@dataclass(frozen=True)
class Registered:
    """One sample as registering left it: its version, and what registering changed."""

    sample: SampleRecord
    change: SampleChange


def add_sample(project: Project, name: str, path: Path) -> tuple[SampleRecord, bool]:
    """Store a file or directory as a version of sample ``name``; return it and whether it is new.

    Raises:
        UsageError: A bad name or a missing path.
    """
    check_name(name)
    if not path.exists():
        raise UsageError(f"sample path not found: {path}", "check the path")
    done = register(project, [(name, path, {})], keep_metadata=True)[0]
    return done.sample, done.change == "added"


def add_paths(project: Project, args: list[str]) -> list[Registered]:
    """Register each path or glob of ``args`` under the name its file gives (see
    :mod:`wfc.samples.paths`).

    Raises:
        UsageError: As :func:`~wfc.samples.paths.named_paths`; nothing is registered.
    """
    return register(project, [(name, path, {}) for name, path in named_paths(args)], keep_metadata=True)


def add_arguments(project: Project, args: list[str]) -> tuple[bool, list[Registered]]:
    """``wfc sample add ARGS``: the ``NAME PATH`` form or paths and globs (see
    :mod:`wfc.samples.paths`); also return whether it was the ``NAME PATH`` form.

    Raises:
        UsageError: A bad name, a missing path, a glob matching nothing, a name given twice.
    """
    legacy = legacy_form(args)
    if legacy is None:
        return False, add_paths(project, args)
    check_name(legacy[0])
    if not legacy[1].exists():
        raise UsageError(f"sample path not found: {legacy[1]}", "check the path")
    return True, register(project, [(*legacy, {})], keep_metadata=True)


def import_sheet(project: Project, sheet: Path) -> list[Registered]:
    """Register every row of a sample sheet with its metadata (see :mod:`wfc.samples.sheet`).

    Raises:
        UsageError: A bad sheet or row (named by line); nothing is registered.
    """
    rows = read_sheet(sheet)
    return register(project, [(r.name, r.path, r.metadata) for r in rows], keep_metadata=False)


def register(
    project: Project, items: list[tuple[str, Path, dict[str, str]]], *, keep_metadata: bool
) -> list[Registered]:
    """Store every ``(name, path, metadata)``, record them in one transaction, write the lock once.
    ``keep_metadata``: the items bring no metadata (``wfc sample add``)."""
    store = project.object_store()
    records = []
    for name, path, metadata in items:
        digest, size, kind = store.put(path)
        source = project.relative(path)
        records.append(
            SampleRecord(name, 0, digest, kind, path.resolve().name, size, source, now(), dict(metadata))
        )
    failpoint("sample.before_record")  # the objects are in the store, not yet recorded
    with closing(open_lineage(project.database_url)) as lineage:
        done = lineage.register_samples(records, keep_metadata=keep_metadata)
    changed = [record for record, change in done if change != "unchanged"]
    if changed:
        write_lock(project, changed)
    return [Registered(record, change) for record, change in done]


def list_samples(project: Project) -> list[SampleRecord]:
    """Every registered sample version."""
    with closing(open_lineage(project.database_url)) as lineage:
        return lineage.list_samples()
