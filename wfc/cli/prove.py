"""Commands that prove results: ``reproduce`` (re-run recorded steps and compare their bytes) and
``report`` (a pipeline run as one self-contained HTML file)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from wfc.cli.app import app
from wfc.cli.boundary import emit_json, guard, say
from wfc.cli.options import JsonOpt, ProjectOpt, ScopeOpt, VerboseOpt, load_project
from wfc.errors import ExitCode
from wfc.output import plural

if TYPE_CHECKING:
    from wfc.ops.reproduce import Reproduction


@app.command("reproduce")
@guard
def reproduce_cmd(
    run: Annotated[
        str,
        typer.Argument(
            help="A step run (r-…, a unique prefix or last:STEP), or a pipeline run (p-…): all its "
            "executed steps."
        ),
    ],
    cores: Annotated[int, typer.Option("--cores", "-c", min=1, help="Steps re-run at once.")] = 1,
    pipeline: ScopeOpt = None,
    project: ProjectOpt = None,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> int:
    """Re-run recorded steps from exactly what was recorded (the kept code, the inputs by hash, the
    params, the image by digest) in a scratch directory, and say for each output whether the bytes
    are identical. Exits 0 when all are, 1 when any differs. The original and the cache are never
    touched; each re-run is recorded as a reproduction (`wfc show` tells when a result was last
    confirmed).

    Examples: wfc reproduce r-01JD3
              wfc reproduce p-01JD2 --cores 4
    """
    from wfc import api

    def progress(step: Reproduction) -> None:
        if not json_out:
            sys.stderr.write(step_text(step))

    done = api.reproduce(load_project(project), run, cores=cores, pipeline=pipeline, on_step=progress)
    if json_out:
        emit_json(done)
    else:
        same = sum(s.identical for s in done.steps)
        summary = f"{same} of {plural(len(done.steps), 'step')} reproduced bit-identically"
        if not done.identical:
            names = [
                f"{s.step} ({', '.join(s.differing) or 'failed'})" for s in done.steps if not s.identical
            ]
            summary += "; not reproducible: " + ", ".join(names)
        skipped = f"; skipped {len(done.skipped)} (not executed here)" if done.skipped else ""
        say(f"{summary}{skipped}; recorded as {done.pipeline_run}")
    return ExitCode.OK if done.identical else ExitCode.FAILED  # some output is not bit-identical


def step_text(step: Reproduction) -> str:
    """One step's verdict: a line, and for each differing output its sizes, hashes and diff."""
    lines = [
        f"{step.step}: {'identical' if step.identical else 'DIFFERENT'} ({step.run} -> {step.reproduction})"
    ]
    if step.error:
        lines.append(f"  {step.error}")
    for out in step.outputs:
        if out.identical:
            continue
        lines.append(f"  {out.slot}: not reproducible")
        lines.append(
            f"    original   {plural(int(str(out.original['size'])), 'byte')}  {out.original['hash']}"
        )
        if out.reproduced is not None:
            size = int(str(out.reproduced["size"]))
            lines.append(f"    reproduced {plural(size, 'byte')}  {out.reproduced['hash']}")
        lines += [f"    {line}" for line in out.diff.splitlines()]
    return "".join(line + "\n" for line in lines)


@app.command("report")
@guard
def report_cmd(
    pipeline_run: Annotated[str, typer.Argument(help="The pipeline run (p-… or a unique prefix).")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The HTML file to write.", show_default=True)
    ] = Path("report.html"),
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    project: ProjectOpt = None,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Write a pipeline run's report: one HTML file that opens from disk without a network, with
    the DAG coloured by status, a timeline, every step (took, CPU, peak memory, cached from, why),
    params, outputs with sizes and hashes, environments, the git commit and failed steps' stderr.

    Example: wfc report p-01JD2 -o report.html
    """
    from wfc import api

    written = api.report(load_project(project), pipeline_run, output, force=force)
    if json_out:
        emit_json(written)
        return
    what = f"{plural(written.steps, 'step')}, {plural(written.bytes, 'byte')}"
    say(f"wrote the report of pipeline run {written.pipeline_run} to {written.path} ({what})")
