"""Commands that look after a project: ``cache verify|gc|stats|push|pull|pin``, ``doctor``,
``inspect`` (run-time settings of a pipeline) and ``metrics clean``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from wfc.cli.app import app
from wfc.cli.boundary import emit_json, guard, say
from wfc.cli.options import JsonOpt, PipelineArg, ProjectOpt, ScopeOpt, VerboseOpt, load_project
from wfc.output import plural, table

cache_app = typer.Typer(help="Check, prune and measure the object store.", no_args_is_help=True)
metrics_app = typer.Typer(help="Manage metrics pushed to the Prometheus Pushgateway.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")
app.add_typer(metrics_app, name="metrics")


@cache_app.command("verify")
@guard
def cache_verify(project: ProjectOpt = None, json_out: JsonOpt = False, verbose: VerboseOpt = False) -> int:
    """Re-hash every object in the store and look for referenced objects that are missing; exit 1
    when any is corrupt (it is moved to quarantine) or missing.

    Example: wfc cache verify
    """
    from wfc import api

    live = sys.stderr.isatty() and not json_out

    def progress(done: int, total: int) -> None:
        if live:
            sys.stderr.write(f"\r\x1b[Kverifying {done}/{plural(total, 'object')}")

    report = api.cache_verify(load_project(project), progress=progress)
    if live:
        sys.stderr.write("\n")
    if json_out:
        emit_json(report)
    else:
        for p in report.problems:
            users = ", ".join(p.used_by) or "nothing recorded"
            later = f"; superseded by {', '.join(p.superseded_by)}, intact" if p.superseded_by else ""
            say(f"{p.problem}: {p.hash} (used by {users}{later})")
        failed = [p for p in report.problems if p.problem != "stale"]
        stale = len(report.problems) - len(failed)
        verdict = plural(len(failed), "problem") if failed else "all good"
        if stale:
            verdict += f" ({stale} stale: history of superseded runs only, nothing the cache serves)"
        say(f"verified {plural(report.objects, 'object')} ({plural(report.bytes, 'byte')}): {verdict}")
        if failed:
            say("hint: re-run the steps that made them (`wfc run-pipeline` re-executes what is missing)")
    return 1 if report.failed else 0


@cache_app.command("gc")
@guard
def cache_gc(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", "-n", help="Only list what would be removed.")
    ] = False,
    keep_last: Annotated[
        int | None,
        typer.Option(
            "--keep-last",
            min=1,
            help="Keep only the last N pipeline runs of each pipeline (plus samples and pins).",
        ),
    ] = None,
    grace: Annotated[
        float, typer.Option("--grace", min=0, help="Seconds: never remove objects written this recently.")
    ] = 300,
    shared: Annotated[
        bool,
        typer.Option(
            "--shared", help="Collect the shared store (WFC_STORE=s3://…) instead of this machine's cache."
        ),
    ] = False,
    project: ProjectOpt = None,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Remove objects no recorded run, sample or pin references (never ones a running step may need).
    With --shared, from the bucket every machine uses, safely while they run (docs/scale-out.md).

    Examples: wfc cache gc --keep-last 3 --dry-run
              wfc cache gc --shared --keep-last 5
    """
    from wfc import api

    p = load_project(project)
    r = api.cache_gc(p, dry_run=dry_run, keep_last=keep_last, grace=grace, shared=shared)
    if json_out:
        emit_json(r)
        return
    verb = "would remove" if r.dry_run else "removed"
    temp = "" if shared else f"; {verb} {plural(r.temp_files, 'stale temp file')}"
    say(
        f"{verb} {plural(len(r.removed), 'object')} ({plural(r.bytes, 'byte')}); kept {r.kept} referenced"
        f" and {r.kept_recent} recent{temp}"
    )


@cache_app.command("stats")
@guard
def cache_stats(project: ProjectOpt = None, json_out: JsonOpt = False, verbose: VerboseOpt = False) -> None:
    """Objects and bytes in the store, deduplication, runs by status and the cache hit rate.

    Example: wfc cache stats --json
    """
    from wfc.ops.care import stats

    doc = stats(load_project(project))
    if json_out:
        emit_json(doc)
        return
    runs = ", ".join(f"{n} {k}" for k, n in sorted(doc["runs"].items())) or "none"
    rows = [
        ["objects", str(doc["objects"])],
        ["bytes in store", f"{doc['bytes']} ({doc['data_bytes']} data, the rest logs and listings)"],
        ["bytes recorded", f"{doc['logical_bytes']} (outputs of every run, and samples)"],
        ["dedup ratio", str(doc["dedup_ratio"] or "-")],
        ["runs", runs],
        ["hit rate", "-" if doc["hit_rate"] is None else f"{doc['hit_rate']:.1%}"],
        ["bytes reused by hits", str(doc["bytes_reused_by_hits"])],
    ]
    print(table(rows, ["store", str(doc["store"])]))


PipelineRunOpt = Annotated[
    str | None,
    typer.Option(
        "--pipeline-run",
        help="Only this pipeline run's objects (an id or a unique prefix): what its steps read and wrote.",
    ),
]


@cache_app.command("push")
@guard
def cache_push(
    pipeline_run: PipelineRunOpt = None,
    project: ProjectOpt = None,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> int:
    """Upload to the shared store (WFC_STORE=s3://BUCKET/PREFIX) the objects it lacks: one LIST
    says what it has, only missing objects move, in parallel; a killed push resumes when run again.

    Examples: wfc cache push
              wfc cache push --pipeline-run p-01JD3 --json
    """
    from wfc import api

    return _transfer(api.cache_push, pipeline_run, project, json_out)


@cache_app.command("pull")
@guard
def cache_pull(
    pipeline_run: PipelineRunOpt = None,
    project: ProjectOpt = None,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> int:
    """Download from the shared store the objects the local cache lacks, each verified by hash
    before it is named; a killed pull leaves nothing half-written and resumes when run again.
    (Runs fetch what they need on their own: pull ahead of time, e.g. before going offline.)

    Examples: wfc cache pull --pipeline-run p-01JD3
              wfc cache pull
    """
    from wfc import api

    return _transfer(api.cache_pull, pipeline_run, project, json_out)


def _transfer(verb: Any, pipeline_run: str | None, project: Path | None, json_out: bool) -> int:
    live = sys.stderr.isatty() and not json_out

    def progress(done: int, total: int) -> None:
        if live:
            sys.stderr.write(f"\r\x1b[K{done}/{plural(total, 'object')}")

    t = verb(load_project(project), pipeline_run=pipeline_run, progress=progress)
    if live:
        sys.stderr.write("\n")
    if json_out:
        emit_json(t)
    else:
        done, where = ("pushed", "to") if t.direction == "push" else ("pulled", "from")
        say(
            f"{done} {plural(t.moved, 'object')} ({plural(t.bytes, 'byte')}) {where} {t.remote};"
            f" {t.present} already there"
        )
        if t.missing:
            say(f"{plural(len(t.missing), 'object')} in neither store, first {t.missing[0]}")
            say("hint: re-run the steps that made them (`wfc run-pipeline` re-executes what is missing)")
    return 1 if t.missing else 0


@cache_app.command("pin")
@guard
def cache_pin(
    run: Annotated[
        str, typer.Argument(help="The step run whose outputs to keep (an id, a prefix or last:STEP).")
    ],
    note: Annotated[str, typer.Option("--note", help="Why it is pinned.")] = "",
    remove: Annotated[bool, typer.Option("--remove", help="Unpin instead.")] = False,
    pipeline: ScopeOpt = None,
    project: ProjectOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Keep a run's outputs through every `cache gc --keep-last` (or stop keeping them with --remove).

    Example: wfc cache pin r-01JD3 --note "figure 2 of the paper"
    """
    from wfc import api

    found, changed = api.pin(load_project(project), run, note=note, remove=remove, pipeline=pipeline)
    state = "unpinned" if remove else "pinned"
    say(f"{state} {found}" if changed else f"{found} was already {state}")


@app.command("doctor")
@guard
def doctor_cmd(project: ProjectOpt = None, json_out: JsonOpt = False, verbose: VerboseOpt = False) -> int:
    """Check Docker, the database, the store, the environments, Snakemake and git; exit 1 on any failure.

    Example: wfc doctor
    """
    from wfc import api

    health = api.doctor(load_project(project))
    if json_out:
        emit_json(health)
    else:
        rows = [[c.name, c.status, c.detail, c.fix] for c in health.checks]
        print(table(rows, ["check", "status", "detail", "fix"]))
        failed = sum(1 for c in health.checks if c.status == "fail")
        say(f"{plural(failed, 'check')} failed" if failed else "all checks passed")
    return 0 if health.ok else 1


@app.command("inspect")
@guard
def inspect_cmd(
    pipeline: PipelineArg,
    gen_env: Annotated[
        bool, typer.Option("--gen-env", help="Print a .env template of every setting.")
    ] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 listing missing or invalid settings.")
    ] = False,
    project: ProjectOpt = None,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> int:
    """The run-time settings a pipeline reads from the environment: its variables (WFC_VAR_*) and
    wfc's own (database, store, gateway…), required first.

    Example: wfc inspect examples/pipelines/sweep.json --gen-env > .env
    """
    from dataclasses import asdict

    from wfc.model.pipeline import load_pipeline
    from wfc.ops.settings import env_template, items

    found = items(load_project(project), pipeline, os.environ)
    bad = [i for i in found if i.problem]
    if gen_env:
        sys.stdout.write(env_template(load_pipeline(pipeline)[0].name, found))
        return 0
    if json_out:
        emit_json(
            {
                "schema": "wfc.inspect/1",
                "pipeline": str(pipeline),
                "ok": not bad,
                "settings": [asdict(i) for i in found],
            }
        )
    elif check:
        for i in bad:
            say(f"error: {i.env}: {i.problem} ({i.description})")
        say(
            f"{plural(len(bad), 'setting')} missing or invalid"
            if bad
            else "every required setting is present and valid"
        )
    else:
        rows = [
            [i.env, "required" if i.required else "optional", i.value or "", i.default, i.problem or "ok"]
            for i in found
        ]
        print(table(rows, ["variable", "need", "value", "default", "state"]))
    return 1 if (check and bad) else 0


@metrics_app.command("clean")
@guard
def metrics_clean(
    pipeline_run: Annotated[
        str | None, typer.Option("--pipeline-run", help="Delete only this pipeline run's groups.")
    ] = None,
    project: ProjectOpt = None,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Delete wfc's metric groups from the Pushgateway (it never expires them by itself).

    Example: WFC_PUSHGATEWAY=http://localhost:9091 wfc metrics clean --pipeline-run p-01JD3
    """
    from wfc import metrics
    from wfc.errors import InfraError, UsageError

    url = load_project(project).get("pushgateway")
    if not url:
        raise UsageError("no Pushgateway configured", "set WFC_PUSHGATEWAY=http://HOST:9091")
    try:
        found = [
            g for g in metrics.groups(url) if pipeline_run is None or g.get("pipeline_run") == pipeline_run
        ]
        for group in found:
            metrics.delete(url, group)
    except (OSError, ValueError) as exc:
        raise InfraError(
            f"Pushgateway {url} unreachable: {getattr(exc, 'reason', exc)}",
            "check WFC_PUSHGATEWAY and that the gateway runs",
        ) from None
    if json_out:
        emit_json({"schema": "wfc.metrics-clean/1", "deleted": found})
    else:
        say(f"deleted {plural(len(found), 'metric group')} from {url}")
