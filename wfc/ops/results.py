"""``wfc export PIPELINE_RUN DEST/``: every output of a pipeline run, verified, in a results folder.

The layout is ``DEST/<node>/<sample>/<variant>/<file>`` (the sample and variant levels only when
the step has them; the file keeps the name the method gave it), with ``DEST/manifest.json``
listing each file's step, run, slot, hash and size. Everything is checked in the store first,
then written and re-hashed in a temporary sibling of ``DEST`` and renamed into place, so ``DEST``
is either the complete, verified folder or untouched. An existing ``DEST`` that is not empty is
replaced only with ``force``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from wfc.errors import UsageError
from wfc.lineage.db import database
from wfc.lineage.query import RunFilter, find_pipeline_run, run_detail, step_runs
from wfc.lineage.records import OutputRecord, RunRecord, now
from wfc.model.status import Status
from wfc.ops.export import replace_with, stage, verify
from wfc.ops.history import newest_per_step, step_of
from wfc.ops.provenance import Facts, Provenance
from wfc.ops.provenance import write as write_provenance
from wfc.project import Project

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class ExportedRun:
    """A pipeline run's outputs copied into a results folder; ``skipped``: steps without outputs."""

    SCHEMA: ClassVar[str] = "wfc.export-run/1"

    pipeline_run: str
    pipeline: str
    dest: Path
    files: int
    bytes: int
    skipped: tuple[str, ...]
    provenance: Path | None = None  # the provenance document in ``dest`` (``--provenance``)


def export_pipeline_run(
    project: Project, ref: str, dest: Path, *, force: bool = False, provenance: Provenance | None = None
) -> ExportedRun:
    """Copy every output of pipeline run ``ref`` (an id or a unique prefix) into ``dest``; with
    ``provenance``, also what the run did in that format (:mod:`wfc.ops.provenance`).

    Raises:
        UsageError: Unknown pipeline run, one without outputs, or a ``dest`` that is not empty.
        StepFailed: An object is missing or corrupt in the store, or written bytes differ.
    """
    with database(project.database_url, read_only=True) as db:
        pr = find_pipeline_run(db, ref)
        runs = newest_per_step(step_runs(db, RunFilter(), [pr.id]))
        done = [r for r in runs if r.status in (Status.COMPLETED, Status.CACHED)]
        details = {r.id: run_detail(db, r) for r in runs}
        outputs = {r.id: details[r.id].outputs for r in done}
    skipped = tuple(f"{step_of(r)} ({r.status})" for r in runs if r not in done)
    if not any(outputs.values()):
        raise UsageError(
            f"pipeline run {pr.id} has no outputs to export", "export a pipeline run whose steps completed"
        )
    if dest.exists() and not (dest.is_dir() and not any(dest.iterdir())) and not force:
        raise UsageError(
            f"{dest} already exists and is not empty: not overwriting it",
            "choose another destination, or pass --force to replace it",
        )
    store = project.object_store("copy")  # the user's copy must not share the store's inodes
    files = [(run, out, _place(run, out, outputs[run.id])) for run in done for out in outputs[run.id]]
    for _run, out, _rel in files:
        verify(store, out)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".wfc-export-"))
    try:
        staged = tmp / "results"
        staged.mkdir()
        for _run, out, rel in files:
            stage(store, out, staged / rel)
        manifest = _manifest(pr.id, pr.name, files, skipped)
        (staged / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        placed = {(run.id, out.slot): rel.as_posix() for run, out, rel in files}
        facts = Facts(pr, [details[r.id] for r in runs], placed)
        document = None if provenance is None else write_provenance(provenance, staged, facts)
        replace_with(staged, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    total = sum(o.size for _r, o, _p in files)
    return ExportedRun(pr.id, pr.name, dest, len(files), total, skipped, document)


def _place(run: RunRecord, out: OutputRecord, siblings: list[OutputRecord]) -> Path:
    """Where an output goes under ``DEST``: node, sample, variant, then its file name (under its
    slot when another output of the step has the same file name)."""
    parts = [run.node_id] + [_safe(x) for x in (run.sample, run.variant) if x is not None]
    name = out.path.rstrip("/").rsplit("/", 1)[-1]
    if sum(1 for o in siblings if o.path.rstrip("/").rsplit("/", 1)[-1] == name) > 1:
        parts.append(_safe(out.slot))
    return Path(*parts, _safe(name))


def _safe(text: str) -> str:
    """A name as one path component: no separator, no NUL, never ``.`` or ``..``, no hidden file."""
    text = text.replace("%", "%25").replace("/", "%2F").replace("\0", "%00")
    return "%2E" + text[1:] if text.startswith(".") else text


def _manifest(
    pr_id: str, pipeline: str, files: list[tuple[RunRecord, OutputRecord, Path]], skipped: tuple[str, ...]
) -> dict[str, Any]:
    return {
        "schema": "wfc.export-manifest/1",
        "pipeline_run": pr_id,
        "pipeline": pipeline,
        "exported_at": now().isoformat(),
        "files": [
            {
                "path": rel.as_posix(),
                "step": step_of(run),
                "node": run.node_id,
                "sample": run.sample,
                "variant": run.variant,
                "slot": out.slot,
                "run": run.id,
                "source_run": run.cache_source_id or run.id,
                "hash": out.content_hash,
                "size": out.size,
                "kind": out.kind,
            }
            for run, out, rel in files
        ],
        "skipped": list(skipped),
    }
