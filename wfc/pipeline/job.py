"""The command line a Snakemake job runs, ``wfc run-step …``: parsed, its step run, its marker and
outputs file written and its answer printed the same way whether the job's own process does it or
``run-pipeline``'s warm worker does it for the job (:mod:`wfc.pipeline.worker`, ADR 0033).

The parser is argparse (standard library only) so that a cache hit run by hand pays no typer import.
"""

from __future__ import annotations

import argparse
import json
import os
import textwrap
import traceback
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from wfc.errors import ExitCode, UsageError, WfcError
from wfc.model.status import Status
from wfc.output import error_text, json_text

INTERNAL_HINT = "this is a bug in wfc: rerun with --verbose and report the traceback"
DESCRIPTION = (
    "Run one concrete step of a pipeline: a cache hit is recorded as cached, a miss runs the method "
    "in a container and records its outputs and lineage."
)
STR, PATH = "<str>", "<path>"
EXAMPLES = """\
Example:
  wfc run-step examples/pipelines/quickstart.json --node clean --sample north
  wfc run-step pipeline.json --node report --json
  wfc run-step pipeline.json --node fit --sample s1 --variant deep --force

Exit codes: 0 completed or cached, 1 the step failed, 2 bad input, 3 Docker or database
unreachable, 130 interrupted."""


class _Help(argparse.HelpFormatter):
    """Help laid out like every other wfc command's (typer's): Usage, text, an example, Arguments,
    Options with ``<type>`` metavars, ``[required]`` marks, ``--help`` last."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=80)

    def add_usage(self, usage: str | None, actions: Any, groups: Any, prefix: str | None = None) -> None:
        super().add_usage("wfc run-step [OPTIONS] {pipeline}", actions, groups, "Usage: ")

    def start_section(self, heading: str | None) -> None:
        titles = {"positional arguments": "Arguments", "options": "Options"}
        super().start_section(titles.get(heading or "", heading))

    def _format_action_invocation(self, action: argparse.Action) -> str:
        if not action.option_strings:
            return f"{action.dest} <path>"
        names = ", ".join(sorted(action.option_strings, key=len))
        return names if action.nargs == 0 else f"{names} {action.metavar}"

    def _get_help_string(self, action: argparse.Action) -> str:
        return (action.help or "") + ("  [required]" if action.required else "")

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("Example"):
            return text
        return textwrap.fill(" ".join(text.split()), width - 2, initial_indent="  ", subsequent_indent="  ")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"run-step: {message}", "see `wfc run-step --help`")


def build_parser() -> argparse.ArgumentParser:
    """The ``run-step`` argument parser."""
    p = _Parser(
        prog="wfc run-step", description=DESCRIPTION, epilog=EXAMPLES, formatter_class=_Help, add_help=False
    )
    p.add_argument("pipeline", help="The pipeline document (JSON).")
    p.add_argument("--node", required=True, metavar=STR, help="The node id.")
    p.add_argument("--sample", metavar=STR, help="The sample, for a per-sample node.")
    p.add_argument("--variant", metavar=STR, help="A variant declared by the node.")
    p.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="<NAME=VALUE>",
        help="Set a pipeline variable (over $WFC_VAR_NAME and its default); repeatable.",
    )
    p.add_argument("--force", action="store_true", help="Execute even when the step is cached.")
    p.add_argument("--stream", action="store_true", help="Stream the method's output to the terminal.")
    p.add_argument(
        "--runtime",
        choices=["docker", "process"],
        metavar="[docker|process]",
        help="docker (default) runs the method in "
        "a container; process runs it directly, when wfc already runs inside the environment's "
        "image (Argo, containers).",
    )
    p.add_argument(
        "--pipeline-run",
        metavar=STR,
        help="Record into this pipeline run (default: $WFC_PIPELINE_RUN, else an ad-hoc one).",
    )
    p.add_argument(
        "--pipeline-run-key",
        metavar=STR,
        help="Record into the pipeline run of this external key, e.g. an "
        "Argo workflow uid (default: $WFC_PIPELINE_RUN_KEY); the first step creates it.",
    )
    p.add_argument(
        "--pipeline-run-per",
        metavar="TOOL",
        help="Record into one pipeline run per invocation of TOOL, the nearest process of that "
        "name above this one (e.g. dvc: the steps of one `dvc repro`; `wfc compile --backend dvc` "
        "writes it).",
    )
    p.add_argument(
        "--bundle",
        metavar=STR,
        help="Run the pipeline document and methods archived in the store under "
        "this digest (`wfc compile --backend argo` makes one); the pipeline is a path inside it.",
    )
    p.add_argument("--marker", metavar=PATH, help="Touch this file when the step succeeds (for Snakemake).")
    p.add_argument(
        "--outputs-file",
        metavar=PATH,
        help="Write the step's output hashes here (JSON, no run ids) when it succeeds (for DVC).",
    )
    p.add_argument("--project", metavar=PATH, help="Project directory (default: nearest wfc.toml).")
    p.add_argument("--json", action="store_true", help="Print one JSON document on stdout.")
    p.add_argument("--verbose", "-v", action="store_true", help="Show tracebacks on errors.")
    p.add_argument("--help", "-h", action="help", help="Show this message and exit.")
    return p


def request_of(args: argparse.Namespace, cwd: str, env: Mapping[str, str]) -> dict[str, Any]:
    """The step a parsed command line asks for (plain JSON data), seen from the job's working
    directory ``cwd`` and environment ``env``."""
    pipeline_run_id = args.pipeline_run or env.get("WFC_PIPELINE_RUN") or None
    key = args.pipeline_run_key or env.get("WFC_PIPELINE_RUN_KEY")
    return {
        "project": args.project,
        "runtime": args.runtime,
        "cwd": cwd,
        "step": {
            "pipeline_path": str(args.pipeline),
            "node": args.node,
            "sample": args.sample,
            "variant": args.variant,
            "variables": parse_vars(args.var),
            "force": args.force,
            "bundle": args.bundle,
            "pipeline_run_id": pipeline_run_id,
            "pipeline_run_key": key or (None if pipeline_run_id else _invocation(args.pipeline_run_per)),
        },
    }


def _invocation(tool: str | None) -> str | None:
    if not tool:
        return None
    from wfc.step.pipeline_run import invocation_key

    return invocation_key(tool)


def touch_marker(path: str) -> None:
    """Create (or refresh) a marker file: Snakemake's sign that a step is done."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "a"):
        os.utime(path)


