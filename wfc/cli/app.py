"""The typer application: every command except ``run-step`` (see ``wfc.cli.run_step``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from wfc.cli.boundary import emit_json, guarded, say
from wfc.output import table

app = typer.Typer(
    name="wfc",
    help="wfc: content-addressed, containerised steps for reproducible pipelines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

ProjectOpt = Annotated[
    Path | None, typer.Option("--project", help="Project directory (default: nearest wfc.toml).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks on errors.")]


def _project(path: Path | None, **overrides: str | None) -> Any:
    from wfc.project import Project

    return Project.load(path, {k: v for k, v in overrides.items() if v is not None})


@app.command("init")
def init_cmd(
    directory: Annotated[Path, typer.Argument(help="Where to create the project.")] = Path("."),
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Create a project: wfc.toml, methods/, environments/, pipelines/ and a git-ignored .wfc/.

    Example: wfc init my-project
    """

    def body() -> None:
        from wfc.scaffold import init_project

        created = init_project(directory)
        if json_out:
            emit_json({"schema": "wfc.init/1", "project": str(directory.resolve()), "created": created})
        elif created:
            say(f"initialised wfc project in {directory.resolve()}: created " + ", ".join(created))
        else:
            say(f"{directory.resolve()} is already a wfc project: nothing changed")

    guarded(body, json_mode=json_out, verbose=verbose)


