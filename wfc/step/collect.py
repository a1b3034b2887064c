"""Collecting a finished execution's outputs from its run directory (BRIEF §6.6).

The results file (``_wfc_results.json``) wins over declared names. Outputs that escape the run
directory (absolute paths, ``..``, symbolic links pointing out) are refused; a missing required
output fails the step, naming the slot and the files that were found.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wfc.errors import StepFailed
from wfc.model.method import MethodSpec
from wfc_client.contract import RESULTS_FILE, parse_results


@dataclass(frozen=True)
class Collected:
    """What an execution produced: output paths by slot (relative) and metrics."""

    outputs: dict[str, str]
    metrics: dict[str, Any]


def read_results(run_dir: Path) -> dict[str, Any] | None:
    """The validated results file, or None when the method wrote none.

    Raises:
        StepFailed: The file is not valid.
    """
    path = run_dir / RESULTS_FILE
    if not path.is_file():
        return None
    try:
        return parse_results(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise StepFailed(f"{RESULTS_FILE} is invalid: {exc}", "fix what the method writes") from None


def collect(spec: MethodSpec, run_dir: Path, results: dict[str, Any] | None) -> Collected:
    """Find every output slot's path; check each stays inside the run directory.

    Raises:
        StepFailed: An output escapes the run directory, or a required output is missing.
    """
    declared = (results or {}).get("outputs", {})
    unknown = sorted(set(declared) - set(spec.outputs))
    if unknown:
        raise StepFailed(
            f"{RESULTS_FILE} names unknown output slots {unknown}",
            "declare them under outputs: in method.yaml",
        )
    found: dict[str, str] = {}
    for slot, out in spec.outputs.items():
        rel = str(declared.get(slot, out.file)).rstrip("/")
        path = _inside(run_dir, slot, rel)
        if path is not None and not path.is_dir():
            _check_regular(run_dir, slot, path)
        if path is None or not (path.is_dir() if out.is_dir else path.is_file()):
            if out.required:
                raise StepFailed(
                    f"required output '{slot}' ({rel}{'/' if out.is_dir else ''}) is missing; "
                    f"the run directory has: {_listing(run_dir)}",
                    f"make the method write {rel}, or report the path in {RESULTS_FILE}",
                )
            continue
        if path.is_dir():
            _check_tree(run_dir, slot, path)
        found[slot] = rel
    return Collected(found, dict((results or {}).get("metrics", {})))


def _inside(run_dir: Path, slot: str, rel: str) -> Path | None:
    if not rel or os.path.isabs(rel) or ".." in Path(rel).parts:
        raise StepFailed(
            f"output '{slot}' path {rel!r} escapes the run directory",
            "outputs must be relative paths inside WFC_RUN_DIR",
        )
    path = run_dir / rel
    if not os.path.lexists(path):
        return None
    root = run_dir.resolve()
    real = path.resolve()
    if real != root and root not in real.parents:
        raise StepFailed(
            f"output '{slot}' ({rel}) is a link that escapes the run directory (to {real})",
            "write real files inside WFC_RUN_DIR instead of links",
        )
    return path


def _check_tree(run_dir: Path, slot: str, directory: Path) -> None:
    root = run_dir.resolve()
    for dirpath, dirnames, filenames in os.walk(directory):
        for name in filenames:  # os.walk lists FIFOs, sockets and devices among the files
            _check_regular(run_dir, slot, Path(dirpath) / name)
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if path.is_symlink():
                real = path.resolve()
                if root not in real.parents:
                    raise StepFailed(
                        f"output '{slot}' contains a link that escapes the run directory: "
                        f"{path.relative_to(run_dir)} -> {real}",
                        "write real files inside WFC_RUN_DIR instead of links",
                    )


_SPECIAL = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
}


def _check_regular(run_dir: Path, slot: str, path: Path) -> None:
    """Refuse a FIFO, socket or device among the outputs: archiving would block on it or read
    what is not a file."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # a dangling link: reported as missing
    kind = _SPECIAL.get(stat.S_IFMT(mode))
    if kind is not None:
        raise StepFailed(
            f"output '{slot}' contains {kind}: {path.relative_to(run_dir)}",
            "outputs may hold only regular files and directories",
        )


def _listing(run_dir: Path, limit: int = 20) -> str:
    names = sorted(
        p.relative_to(run_dir).as_posix() + ("/" if p.is_dir() else "")
        for p in run_dir.rglob("*")
        if p.name != RESULTS_FILE
    )
    if not names:
        return "nothing"
    more = f" (+{len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more
