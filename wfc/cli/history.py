"""Commands that read what happened: ``runs``, ``show``, ``logs``, ``lineage``, ``why``, ``export``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from wfc.cli.app import JsonOpt, ProjectOpt, VarOpt, VerboseOpt, _project, app
from wfc.cli.boundary import emit_json, guarded, say
from wfc.output import table

RunArg = Annotated[str, typer.Argument(help="A step run id (r-…) or a unique prefix of it.")]


@app.command("runs")
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

    def body() -> None:
        from wfc.errors import UsageError
        from wfc.lineage.query import RunFilter
        from wfc.model.status import Status
        from wfc.ops.history import history, parse_since

        if status is not None and status not in {s.value for s in Status}:
            raise UsageError(f"unknown status '{status}'", "statuses: " + ", ".join(s.value for s in Status))
        where = RunFilter(pipeline, node, sample, status, parse_since(since), limit)
        docs = history(_project(project), where, steps_of=pipeline_run)
        if json_out:
            emit_json({"schema": "wfc.runs/1", "pipeline_runs": docs})
            return
        if steps or pipeline_run or any(v is not None for v in (node, sample, status)):
            rows = [
                [s["id"], pr["id"], s["step"], s["status"], s["started_at"][:19], _secs(s["seconds"])]
                for pr in docs
                for s in pr["steps"]
            ]
            print(table(rows, ["run", "pipeline run", "step", "status", "started (UTC)", "took"]))
            say(f"{len(rows)} step runs")
            return
        rows = [
            [
                d["id"],
                d["pipeline"],
                d["status"],
                d["started_at"][:19],
                _secs(d["seconds"]),
                _counts(d["counts"]),
            ]
            for d in docs
        ]
        print(table(rows, ["pipeline run", "pipeline", "status", "started (UTC)", "took", "steps"]))

    guarded(body, json_mode=json_out, verbose=verbose)


def _secs(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}s"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))


@app.command("show")
def show_cmd(
    run: RunArg, project: ProjectOpt = None, json_out: JsonOpt = False, verbose: VerboseOpt = False
) -> None:
    """Show everything recorded about a step run: method, hashes, params, image, inputs and their
    sources, outputs, metrics, status, times, host, logs, git commit.

    Example: wfc show r-01JD3
    """

    def body() -> None:
        from wfc.ops.history import show

        doc = show(_project(project), run)
        if json_out:
            emit_json(doc)
        else:
            print(_show_text(doc))

    guarded(body, json_mode=json_out, verbose=verbose)


def _show_text(d: dict[str, Any]) -> str:
    pr = d["pipeline_run"]
    lines = [
        f"run          {d['id']}  {d['status']}"
        + (f" (from {d['cache_source_id']})" if d["cache_source_id"] else ""),
        f"step         {d['step']}",
        f"pipeline run {pr['id']} ({pr['pipeline']}, {pr['status']}), document {pr['document_hash']}",
        f"method       {d['module']}/{d['method']}",
        f"code         {d['code_hash']}",
        f"contract     {d['contract_hash']}",
        f"params       {json.dumps(d['params'], sort_keys=True)}",
        f"environment  {d['env_name']} {d['env_digest']}",
        f"key          {d['key']}",
        f"started      {d['started_at']} UTC on {d['host']}",
        f"ended        {d['ended_at'] or '-'}"
        + (f" ({d['seconds']:.2f}s)" if d["seconds"] is not None else ""),
        f"git commit   {pr['git_commit'] or '-'}   wfc {pr['wfc_version']}",
    ]
    if d["members"]:
        lines.append(f"members      {', '.join(d['members'])}")
    for label, value in (("reason", d["reason"]), ("error", d["error"]), ("exit code", d["exit_code"])):
        if value is not None:
            lines.append(f"{label:<12} {value}")
    if d["cancel_cause_id"]:
        lines.append(f"cancelled by {d['cancel_cause_id']}")
    lines.append("inputs")
    for i in d["inputs"]:
        src = i["source"]
        origin = (
            f"sample {src['sample']}@{src['version']}"
            if "sample" in src
            else f"run {src['run']} ({src['node']}) slot {src['slot']}"
        )
        lines.append(f"  {i['slot']}[{i['position']}]  {origin}  {i['hash']}")
    lines.append("outputs")
    for o in d["outputs"]:
        lines.append(f"  {o['slot']}  {o['path']}  {o['kind']} {o['size']} bytes  {o['hash']}")
    if d["metrics"]:
        lines.append(f"metrics      {json.dumps(d['metrics'], sort_keys=True)}")
    for stream, where in d["logs"].items():
        lines.append(f"{stream:<12} {where['file'] or '-'}  (object {where['object'] or '-'})")
    return "\n".join(lines)


@app.command("logs")
def logs_cmd(
    run: RunArg,
    stderr: Annotated[bool, typer.Option("--stderr", help="Show standard error instead of output.")] = False,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing until the run ends.")] = False,
    project: ProjectOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Print a step run's standard output (or error) as the method wrote it, bytes unchanged.

    Example: wfc logs r-01JD3 --stderr --follow
    """

    def body() -> None:
        from wfc.ops.history import logs

        stream = "stderr" if stderr else "stdout"
        logs(_project(project), run, sys.stdout.buffer, stream=stream, follow=follow, note=say)

    guarded(body, verbose=verbose)