def write_outputs_file(path: str, name: str, outputs: dict[str, dict[str, Any]]) -> None:
    """Write a step's output manifest: slot -> hash, size, kind (sorted; the same bytes whenever
    the outputs are the same, whichever run made them)."""
    from pathlib import Path

    from wfc.atomic import write_text_atomic

    doc = {
        "schema": "wfc.outputs/1",
        "step": name,
        "outputs": {slot: {k: o[k] for k in ("hash", "size", "kind")} for slot, o in sorted(outputs.items())},
    }
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target, json.dumps(doc, indent=2, sort_keys=True) + "\n")


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


def finish(args: argparse.Namespace, doc: dict[str, Any], cwd: str) -> tuple[str, str, int]:
    """What a job does with its step's outcome document: touch the marker and write the outputs
    file (paths relative to ``cwd``) when it did not fail; its stdout and stderr text and exit code."""
    failed = doc["status"] == Status.FAILED
    if not failed and args.marker is not None:
        touch_marker(os.path.join(cwd, args.marker))
    if not failed and args.outputs_file is not None:
        write_outputs_file(os.path.join(cwd, args.outputs_file), doc["name"], doc["outputs"])
    out, err = (json_text(doc), "") if args.json else render(doc)
    return out, err, ExitCode.FAILED if failed else ExitCode.OK


def answer(
    argv: list[str], cwd: str, env: Mapping[str, str], run: Callable[[dict[str, Any]], dict[str, Any]]
) -> dict[str, Any]:
    """The worker's answer to a job's command line: ``run`` the request it parses to, finish, and
    reply ``{"stdout", "stderr", "exit_code"}`` as the job's own process would print and exit."""
    json_mode, verbose = "--json" in argv, "--verbose" in argv or "-v" in argv
    try:
        args = build_parser().parse_args(argv)
        out, err, code = finish(args, run(request_of(args, cwd, env)), cwd)
    except WfcError as exc:
        (out, err), code = error_text(exc.message, exc.hint, exc.exit_code, json_mode), exc.exit_code
        err = (traceback.format_exc() if verbose else "") + err
    except Exception as exc:  # an internal error must reach the job, not kill the worker's thread
        message = f"internal error: {type(exc).__name__}: {exc}"
        (out, err), code = error_text(message, INTERNAL_HINT, ExitCode.FAILED, json_mode), ExitCode.FAILED
        err = traceback.format_exc() + err
    return {"stdout": out, "stderr": err, "exit_code": int(code)}


def render(doc: dict[str, Any]) -> tuple[str, str]:
    """The human output of an outcome: outputs on stdout, the status line on stderr."""
    out = "".join(f"{slot}\t{o['hash']}\t{o['size']}\t{o['path']}\n" for slot, o in doc["outputs"].items())
    took = f"in {doc['seconds']:.2f}s"
    name, run = doc["name"], doc["run_id"]
    if doc["status"] == Status.CACHED:
        return out, f"{name}: cached (run {run}, from {doc['cache_source']}) {took}\n"
    if doc["status"] == Status.COMPLETED:
        return out, f"{name}: completed (run {run}; why: {doc['reason']}) {took}\n"
    return (
        out,
        f"error: step {name} failed: {doc['error']}\nhint: see {doc['log_dir']}/stderr.log (run {run})\n",
    )
