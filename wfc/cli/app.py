"""The typer application and the commands that work on a pipeline document: ``plan``,
``validate``, ``schema``, ``compile``, ``run-pipeline`` and ``config``. Other command groups
(``wfc.cli.setup``, ``samples``, ``history``, ``operate``) register themselves on :data:`app`;
``run-step`` has its own light parser (``wfc.cli.run_step``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from wfc.cli.boundary import emit_json, guard, say
from wfc.cli.options import JsonOpt, PipelineArg, ProjectOpt, VarOpt, VerboseOpt, load_project, variables
from wfc.model.status import Status
from wfc.output import plural, table

app = typer.Typer(
    name="wfc",
    help="wfc: content-addressed, containerised steps for reproducible pipelines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        from wfc import __version__

        print(f"wfc {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """wfc: content-addressed, containerised steps for reproducible pipelines.

    Example: wfc run-pipeline examples/pipelines/quickstart.json --cores 2
    """


@app.command(
    "run-step",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def run_step_cmd(ctx: typer.Context) -> None:
    """Run one step of a pipeline (cached or executed in a container). See `wfc run-step --help`."""
    from wfc.cli.run_step import main

    main(list(ctx.args))


@app.command("plan")
@guard
def plan_cmd(
    pipeline: PipelineArg,
    var: VarOpt = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="For each step, what changed since its last run (as `wfc why`).")
    ] = False,
    project: ProjectOpt = None,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """List every concrete step (node x sample x variant) with its params, and whether it will run.

    Example: wfc plan examples/pipelines/quickstart.json --var threshold=0.5 --explain
    """
    from wfc import api
    from wfc.cli.render import why_text

    if explain:
        found = api.why(load_project(project), pipeline, variables=variables(var))
        if json_out:
            emit_json(found)
        else:
            sys.stdout.write(why_text(found))
        return
    plan = api.plan(load_project(project), pipeline, variables(var))
    if json_out:
        emit_json(plan)
        return
    steps = plan.steps
    rows = [[s.name, s.method, json.dumps(s.params, sort_keys=True), s.status, s.reason] for s in steps]
    print(table(rows, ["step", "method", "params", "status", "why"]))
    runs = sum(1 for s in steps if s.status == "will run")
    say(f"{plural(len(steps), 'step')}: {len(steps) - runs} cached, {runs} will run")


@app.command("validate")
@guard
def validate_cmd(
    pipeline: PipelineArg, project: ProjectOpt = None, json_out: JsonOpt = False, verbose: VerboseOpt = False
) -> int:
    """Report every problem of a pipeline document at once, with its JSON path and a fix.

    Example: wfc validate examples/pipelines/quickstart.json
    """
    from wfc import api

    result = api.Validation(str(pipeline), tuple(api.validate(load_project(project), pipeline)))
    if json_out:
        emit_json(result)
    else:
        for p in result.problems:
            where = f"{pipeline}: {p.path}: " if p.path else f"{pipeline}: "
            say(f"{p.severity}: {where}{p.message}" + (f"\nhint: {p.hint}" if p.hint else ""))
        if result.valid:
            warned = f" ({plural(len(result.problems), 'warning')})" if result.problems else ""
            say(f"{pipeline} is valid{warned}")
    return 0 if result.valid else 2


@app.command("schema")
@guard
def schema_cmd(
    what: Annotated[str, typer.Argument(help="Which schema: pipeline.")] = "pipeline",
    verbose: VerboseOpt = False,
) -> None:
    """Print the JSON Schema of a wfc document.

    Example: wfc schema pipeline > pipeline.schema.json
    """
    from wfc.errors import UsageError
    from wfc.model.pipeline import Pipeline

    if what != "pipeline":
        raise UsageError(f"unknown schema '{what}'", "schemas: pipeline")
    emit_json(Pipeline.model_json_schema(by_alias=True))


@app.command("compile")
@guard
def compile_cmd(
    pipeline: PipelineArg,
    backend: Annotated[
        str, typer.Option("--backend", "-b", help="Target engine: snakemake, argo or dvc.")
    ] = "snakemake",
    values: Annotated[
        list[Path] | None, typer.Option("--values", "-f", help="A values file (repeatable; later ones win).")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write here (a file; for dvc, a directory) instead of stdout."),
    ] = None,
    show_values: Annotated[
        bool, typer.Option("--show-values", help="Print the merged values with every default filled in.")
    ] = False,
    project: ProjectOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Compile a pipeline for another engine; the output is deterministic and uses relative paths.

    Example: wfc compile examples/pipelines/quickstart.json --backend argo -f values.yaml -o workflow.yaml
    """
    import yaml

    from wfc import api
    from wfc.atomic import write_text_atomic
    from wfc.compile.values import load_values
    from wfc.pipeline.generate import backend_of

    chosen = backend_of(backend)
    if show_values:
        merged = load_values(list(values or []))
        sys.stdout.write(yaml.safe_dump(merged.model_dump(mode="json"), sort_keys=True, width=100))
        return
    out_dir = None if output is None else output if len(chosen.files) > 1 else output.parent
    files = api.compile(load_project(project), pipeline, backend, values or (), out_dir=out_dir)
    if output is None:
        for name in chosen.files:
            if len(chosen.files) > 1:
                sys.stdout.write(f"# --- {name} ---\n")
            sys.stdout.write(files[name])
        return
    targets = {chosen.files[0]: output} if len(chosen.files) == 1 else {n: output / n for n in chosen.files}
    for name, target in targets.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(target, files[name])
    say(f"wrote {', '.join(str(t) for t in targets.values())} ({backend})")


