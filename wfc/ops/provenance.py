"""``wfc export PIPELINE_RUN DEST --provenance ro-crate|prov``: what a pipeline run did, as a standard
provenance document beside its exported results.

This module owns the choice of format and the facts both writers share: the pipeline run, its
newest run of every step (any status) with inputs and outputs, and where each exported output lies
in ``DEST``. The documents are written by small writers of plain JSON (ADR 0034):
:mod:`wfc.ops.rocrate` (a Workflow Run RO-Crate, Provenance Run Crate profile) and
:mod:`wfc.ops.prov` (W3C PROV-JSON). Objects are named by content hash everywhere (``blake3:<hex>``),
so an input that is not in ``DEST`` (a sample) is still identified exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from wfc.errors import UsageError
from wfc.lineage.query import RunDetail
from wfc.lineage.records import PipelineRunRecord, RunRecord
from wfc.model.status import Status


class Provenance(StrEnum):
    """A provenance format ``wfc export --provenance`` writes.

    Attributes:
        RO_CRATE: a Workflow Run RO-Crate: ``DEST/ro-crate-metadata.json`` and ``DEST/pipeline.json``.
        PROV: W3C PROV-JSON: ``DEST/provenance.json``.
    """

    RO_CRATE = "ro-crate"
    PROV = "prov"


def provenance_format(text: str) -> Provenance:
    """The format named ``text``.

    Raises:
        UsageError: Not a format wfc writes.
    """
    try:
        return Provenance(text)
    except ValueError:
        choices = ", ".join(p.value for p in Provenance)
        raise UsageError(
            f"unknown provenance format '{text}': choose one of {choices}",
            "e.g. wfc export p-01JD2 results/ --provenance ro-crate",
        ) from None


@dataclass(frozen=True)
class Facts:
    """What a provenance document describes: the pipeline run, the newest run of each of its steps
    (``steps``, in step-name order, any status) and the place in ``DEST`` of each exported output,
    by ``(run id, slot)``."""

    pipeline_run: PipelineRunRecord
    steps: list[RunDetail]
    placed: dict[tuple[str, str], str]

    def by_hash(self) -> dict[str, str]:
        """The place in ``DEST`` of each exported object, by content hash (the first, if several)."""
        found: dict[str, str] = {}
        for detail in self.steps:
            for out in detail.outputs:
                rel = self.placed.get((detail.run.id, out.slot))
                if rel is not None:
                    found.setdefault(out.content_hash, rel)
        return found

    def upstream(self, detail: RunDetail) -> list[RunRecord]:
        """The steps of this pipeline run whose outputs ``detail`` read (each once, in step order)."""
        sources = {i.source_run_id for i in detail.inputs if i.source_run_id}
        return [
            d.run
            for d in self.steps
            if d.run.id != detail.run.id and (d.run.id in sources or d.run.cache_source_id in sources)
        ]


def method_ref(run: RunRecord) -> str:
    """The method a step ran, as the pipeline names it (``module/name``)."""
    return f"{run.module}/{run.method}"


def iso(when: datetime | None) -> str | None:
    """A recorded (naive UTC) time as ISO 8601 in milliseconds with its zone (the form the Process
    Run Crate profile checks), or None."""
    return None if when is None else when.replace(tzinfo=UTC).isoformat(timespec="milliseconds")


def succeeded(run: RunRecord) -> bool:
    """Whether a step run produced its outputs (executed, or reused them)."""
    return run.status in (Status.COMPLETED, Status.CACHED)


def write(flavour: Provenance, dest: Path, facts: Facts) -> Path:
    """Write the provenance document of ``facts`` into the (staged) folder ``dest``; return its path
    relative to ``dest``."""
    if flavour is Provenance.RO_CRATE:
        from wfc.ops.rocrate import write_crate

        return write_crate(dest, facts)
    from wfc.ops.prov import write_prov

    return write_prov(dest, facts)
