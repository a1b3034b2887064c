"""``wfc run-step``: parsed with argparse so that a cache hit never imports typer or the Docker SDK.

Step processes are short-lived and run thousands of times per pipeline; the hot path imports only
the standard library, pydantic, PyYAML, blake3 and SQLAlchemy (see ``bench/step_overhead.py``).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any, NoReturn

from wfc.cli.boundary import emit_json, guarded, say
from wfc.errors import ExitCode, UsageError

EPILOG = """\
examples:
  wfc run-step examples/pipelines/quickstart.json --node clean --sample north
  wfc run-step pipeline.json --node report --json
  wfc run-step pipeline.json --node fit --sample s1 --variant deep --force

exit codes: 0 completed or cached, 1 the step failed, 2 bad input, 3 Docker or database unreachable,
130 interrupted."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"run-step: {message}", "see `wfc run-step --help`")


def build_parser() -> argparse.ArgumentParser:
    """The ``run-step`` argument parser."""
    p = _Parser(
        prog="wfc run-step",
        description="Run one concrete step of a pipeline: a cache hit is recorded as cached, a miss runs "
        "the method in a container and records its outputs and lineage.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("pipeline", type=Path, help="the pipeline document (JSON)")
    p.add_argument("--node", required=True, help="the node id")
    p.add_argument("--sample", help="the sample, for a per-sample node")
    p.add_argument("--variant", help="a variant declared by the node")
    p.add_argument(
        "--pipeline-run", help="record into this pipeline run (default: $WFC_PIPELINE_RUN or ad hoc)"
    )
    p.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a pipeline variable (over $WFC_VAR_NAME and its default); repeatable",
    )
    p.add_argument("--force", action="store_true", help="execute even when the step is cached")
    p.add_argument("--stream", action="store_true", help="stream the method's output to the terminal")
    p.add_argument("--project", help="the project directory (default: nearest wfc.toml)")
    p.add_argument("--json", action="store_true", help="print a JSON document on stdout")
    p.add_argument("--verbose", "-v", action="store_true", help="show tracebacks")
    return p


def main(argv: list[str]) -> NoReturn:
    """Entry point of ``wfc run-step``."""
    json_mode = "--json" in argv
    verbose = "--verbose" in argv or "-v" in argv
    guarded(lambda: _run(argv), json_mode=json_mode, verbose=verbose)


def _run(argv: list[str]) -> int:
    import os

    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)

    from wfc.project import Project
    from wfc.step.lifecycle import run_step

    project = Project.load(args.project)
    outcome = run_step(
        project,
        args.pipeline,
        args.node,
        args.sample,
        args.variant,
        pipeline_run_id=args.pipeline_run or os.environ.get("WFC_PIPELINE_RUN") or None,
        force=args.force,
        echo=args.stream,
        variables=parse_vars(args.var),
    )
    if args.json:
        emit_json(outcome.to_json())
    else:
        _print(outcome)
    if outcome.status == "failed":
        if not args.json:
            say(f"error: step {outcome.name} failed: {outcome.error}")
            say(f"hint: see {outcome.log_dir}/stderr.log (run {outcome.run_id})")
        return ExitCode.FAILED
    return ExitCode.OK


def parse_vars(items: list[str]) -> dict[str, str]:
    """Parse repeated ``--var NAME=VALUE`` options.

    Raises:
        UsageError: An item without ``=``.
    """
    values: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--var {item!r}: expected NAME=VALUE", "for example: --var threshold=0.5")
        values[name] = value
    return values


def _print(outcome: Any) -> None:
    if outcome.status == "cached":
        source = outcome.cache_source
        say(f"{outcome.name}: cached (run {outcome.run_id}, from {source}) in {outcome.seconds:.2f}s")
    elif outcome.status == "completed":
        why = outcome.reason
        say(f"{outcome.name}: completed (run {outcome.run_id}; ran: {why}) in {outcome.seconds:.2f}s")
    for slot, out in outcome.outputs.items():
        sys.stdout.write(f"{slot}\t{out['hash']}\t{out['size']}\t{out['path']}\n")


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt
