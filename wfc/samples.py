"""Registering samples: content into the store, a version row in the database, a line in the lock.

``samples.lock.json`` (committed) lists every registered version with its content hash and its
project-relative source path, so a fresh checkout can find and verify sample sources later:
``restore_from_lock`` registers them (a run does), ``sample_from_lock`` reads them (a plan does).
"""

from __future__ import annotations

import json
import re
from contextlib import closing
from pathlib import Path
from typing import Any

from wfc.atomic import write_text_atomic
from wfc.errors import UsageError
from wfc.lineage import open_lineage
from wfc.lineage.records import Lineage, SampleRecord, now
from wfc.project import Project

LOCK_FILE = "samples.lock.json"
# Any printable name without "/" or "@" (the version separator) that does not start with "-" or space.
NAME = re.compile(r"^(?![-\s.])[^/@\x00-\x1f\x7f]+(?<!\s)$")


def add_sample(project: Project, name: str, path: Path) -> tuple[SampleRecord, bool]:
    """Store a file or directory as a sample version; return it and whether it is new.

    Re-adding the same content under the same name changes nothing; new content becomes the next
    version and earlier versions stay resolvable as ``name@version``.

    Raises:
        UsageError: A bad name or a missing path.
    """
    if not NAME.match(name):
        raise UsageError(
            f"bad sample name '{name}': no '/', '@' or control characters, and no leading '-', '.' or space",
            "for example: wfc sample add patient_01 data/p01.csv",
        )
    if not path.exists():
        raise UsageError(f"sample path not found: {path}", "check the path")
    store = project.object_store()
    digest, size, kind = store.put(path)
    with closing(open_lineage(project.database_url)) as lineage:
        sample, created = lineage.add_sample_version(
            SampleRecord(
                name=name,
                version=0,
                content_hash=digest,
                kind=kind,
                original_name=path.resolve().name,
                size=size,
                source_path=project.relative(path),
                registered_at=now(),
            )
        )
    if not created:
        return sample, False
    _update_lock(project, sample)
    return sample, True


def restore_from_lock(project: Project, lineage: Lineage, name: str) -> bool:
    """Register a sample's versions from ``samples.lock.json`` on a database that lacks them (a
    fresh checkout: DVC, CI): each source file is stored and must hash to its locked hash, so a
    restored version is the very content that was registered. False when the lock has no entry.

    Raises:
        UsageError: A locked source is missing or no longer has the locked content.
    """
    entries = _locked(project, name)
    if not entries:
        return False
    store = project.object_store()
    for entry in entries:
        source, rel = _source(project, entry)
        digest, size, kind = store.put(source)
        if digest != entry["hash"]:
            raise _changed(name, entry)
        lineage.add_sample_version(
            SampleRecord(name, 0, digest, kind, source.resolve().name, size, rel, now())
        )
    return True


def sample_from_lock(project: Project, name: str, version: int | None = None) -> SampleRecord | None:
    """A sample version as :func:`restore_from_lock` would register it (the newest when
    ``version`` is None), read from ``samples.lock.json`` without writing anything: for commands
    that only read (plan, why, validate). None when the lock does not list it.

    Only cheap checks are made: the source exists and, for a file, has the locked size. Its
    content is not hashed; the restore that a run performs hashes it and refuses a difference.

    Raises:
        UsageError: The locked source is missing, or a file's size differs from the lock.
    """
    entries = [e for e in _locked(project, name) if version is None or int(e["version"]) == version]
    if not entries:
        return None
    entry = entries[-1]
    source, rel = _source(project, entry)
    kind = "dir" if source.is_dir() else "file"
    if kind == "file" and source.stat().st_size != int(entry["size"]):
        raise _changed(name, entry)
    return SampleRecord(
        name=name,
        version=int(entry["version"]),
        content_hash=str(entry["hash"]),
        kind=kind,
        original_name=source.resolve().name,
        size=int(entry["size"]),
        source_path=rel,
        registered_at=now(),
    )


def _locked(project: Project, name: str) -> list[dict[str, Any]]:
    """The lock's entries for ``name``, oldest version first."""
    path = project.root / LOCK_FILE
    if not path.is_file():
        return []
    entries = [
        e for e in json.loads(path.read_text(encoding="utf-8")).get("samples", []) if e["name"] == name
    ]
    return sorted(entries, key=lambda e: int(e["version"]))


def _source(project: Project, entry: dict[str, Any]) -> tuple[Path, str]:
    rel, name = str(entry["source"]), entry["name"]
    source = project.root / rel
    if not source.exists():
        raise UsageError(
            f"sample {name}@{entry['version']} is not registered here and its source {rel} is missing",
            f"restore the file, or register the sample again: wfc sample add {name} PATH",
        )
    return source, rel


def _changed(name: str, entry: dict[str, Any]) -> UsageError:
    rel = entry["source"]
    return UsageError(
        f"sample {name}@{entry['version']}: {rel} no longer has the content recorded in {LOCK_FILE}",
        f"restore the original file, or register the new content: wfc sample add {name} {rel}",
    )


def list_samples(project: Project) -> list[SampleRecord]:
    """Every registered sample version."""
    with closing(open_lineage(project.database_url)) as lineage:
        return lineage.list_samples()


def _update_lock(project: Project, sample: SampleRecord) -> None:
    path = project.root / LOCK_FILE
    entries: dict[tuple[str, int], dict[str, object]] = {}
    if path.is_file():
        for entry in json.loads(path.read_text(encoding="utf-8")).get("samples", []):
            entries[(str(entry["name"]), int(entry["version"]))] = entry
    entries[(sample.name, sample.version)] = {
        "name": sample.name,
        "version": sample.version,
        "hash": sample.content_hash,
        "kind": sample.kind,
        "size": sample.size,
        "source": sample.source_path,
    }
    doc = {"schema": 1, "samples": [entries[k] for k in sorted(entries)]}
    write_text_atomic(path, json.dumps(doc, indent=2) + "\n")
