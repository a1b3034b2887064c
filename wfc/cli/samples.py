"""Commands that register samples: ``sample add|import|list``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from wfc.cli.app import app
from wfc.cli.boundary import emit_json, guard, say
from wfc.cli.options import JsonOpt, ProjectOpt, VerboseOpt, load_project
from wfc.output import plural, table

if TYPE_CHECKING:
    from wfc.lineage.records import SampleRecord
    from wfc.samples import Registered

sample_app = typer.Typer(help="Register and list samples.", no_args_is_help=True)
app.add_typer(sample_app, name="sample")
CHANGES = ("added", "updated", "unchanged")


@sample_app.command("add")
@guard
def sample_add(
    args: Annotated[
        list[str],
        typer.Argument(
            metavar="paths",
            help="NAME PATH, or paths and quoted globs ('data/*.csv').",
            show_default=False,
        ),
    ],
    project: ProjectOpt = None,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Register files or directories as sample versions (content stored by hash).

    NAME PATH registers PATH as sample NAME. PATH [PATH...] registers each path under its file
    name without the extension (reads.fastq.gz: reads; a directory: its name); wfc expands a
    quoted glob ('data/*.csv', sorted; ** spans folders). Two arguments whose first is neither
    an existing path nor a glob are NAME PATH; otherwise every argument is a path or a glob.
    A missing path, a glob matching nothing, a bad or repeated name registers nothing.

    Example: wfc sample add north examples/data/north.csv; wfc sample add 'examples/data/*.csv'
    """
    from wfc.samples import add_arguments

    legacy, done = add_arguments(load_project(project), args)
    if legacy:
        _one(done[0], json_out)
        return
    if json_out:
        emit_json({"schema": "wfc.sample-add-paths/1", **_summary(done)})
        return
    for each in done:
        say(_line(each))
    say(f"{plural(len(done), 'sample')}: {_counts(done)}")


@sample_app.command("import")
@guard
def sample_import(
    sheet: Annotated[Path, typer.Argument(help="A CSV or TSV sample sheet.", show_default=False)],
    project: ProjectOpt = None,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Register every sample of a CSV or TSV sample sheet, with its metadata.

    The header row names the columns name (or sample) and path; every other column is kept as
    metadata that pipelines can select on. CSV or TSV by extension (else sniffed); relative paths
    start from the sheet's folder. Every row is checked first: a bad row (named by line)
    registers nothing. Importing a sample's newest content with other metadata replaces that
    version's metadata ("updated"); new content adds a version.

    Example: wfc sample import samples.csv
    """
    from wfc.samples import import_sheet

    done = import_sheet(load_project(project), sheet)
    if json_out:
        emit_json({"schema": "wfc.sample-import/1", "sheet": str(sheet), **_summary(done)})
        return
    for each in done:
        if each.change != "unchanged":
            say(_line(each))
    say(f"imported {plural(len(done), 'sample')} from {sheet}: {_counts(done)}")


@sample_app.command("list")
@guard
def sample_list(project: ProjectOpt = None, json_out: JsonOpt = False, verbose: VerboseOpt = False) -> None:
    """List every registered sample version with its metadata.

    Example: wfc sample list --json
    """
    from wfc.samples import list_samples

    docs = [
        {**_doc(r), "registered_at": r.registered_at.isoformat()} for r in list_samples(load_project(project))
    ]
    if json_out:
        emit_json({"schema": "wfc.sample-list/1", "samples": docs})
        return
    rows = [
        [
            str(d["name"]),
            str(d["version"]),
            str(d["kind"]),
            str(d["size"]),
            str(d["hash"]),
            str(d["source"]),
            ",".join(f"{k}={v}" for k, v in d["metadata"].items()),
        ]
        for d in docs
    ]
    print(table(rows, ["sample", "version", "kind", "bytes", "hash", "source", "metadata"]))


def _doc(sample: SampleRecord) -> dict[str, Any]:
    from wfc.samples.lock import lock_entry

    return {**lock_entry(sample), "metadata": dict(sorted(sample.metadata.items()))}


def _one(done: Registered, json_out: bool) -> None:
    """The output of ``wfc sample add NAME PATH`` (unchanged since that form was the only one)."""
    sample, created = done.sample, done.change == "added"
    if json_out:
        doc = {k: v for k, v in _doc(sample).items() if k not in ("source", "metadata")}
        emit_json({"schema": "wfc.sample-add/1", **doc, "created": created})
    else:
        say(_line(done))


def _line(done: Registered) -> str:
    sample = done.sample
    if done.change == "added":
        what = f"{sample.kind}, {plural(sample.size, 'byte')}, {sample.content_hash}"
        return f"added sample {sample.name}@{sample.version} ({what})"
    if done.change == "updated":
        shown = ", ".join(f"{k}={v}" for k, v in sorted(sample.metadata.items())) or "none"
        return f"sample {sample.name}@{sample.version}: metadata updated ({shown})"
    return f"sample {sample.name}@{sample.version} already has this content: nothing changed"


def _summary(done: list[Registered]) -> dict[str, Any]:
    counts = {change: sum(1 for d in done if d.change == change) for change in CHANGES}
    return {"samples": [{**_doc(d.sample), "change": d.change} for d in done], **counts}


def _counts(done: list[Registered]) -> str:
    counts = [(change, sum(1 for d in done if d.change == change)) for change in CHANGES]
    return ", ".join(f"{n} {change}" for change, n in counts if n or change != "updated")
