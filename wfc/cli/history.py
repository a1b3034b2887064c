"""Commands that read what happened: ``runs``, ``show``, ``logs``, ``lineage``, ``why``, ``export``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from wfc.cli.app import app
from wfc.cli.boundary import emit_json, guard, say
from wfc.cli.options import (
    JsonOpt,
    PipelineArg,
    ProjectOpt,
    RunArg,
    ScopeOpt,
    VarOpt,
    VerboseOpt,
    load_project,
    variables,
)
from wfc.output import plural, table


@app.command("runs")
@guard
def runs_cmd(
    pipeline_run: Annotated[
        str | None, typer.Argument(help="List the steps of this pipeline run (p-… or a prefix).")
    ] = None,
    pipeline: Annotated[
        str | None, typer.Option("--pipeline", help="Only runs of this pipeline name.")
    ] = None,
    node: Annotated[str | None, typer.Option("--node", help="Only steps of this node.")] = None,
    sample: Annotated[str | None, typer.Option("--sample", help="Only steps of this sample.")] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", help="Only steps with this status: running|completed|cached|failed|cancelled."
        ),
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only since: 30m, 2h, 7d or a date.")] = None,
    steps: Annotated[bool, typer.Option("--steps", help="List step runs, not pipeline runs.")] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many pipeline runs.")] = 20,
    project: ProjectOpt = None,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """List recent pipeline runs (newest first), or their steps with --steps or a filter.

    Example: wfc runs --node summarise --status failed --since 7d
    """
    from wfc import api

    found = api.runs(
        load_project(project),
        pipeline_run=pipeline_run,
        pipeline=pipeline,
        node=node,
        sample=sample,
        status=status,
        since=since,
        limit=limit,
    )
    if json_out:
        emit_json(found)
        return
    docs = found.pipeline_runs
    if steps or pipeline_run or any(v is not None for v in (node, sample, status)):
        rows = [
            [s["id"], pr["id"], s["step"], s["status"], s["started_at"][:19], _secs(s["seconds"])]
            for pr in docs
            for s in pr["steps"]
        ]
        print(table(rows, ["run", "pipeline run", "step", "status", "started (UTC)", "took"]))
        say(plural(len(rows), "step run"))
        return
    rows = [
        [d["id"], d["pipeline"], d["status"], d["started_at"][:19], _secs(d["seconds"]), _counts(d["counts"])]
        for d in docs
    ]
    print(table(rows, ["pipeline run", "pipeline", "status", "started (UTC)", "took", "steps"]))


def _secs(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}s"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))


@app.command("show")
@guard
def show_cmd(
    run: RunArg,
    pipeline: ScopeOpt = None,
    project: ProjectOpt = None,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Show everything recorded about a step run: method, hashes, params, image, inputs and their
    sources, outputs, metrics, status, times, host, logs, git commit.

    Example: wfc show r-01JD3
    """
    from wfc import api
    from wfc.cli.render import show_text

    doc = api.show(load_project(project), run, pipeline=pipeline)
    if json_out:
        emit_json(doc)
    else:
        print(show_text(doc))