@app.command("lineage")
def lineage_cmd(
    run: RunArg,
    down: Annotated[bool, typer.Option("--down", help="Descendants instead of ancestors.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="tree, json or dot.")] = "tree",
    project: ProjectOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Show where a run's inputs came from, down to sample versions (or, with --down, every run
    that used its outputs), across pipeline runs.

    Example: wfc lineage r-01JD3 --format dot | dot -Tsvg > lineage.svg
    """

    def body() -> None:
        from wfc.errors import UsageError
        from wfc.ops.lineage_view import lineage_graph, render

        if fmt not in ("tree", "json", "dot"):
            raise UsageError(f"unknown format '{fmt}'", "formats: tree, json, dot")
        sys.stdout.write(render(lineage_graph(_project(project), run, down=down), fmt))  # type: ignore[arg-type]

    guarded(body, json_mode=fmt == "json", verbose=verbose)


@app.command("why")
def why_cmd(
    pipeline: Annotated[Path, typer.Argument(help="The pipeline document (JSON).")],
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

    def body() -> None:
        explained = explain_steps(pipeline, node, sample, variant, var, project)
        if json_out:
            emit_json({"schema": "wfc.why/1", "pipeline": str(pipeline), "steps": explained})
        else:
            print_explained(explained)

    guarded(body, json_mode=json_out, verbose=verbose)


def print_explained(explained: list[dict[str, Any]]) -> None:
    """Print ``why`` documents: one line per step, then its reasons."""
    for e in explained:
        against = f" (compared with run {e['compared_with']})" if e["compared_with"] else ""
        print(f"{e['step']}: {e['status']}{against}")
        for reason in e["reasons"]:
            print(f"  - {reason}")


def explain_steps(
    pipeline: Path,
    node: str | None,
    sample: str | None,
    variant: str | None,
    var: list[str] | None,
    project: Path | None,
) -> list[dict[str, Any]]:
    """The ``why`` documents of the selected steps (shared with ``plan --explain``)."""
    from dataclasses import asdict

    from wfc.ops.why import why
    from wfc.step.command import parse_vars

    found = why(
        _project(project),
        pipeline,
        node=node,
        sample=sample,
        variant=variant,
        variables=parse_vars(var or []),
    )
    return [asdict(e) for e in found]


@app.command("export")
def export_cmd(
    run: RunArg,
    args: Annotated[
        list[str],
        typer.Argument(help="[SLOT] DEST: the output slot (optional when there is one) and where to write."),
    ],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing destination.")] = False,
    project: ProjectOpt = None,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Copy a run's output out of the store, verified by hash (a cached run exports the outputs it reused).

    Example: wfc export r-01JD3 summary ./results/
    """

    def body() -> None:
        from wfc.errors import UsageError
        from wfc.ops.export import export

        if len(args) not in (1, 2):
            raise UsageError("export takes [SLOT] DEST", "e.g. wfc export RUN summary ./out.json")
        slot, dest = (None, args[0]) if len(args) == 1 else (args[0], args[1])
        done = export(_project(project), run, slot, Path(dest), force=force)
        if json_out:
            emit_json(
                {
                    "schema": "wfc.export/1",
                    "run": done.run_id,
                    "source_run": done.source_run_id,
                    "slot": done.slot,
                    "dest": str(done.dest),
                    "hash": done.hash,
                    "size": done.size,
                    "kind": done.kind,
                }
            )
        else:
            origin = f" (outputs of run {done.source_run_id})" if done.source_run_id != done.run_id else ""
            say(
                f"exported {done.slot} of {done.run_id}{origin} to {done.dest}:"
                f" {done.size} bytes, verified {done.hash}"
            )

    guarded(body, json_mode=json_out, verbose=verbose)
