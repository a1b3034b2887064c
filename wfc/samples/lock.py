"""``samples.lock.json``: the committed list of every registered sample version.

Each entry names a version, its content hash, kind and size, its project-relative source path and,
when it has any, its metadata (a sample sheet's extra columns). A fresh checkout finds and
verifies sample sources through it: :func:`restore_from_lock` registers them (a run does),
:func:`sample_from_lock` reads them without writing (a plan does), and :func:`sample_catalog` is
what an input node's ``select`` chooses from, so planning needs no database.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from wfc.atomic import write_text_atomic
from wfc.errors import UsageError
from wfc.lineage.records import Lineage, SampleRecord, now
from wfc.model.pipeline import InputNode, Pipeline
from wfc.project import Project

LOCK_FILE = "samples.lock.json"
LOCK_SCHEMA = 1  # "metadata" is optional: a lock without it reads as before
Entry = dict[str, Any]
_memo: dict[Path, tuple[tuple[int, int, int], dict[str, list[Entry]]]] = {}


def read_lock(project: Project) -> dict[str, list[Entry]]:
    """The lock's entries by sample name, oldest version first; read once per change of the file
    (a pipeline over a thousand samples looks each one up).

    Raises:
        UsageError: The lock is not valid JSON.
    """
    path = project.root / LOCK_FILE
    try:
        st = path.stat()
    except FileNotFoundError:
        return {}
    stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
    cached = _memo.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        listed = json.loads(path.read_text(encoding="utf-8")).get("samples", [])
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
        raise UsageError(
            f"{LOCK_FILE} is not a valid lock file: {exc}",
            f"restore it from version control (git checkout {LOCK_FILE})",
        ) from None
    entries: dict[str, list[Entry]] = {}
    for entry in sorted(listed, key=lambda e: (str(e["name"]), int(e["version"]))):
        entries.setdefault(str(entry["name"]), []).append(entry)
    _memo[path] = (stamp, entries)
    return entries


def write_lock(project: Project, samples: Iterable[SampleRecord]) -> None:
    """Add or replace these versions' entries: one atomic write, whatever their number."""
    merged = {(name, int(e["version"])): e for name, es in read_lock(project).items() for e in es}
    for sample in samples:
        merged[(sample.name, sample.version)] = lock_entry(sample)
    doc = {"schema": LOCK_SCHEMA, "samples": [merged[k] for k in sorted(merged)]}
    write_text_atomic(project.root / LOCK_FILE, json.dumps(doc, indent=2) + "\n")


def lock_entry(sample: SampleRecord) -> Entry:
    """A version as the lock lists it (``metadata`` only when it has some)."""
    entry: Entry = {
        "name": sample.name,
        "version": sample.version,
        "hash": sample.content_hash,
        "kind": sample.kind,
        "size": sample.size,
        "source": sample.source_path,
    }
    if sample.metadata:
        entry["metadata"] = dict(sorted(sample.metadata.items()))
    return entry


def sample_catalog(project: Project) -> dict[str, dict[str, str]]:
    """Every locked sample name with its newest version's metadata: what ``select`` picks from."""
    return {name: _metadata(entries[-1]) for name, entries in read_lock(project).items()}


def catalog_for(project: Project, pipeline: Pipeline) -> dict[str, dict[str, str]]:
    """The sample catalog when one of the pipeline's input nodes selects, else empty (unread)."""
    if any(isinstance(n, InputNode) and n.select is not None for n in pipeline.nodes):
        return sample_catalog(project)
    return {}


def restore_from_lock(project: Project, lineage: Lineage, name: str) -> bool:
    """Register a sample's versions from ``samples.lock.json`` on a database that lacks them (a
    fresh checkout: DVC, CI): each source file is stored and must hash to its locked hash, so a
    restored version is the very content that was registered. False when the lock has no entry.

    Raises:
        UsageError: A locked source is missing or no longer has the locked content.
    """
    entries = read_lock(project).get(name, [])
    if not entries:
        return False
    store = project.object_store()
    for entry in entries:
        source, rel = _source(project, entry)
        digest, size, kind = store.put(source)
        if digest != entry["hash"]:
            raise _changed(name, entry)
        lineage.add_sample_version(
            SampleRecord(name, 0, digest, kind, source.resolve().name, size, rel, now(), _metadata(entry))
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
    entries = [e for e in read_lock(project).get(name, []) if version is None or int(e["version"]) == version]
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
        metadata=_metadata(entry),
    )


def _metadata(entry: Entry) -> dict[str, str]:
    return {str(k): str(v) for k, v in (entry.get("metadata") or {}).items()}


def _source(project: Project, entry: Entry) -> tuple[Path, str]:
    rel, name = str(entry["source"]), entry["name"]
    source = project.root / rel
    if not os.path.exists(source):
        raise UsageError(
            f"sample {name}@{entry['version']} is not registered here and its source {rel} is missing",
            f"restore the file, or register the sample again: wfc sample add {name} PATH",
        )
    return source, rel


def _changed(name: str, entry: Entry) -> UsageError:
    rel = entry["source"]
    return UsageError(
        f"sample {name}@{entry['version']}: {rel} no longer has the content recorded in {LOCK_FILE}",
        f"restore the original file, or register the new content: wfc sample add {name} {rel}",
    )
