"""From what a user types to named sample paths: the name rule, names derived from file names,
globs that wfc expands itself, and how ``wfc sample add`` reads its arguments.

``wfc sample add`` has two forms. ``NAME PATH`` (the original) registers one path under a name.
``PATH [PATH...]`` registers each path under the name its file gives: the file name without its
extension (``reads.fastq.gz`` -> ``reads``: a compression suffix goes too), or a directory's
name. An argument holding ``*``, ``?`` or ``[`` that is not an existing path is a glob, expanded
by wfc (sorted; ``**`` spans directories), so a quoted ``'data/*.csv'`` works in every shell.
Two arguments whose first is neither an existing path nor a glob are ``NAME PATH``; otherwise
every argument is a path or a glob.
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

from wfc.errors import UsageError

# Any printable name without "/" or "@" (the version separator) that does not start with "-" or space.
NAME = re.compile(r"^(?![-\s.])[^/@\x00-\x1f\x7f]+(?<!\s)$")
NAME_RULE = "no '/', '@' or control characters, no leading '-', '.' or space, at most 100 bytes"
MAX_BYTES = 100  # a name becomes a file name (``wfc export``)
COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zip")
_GLOB = re.compile(r"[*?[]")


def is_name(name: str) -> bool:
    """Whether a sample name keeps the rule (:data:`NAME_RULE`)."""
    return bool(NAME.match(name)) and len(name.encode()) <= MAX_BYTES


def check_name(name: str) -> None:
    """Refuse a name that breaks :data:`NAME` (the message of ``wfc sample add NAME PATH``).

    Raises:
        UsageError: A bad name.
    """
    if not is_name(name):
        raise UsageError(
            f"bad sample name '{name}': {NAME_RULE}", "for example: wfc sample add patient_01 data/p01.csv"
        )


def name_of(path: Path) -> str:
    """The sample name a path gives: a directory's name, or a file's name without its extension
    (and without a compression suffix before that)."""
    name = path.resolve().name if path.name in ("", ".", "..") else path.name
    if path.is_dir():
        return name
    stem, suffix = os.path.splitext(name)
    if suffix.lower() in COMPRESSED:
        stem = os.path.splitext(stem)[0]
    return stem


def is_glob(arg: str) -> bool:
    """Whether wfc expands ``arg``: it holds a glob character and is not an existing path."""
    return bool(_GLOB.search(arg)) and not os.path.lexists(arg)


def legacy_form(args: list[str]) -> tuple[str, Path] | None:
    """``(NAME, PATH)`` when the arguments are the ``NAME PATH`` form, else None."""
    if len(args) == 2 and not os.path.lexists(args[0]) and not is_glob(args[0]):
        return args[0], Path(args[1])
    return None


def named_paths(args: list[str]) -> list[tuple[str, Path]]:
    """Every path the arguments name (globs expanded, sorted; a path named twice counts once),
    each with the sample name it gives, in argument order.

    Raises:
        UsageError: A glob that matches nothing, a missing path, a derived name that breaks the
            rule, or two paths that give the same name.
    """
    seen: dict[Path, Path] = {}
    for arg in args:
        if is_glob(arg):
            found = sorted(glob.glob(arg, recursive=True))
            if not found:
                raise UsageError(
                    f"no file matches {arg}",
                    "check the pattern; wfc expands it from the current directory (quote it: 'data/*.csv')",
                )
        elif os.path.exists(arg):
            found = [arg]
        else:
            raise UsageError(f"sample path not found: {arg}", "check the path")
        for each in found:
            seen.setdefault(Path(each).resolve(), Path(each))
    named: dict[str, Path] = {}
    for path in seen.values():
        name = name_of(path)
        if not is_name(name):
            raise UsageError(
                f"bad sample name '{name}' (from {path}): {NAME_RULE}",
                f"rename the file, or give it a name: wfc sample add NAME {path}",
            )
        if name in named:
            raise UsageError(
                f"two paths give the sample name '{name}': {named[name]} and {path}",
                f"register one of them under another name: wfc sample add NAME {path}",
            )
        named[name] = path
    return list(named.items())