@app.command("run-pipeline", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@guard
def run_pipeline_cmd(
    ctx: typer.Context,
    pipeline: PipelineArg,
    cores: Annotated[int, typer.Option("--cores", "-j", min=1, help="Steps run at once.")] = 1,
    keep_going: Annotated[
        bool, typer.Option("--keep-going", "-k", help="Go on with independent steps.")
    ] = False,
    var: VarOpt = None,
    force: Annotated[
        list[str] | None,
        typer.Option("--force", help="Re-execute this node's steps even when cached (repeatable)."),
    ] = None,
    force_all: Annotated[bool, typer.Option("--force-all", help="Re-execute every step.")] = False,
    project: ProjectOpt = None,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> int:
    """Run every step of a pipeline with Snakemake; cached steps cost nothing. Arguments after
    `--` go to Snakemake.

    Example: wfc run-pipeline examples/pipelines/quickstart.json --cores 2 --force clean -- --printshellcmds
    """
    from wfc import api
    from wfc.cli.progress import Progress
    from wfc.cli.render import failure_text

    progress = Progress()
    proj = load_project(project)
    forced = api.method_nodes(proj, pipeline) if force_all else list(force or [])
    result = api.run_pipeline(
        proj,
        pipeline,
        cores=cores,
        keep_going=keep_going,
        variables=variables(var),
        force=forced,
        snakemake_args=list(ctx.args),
        on_event=progress,
    )
    progress.end_line()
    if json_out:
        emit_json(result)
    else:
        rows = [[s.name, s.status, s.run_id, s.why] for s in result.steps]
        print(table(rows, ["step", "status", "run", "why"]))
        for failed in (s for s in result.steps if s.status == Status.FAILED):
            say(failure_text(failed.name, failed.why, failed.stderr_tail, failed.run_id))
        counts = ", ".join(f"{n} {k}" for k, n in result.counts.items() if n)
        took = f"{result.seconds:.1f}s"
        say(f"pipeline run {result.pipeline_run} {result.status.value} in {took}: {counts}")
    return 0 if result.status == Status.COMPLETED else 1


@app.command("config")
@guard
def config_cmd(project: ProjectOpt = None, json_out: JsonOpt = False, verbose: VerboseOpt = False) -> None:
    """Show every setting, its environment variable, its value and where the value came from.

    Example: WFC_STORE=/data/store wfc config
    """
    proj = load_project(project)
    rows = [[s.spec.key, s.spec.env, s.value, s.source] for s in proj.settings.values()]
    if json_out:
        settings = [dict(zip(["key", "env", "value", "source"], r, strict=True)) for r in rows]
        emit_json({"schema": "wfc.config/1", "project": str(proj.root), "settings": settings})
    else:
        print(table(rows, ["setting", "variable", "value", "source"]))