@app.command("logs")
@guard
def logs_cmd(
    run: RunArg,
    stderr: Annotated[bool, typer.Option("--stderr", help="Show standard error instead of output.")] = False,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing until the run ends.")] = False,
    pipeline: ScopeOpt = None,
    project: ProjectOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Print a step run's standard output (or error) as the method wrote it, bytes unchanged.

    Example: wfc logs r-01JD3 --stderr --follow
    """
    from wfc.ops.history import logs

    stream = "stderr" if stderr else "stdout"
    logs(
        load_project(project),
        run,
        sys.stdout.buffer,
        stream=stream,
        follow=follow,
        note=say,
        pipeline=pipeline,
    )


@app.command("lineage")
@guard(json_when=lambda kwargs: kwargs.get("fmt") == "json")
def lineage_cmd(
    run: RunArg,
    down: Annotated[bool, typer.Option("--down", help="Descendants instead of ancestors.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="tree, json or dot.")] = "tree",
    pipeline: ScopeOpt = None,
    project: ProjectOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Show where a run's inputs came from, down to sample versions (or, with --down, every run
    that used its outputs), across pipeline runs.

    Example: wfc lineage r-01JD3 --format dot | dot -Tsvg > lineage.svg
    """
    from wfc import api
    from wfc.errors import UsageError
    from wfc.ops.lineage_view import render

    if fmt not in ("tree", "json", "dot"):
        raise UsageError(f"unknown format '{fmt}'", "formats: tree, json, dot")
    graph = api.lineage(load_project(project), run, down=down, pipeline=pipeline)
    sys.stdout.write(render(graph, fmt))  # type: ignore[arg-type]


@app.command("why")
@guard
def why_cmd(
    pipeline: PipelineArg,
    node: Annotated[str | None, typer.Option("--node", help="The node to explain (default: all).")] = None,
    sample: Annotated[str | None, typer.Option("--sample", help="Only this sample.")] = None,
    variant: Annotated[str | None, typer.Option("--variant", help="Only this variant.")] = None,
    var: VarOpt = None,
    project: ProjectOpt = None,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Say whether each step of a node will be cached or run, and for a run, what changed since
    the nearest earlier run (params, code files, contract, image, input data).

    Example: wfc why examples/pipelines/quickstart.json --node summarise --sample north
    """
    from wfc import api
    from wfc.cli.render import why_text

    found = api.why(
        load_project(project), pipeline, node=node, sample=sample, variant=variant, variables=variables(var)
    )
    if json_out:
        emit_json(found)
    else:
        sys.stdout.write(why_text(found))


@app.command("export")
@guard
def export_cmd(
    run: RunArg,
    args: Annotated[
        list[str],
        typer.Argument(
            help="[SLOT] DEST: the output slot (optional when there is one) and where to write; "
            "for a pipeline run, DEST only."
        ),
    ],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing destination.")] = False,
    provenance: Annotated[
        str | None,
        typer.Option(
            "--provenance",
            help="With a pipeline run, also describe what it did: ro-crate (DEST becomes a Workflow Run "
            "RO-Crate) or prov (DEST/provenance.json, W3C PROV-JSON).",
        ),
    ] = None,
    pipeline: ScopeOpt = None,
    project: ProjectOpt = None,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Copy a run's output out of the store, verified by hash (a cached run exports the outputs it
    reused), or every output of a pipeline run (p-…) into DEST/<node>/<sample>/<variant>/ with a
    manifest.json, and with --provenance a provenance document.

    Examples: wfc export r-01JD3 summary ./summary.csv
              wfc export p-01JD2 results/
              wfc export p-01JD2 results/ --provenance ro-crate
    """
    from wfc import api
    from wfc.errors import UsageError

    if run.startswith("p-"):
        if len(args) != 1:
            raise UsageError(
                "a pipeline run exports all its outputs: give only DEST", f"e.g. wfc export {run} results/"
            )
        folder = api.export_results(load_project(project), run, args[0], force=force, provenance=provenance)
        if json_out:
            emit_json(folder)
            return
        what = f"{plural(folder.files, 'file')}, {plural(folder.bytes, 'byte')}, each verified"
        say(f"exported pipeline run {folder.pipeline_run} ({folder.pipeline}) to {folder.dest}/: {what}")
        for step in folder.skipped:
            say(f"  skipped {step}: no outputs")
        say(f"manifest: {folder.dest / 'manifest.json'}")
        if folder.provenance is not None:
            say(f"provenance ({provenance}): {folder.dest / folder.provenance}")
        return
    if provenance is not None:
        raise UsageError(
            "--provenance describes a pipeline run: give a pipeline run id (p-…)",
            f"e.g. wfc export p-01JD2 results/ --provenance {provenance}",
        )
    if len(args) not in (1, 2):
        raise UsageError("export takes [SLOT] DEST", "e.g. wfc export RUN summary ./out.json")
    slot, dest = (None, args[0]) if len(args) == 1 else (args[0], args[1])
    done = api.export(load_project(project), run, slot, Path(dest), force=force, pipeline=pipeline)
    if json_out:
        emit_json(done)
    else:
        origin = f" (outputs of run {done.source_run})" if done.source_run != done.run else ""
        what = f"{plural(done.size, 'byte')}, verified {done.hash}"
        say(f"exported {done.slot} of {done.run}{origin} to {done.dest}: {what}")
