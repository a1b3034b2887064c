"""How a reproduced output compares with the recorded one: identical (same content digest), or
different with both sizes and hashes and, for text, a short unified diff (for a directory, the
files that differ, and the diff of the first text file among them)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from wfc.cache.hashing import hash_file

DIFF_LINES = 20  # at most this many lines of a unified diff
TEXT_LIMIT = 256 * 1024  # a file larger than this is not diffed, only hashed
FILES_LISTED = 10  # at most this many differing files of a directory are named


@dataclass(frozen=True)
class OutputVerdict:
    """One output of a reproduced step against the original's.

    Attributes:
        slot: The output slot.
        identical: Whether the bytes are the same (the content digests are equal).
        original: The recorded ``{"hash", "size"}``.
        reproduced: The reproduced ``{"hash", "size"}``; None when the re-run did not write it.
        diff: For text, the start of a unified diff; for a directory, also the files that differ.
    """

    slot: str
    identical: bool
    original: dict[str, object]
    reproduced: dict[str, object] | None
    diff: str = ""


def compare(
    slot: str, original: Path, reproduced: Path | None, before: tuple[str, int], after: tuple[str, int] | None
) -> OutputVerdict:
    """Compare an output: the original's ``(hash, size)`` with the reproduced one's (None when the
    re-run did not write it); when they differ, the restored ``original`` and ``reproduced``
    (file or directory) are diffed."""
    was = {"hash": before[0], "size": before[1]}
    if after is None or reproduced is None:
        return OutputVerdict(slot, False, was, None, "the re-run did not write this output")
    now = {"hash": after[0], "size": after[1]}
    if before[0] == after[0]:
        return OutputVerdict(slot, True, was, now)
    if original.is_dir() and reproduced.is_dir():
        return OutputVerdict(slot, False, was, now, _tree_diff(original, reproduced))
    return OutputVerdict(slot, False, was, now, text_diff(original, reproduced, original.name))


def text_diff(original: Path, reproduced: Path, name: str) -> str:
    """The first :data:`DIFF_LINES` lines of a unified diff of two text files ("" for binary or
    large files)."""
    texts = []
    for path in (original, reproduced):
        if path.stat().st_size > TEXT_LIMIT:
            return ""
        try:
            texts.append(path.read_text(encoding="utf-8").splitlines(keepends=True))
        except UnicodeDecodeError:
            return ""
    lines = list(difflib.unified_diff(texts[0], texts[1], f"original/{name}", f"reproduced/{name}", n=1))
    shown = [line if line.endswith("\n") else line + "\n" for line in lines[:DIFF_LINES]]
    if len(lines) > DIFF_LINES:
        shown.append(f"… {len(lines) - DIFF_LINES} more diff lines\n")
    return "".join(shown)


def _tree_diff(original: Path, reproduced: Path) -> str:
    before, after = _files(original), _files(reproduced)
    changed = sorted(
        [f"- {p}" for p in before.keys() - after.keys()]
        + [f"+ {p}" for p in after.keys() - before.keys()]
        + [f"~ {p}" for p in before.keys() & after.keys() if before[p] != after[p]],
        key=lambda line: line[2:],
    )
    lines = changed[:FILES_LISTED] + (
        [f"… {len(changed) - FILES_LISTED} more"] if len(changed) > FILES_LISTED else []
    )
    first = next((line[2:] for line in changed if line.startswith("~")), None)
    detail = text_diff(original / first, reproduced / first, first) if first else ""
    return "\n".join(lines) + "\n" + detail


def _files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hash_file(p)[0] for p in root.rglob("*") if p.is_file()}