@app.command(
    "run-step",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def run_step_cmd(ctx: typer.Context) -> None:
    """Run one step of a pipeline (cached or executed in a container). See `wfc run-step --help`."""
    from wfc.cli.run_step import main

    main(list(ctx.args))


VarOpt = Annotated[
    list[str] | None, typer.Option("--var", help="Set a pipeline variable: NAME=VALUE (repeatable).")
]


@app.command("plan")
def plan_cmd(
    pipeline: Annotated[Path, typer.Argument(help="The pipeline document (JSON).")],
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

    def body() -> None:
        from dataclasses import asdict

        from wfc.pipeline.plan import plan
        from wfc.step.command import parse_vars

        if explain:
            from wfc.cli.history import explain_steps, print_explained

            explained = explain_steps(pipeline, None, None, None, var, project)
            if json_out:
                emit_json({"schema": "wfc.why/1", "pipeline": str(pipeline), "steps": explained})
            else:
                print_explained(explained)
            return

        steps = plan(_project(project), pipeline, parse_vars(var or []))
        if json_out:
            emit_json(
                {"schema": "wfc.plan/1", "pipeline": str(pipeline), "steps": [asdict(s) for s in steps]}
            )
            return
        rows = [[s.name, s.method, json.dumps(s.params, sort_keys=True), s.status, s.reason] for s in steps]
        print(table(rows, ["step", "method", "params", "status", "why"]))
        runs = sum(1 for s in steps if s.status == "will run")
        say(f"{len(steps)} steps: {len(steps) - runs} cached, {runs} will run")

    guarded(body, json_mode=json_out, verbose=verbose)


@app.command("validate")
def validate_cmd(
    pipeline: Annotated[Path, typer.Argument(help="The pipeline document (JSON).")],
    project: ProjectOpt = None,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Report every problem of a pipeline document at once, with its JSON path and a fix.

    Example: wfc validate examples/pipelines/quickstart.json
    """

    def body() -> int:
        import os
        from dataclasses import asdict

        from wfc.pipeline.validate import validate

        problems = validate(_project(project), pipeline, dict(os.environ))
        errors = [p for p in problems if p.severity == "error"]
        if json_out:
            emit_json(
                {
                    "schema": "wfc.validate/1",
                    "pipeline": str(pipeline),
                    "valid": not errors,
                    "problems": [asdict(p) for p in problems],
                }
            )
        for p in problems if not json_out else []:
            where = f"{pipeline}: {p.path}: " if p.path else f"{pipeline}: "
            say(f"{p.severity}: {where}{p.message} (fix: {p.hint})")
        if not json_out and not errors:
            say(f"{pipeline} is valid" + (f" ({len(problems)} warnings)" if problems else ""))
        return 2 if errors else 0

    guarded(body, json_mode=json_out, verbose=verbose)


@app.command("schema")
def schema_cmd(
    what: Annotated[str, typer.Argument(help="Which schema: pipeline.")] = "pipeline",
    verbose: VerboseOpt = False,
) -> None:
    """Print the JSON Schema of a wfc document.

    Example: wfc schema pipeline > pipeline.schema.json
    """

    def body() -> None:
        from wfc.errors import UsageError
        from wfc.model.pipeline import Pipeline

        if what != "pipeline":
            raise UsageError(f"unknown schema '{what}'", "schemas: pipeline")
        emit_json(Pipeline.model_json_schema(by_alias=True))

    guarded(body, verbose=verbose)


@app.command("compile")
def compile_cmd(
    pipeline: Annotated[Path, typer.Argument(help="The pipeline document (JSON).")],
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

    def body() -> None:
        import yaml

        from wfc.atomic import write_text_atomic
        from wfc.compile.values import load_values
        from wfc.pipeline.generate import backend_of, generate

        chosen = backend_of(backend)
        merged = load_values(list(values or []))
        if show_values:
            sys.stdout.write(yaml.safe_dump(merged.model_dump(mode="json"), sort_keys=True, width=100))
            return
        files = generate(_project(project), pipeline, backend, merged)
        if output is None:
            for name in chosen.files:
                if len(chosen.files) > 1:
                    sys.stdout.write(f"# --- {name} ---\n")
                sys.stdout.write(files[name])
            return
        targets = (
            {chosen.files[0]: output} if len(chosen.files) == 1 else {n: output / n for n in chosen.files}
        )
        for name, target in targets.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(target, files[name])
        say(f"wrote {', '.join(str(t) for t in targets.values())} ({backend})")

    guarded(body, verbose=verbose)


@app.command("run-pipeline", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run_pipeline_cmd(
    ctx: typer.Context,
    pipeline: Annotated[Path, typer.Argument(help="The pipeline document (JSON).")],
    cores: Annotated[int, typer.Option("--cores", "-j", min=1, help="Steps run at once.")] = 1,
    keep_going: Annotated[
        bool, typer.Option("--keep-going", "-k", help="Go on with independent steps.")
    ] = False,
    var: VarOpt = None,
    project: ProjectOpt = None,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Run every step of a pipeline with Snakemake; cached steps cost nothing. Arguments after
    `--` go to Snakemake.

    Example: wfc run-pipeline examples/pipelines/quickstart.json --cores 2 -- --printshellcmds
    """

    def body() -> int:
        from wfc.pipeline.run import run_pipeline
        from wfc.step.command import parse_vars

        live = sys.stderr.isatty()

        def in_place(line: str) -> None:  # on a terminal, progress rewrites one line
            sys.stderr.write("\r\x1b[K" + line + ("\n" if line.startswith("  error:") else ""))
            sys.stderr.flush()

        result = run_pipeline(
            _project(project),
            pipeline,
            cores=cores,
            keep_going=keep_going,
            variables=parse_vars(var or []),
            snakemake_args=list(ctx.args),
            say=say,
            progress_line=in_place if live else None,
        )
        if live:
            sys.stderr.write("\n")
        if json_out:
            emit_json(result.to_json())
        else:
            rows = [[s["name"], s["status"], s["run_id"], s["why"]] for s in result.steps]
            print(table(rows, ["step", "status", "run", "why"]))
            counts = ", ".join(f"{n} {k}" for k, n in result.counts.items() if n)
            took = f"{result.seconds:.1f}s"
            say(f"pipeline run {result.pipeline_run_id} {result.status.value} in {took}: {counts}")
        return 0 if result.status == "completed" else 1

    guarded(body, json_mode=json_out, verbose=verbose)


@app.command("config")
def config_cmd(project: ProjectOpt = None, json_out: JsonOpt = False, verbose: VerboseOpt = False) -> None:
    """Show every setting, its environment variable, its value and where the value came from.

    Example: WFC_STORE=/data/store wfc config
    """

    def body() -> None:
        proj = _project(project)
        rows = [[s.spec.key, s.spec.env, s.value, s.source] for s in proj.settings.values()]
        if json_out:
            emit_json(
                {
                    "schema": "wfc.config/1",
                    "project": str(proj.root),
                    "settings": [dict(zip(["key", "env", "value", "source"], r, strict=True)) for r in rows],
                }
            )
        else:
            print(table(rows, ["setting", "variable", "value", "source"]))

    guarded(body, json_mode=json_out, verbose=verbose)
