"""The ``run-step`` command line as a library function: argv in, printed text and exit code out.

The CLI process (``wfc.cli.run_step``) and the ``run-pipeline`` worker (``wfc.pipeline.worker``) both
run steps through :func:`invoke`, so a step behaves and prints the same however it is launched.
"""

from __future__ import annotations

import argparse
import os
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from wfc.errors import ExitCode, UsageError, WfcError
from wfc.output import error_text, json_text

if TYPE_CHECKING:
    from wfc.step.resolve import Warm

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
        "--pipeline-run-key",
        help="record into the pipeline run of this external key, e.g. an Argo workflow uid "
        "(default: $WFC_PIPELINE_RUN_KEY); the first step creates it",
    )
    p.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a pipeline variable (over $WFC_VAR_NAME and its default); repeatable",
    )
    p.add_argument("--marker", type=Path, help="touch this file when the step succeeds (for Snakemake)")
    p.add_argument(
        "--outputs-file",
        type=Path,
        help="write the step's output hashes here (JSON, no run ids) when it succeeds (for DVC)",
    )
    p.add_argument(
        "--runtime",
        choices=["docker", "process"],
        help="docker (default) runs the method in a container; process runs it directly, when wfc "
        "already runs inside the environment's image (Argo, containers)",
    )
    p.add_argument("--force", action="store_true", help="execute even when the step is cached")
    p.add_argument("--stream", action="store_true", help="stream the method's output to the terminal")
    p.add_argument(
        "--bundle",
        help="run the pipeline document and methods archived in the store under this digest "
        "(`wfc compile --backend argo` makes one); PIPELINE is then a path inside it",
    )
    p.add_argument("--project", help="the project directory (default: nearest wfc.toml)")
    p.add_argument("--json", action="store_true", help="print a JSON document on stdout")
    p.add_argument("--verbose", "-v", action="store_true", help="show tracebacks")
    return p


@dataclass(frozen=True)
class Reply:
    """What one run-step invocation prints and its exit code."""

    stdout: str
    stderr: str
    code: int
    name: str | None = None  # the step, when it was resolved
    status: str | None = None  # completed, cached or failed, when it ran


def invoke(
    argv: list[str],
    cwd: Path | None = None,
    *,
    pipeline_run: str | None = None,
    variables: dict[str, str] | None = None,
    warm: Warm | None = None,
) -> Reply:
    """Run one ``run-step`` command line; outcomes and user errors become a :class:`Reply`.

    Args:
        argv: The arguments after ``run-step``.
        cwd: The directory relative paths in ``argv`` refer to (default: the current one).
        pipeline_run: The pipeline run to record into when ``argv`` names none.
        variables: Pipeline variable values under ``--var`` ones.
        warm: Caches shared by the steps of a pipeline run (the run-pipeline worker).
    """
    from wfc.project import Project
    from wfc.step.lifecycle import run_step

    json_mode = "--json" in argv

    def here(path: Path) -> Path:  # relative to the client's directory; as typed in a CLI process
        return path if cwd is None else cwd / path

    try:
        args = build_parser().parse_args(argv)
        overrides = {"runtime": args.runtime} if args.runtime else {}
        project = Project.load(args.project, overrides, cwd=cwd)
        pipeline = here(args.pipeline)
        if args.bundle:
            project, pipeline = _in_bundle(project, args.bundle, args.pipeline, overrides)
        outcome = run_step(
            project,
            pipeline,
            args.node,
            args.sample,
            args.variant,
            pipeline_run_id=args.pipeline_run or pipeline_run or os.environ.get("WFC_PIPELINE_RUN") or None,
            force=args.force,
            echo=args.stream,
            variables={**(variables or {}), **parse_vars(args.var)},
            warm=warm,
            pipeline_run_key=args.pipeline_run_key or os.environ.get("WFC_PIPELINE_RUN_KEY") or None,
        )
    except WfcError as exc:
        out, err = error_text(exc.message, exc.hint, exc.exit_code, json_mode)
        trace = traceback.format_exc() if ("--verbose" in argv or "-v" in argv) else ""
        return Reply(out, trace + err, exc.exit_code)
    if outcome.status != "failed" and args.marker is not None:
        touch_marker(here(args.marker))
    if outcome.status != "failed" and args.outputs_file is not None:
        write_outputs_file(here(args.outputs_file), outcome.name, outcome.outputs)
    code = ExitCode.FAILED if outcome.status == "failed" else ExitCode.OK
    out, err = (json_text(outcome.to_json()), "") if json_mode else _render(outcome)
    return Reply(out, err, code, outcome.name, str(outcome.status))


def touch_marker(path: Path) -> None:
    """Create (or refresh) a marker file: Snakemake's sign that a step is done."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def _in_bundle(project: Any, digest: str, document: Path, overrides: dict[str, str]) -> tuple[Any, Path]:
    """The project seen through an archived bundle: its methods, its pipeline document."""
    from wfc.bundle import unpack
    from wfc.cache.hashing import hex_of
    from wfc.project import Project

    try:
        hex_of(digest)
    except ValueError:
        raise UsageError(
            f"--bundle {digest!r} is not a blake3 digest", "pass the digest wfc compile wrote"
        ) from None
    from wfc.store.local import ObjectMissing

    cache = Path(os.environ.get("TMPDIR") or project.state_dir) / "wfc-bundles"
    try:
        root = unpack(project.object_store("copy"), digest, cache)
    except ObjectMissing:
        raise ObjectMissing(
            f"bundle {digest} is not in the store ({project.store_dir})",
            "point WFC_STORE at the store `wfc compile` archived it in, or compile again against this one",
        ) from None
    bundled = Project.load(project.root, {**overrides, "methods_dir": str(root / "methods")})
    return bundled, root / document


def write_outputs_file(path: Path, name: str, outputs: dict[str, dict[str, Any]]) -> None:
    """Write a step's output manifest: slot -> hash, size, kind (sorted; the same bytes whenever
    the outputs are the same, whichever run made them)."""
    import json

    from wfc.atomic import write_text_atomic

    doc = {
        "schema": "wfc.outputs/1",
        "step": name,
        "outputs": {slot: {k: o[k] for k in ("hash", "size", "kind")} for slot, o in sorted(outputs.items())},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")


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


def _render(outcome: Any) -> tuple[str, str]:
    """The human output of an outcome: outputs on stdout, the status line on stderr."""
    out = "".join(f"{slot}\t{o['hash']}\t{o['size']}\t{o['path']}\n" for slot, o in outcome.outputs.items())
    took = f"in {outcome.seconds:.2f}s"
    if outcome.status == "cached":
        return out, f"{outcome.name}: cached (run {outcome.run_id}, from {outcome.cache_source}) {took}\n"
    if outcome.status == "completed":
        return out, f"{outcome.name}: completed (run {outcome.run_id}; ran: {outcome.reason}) {took}\n"
    return out, (
        f"error: step {outcome.name} failed: {outcome.error}\n"
        f"hint: see {outcome.log_dir}/stderr.log (run {outcome.run_id})\n"
    )
