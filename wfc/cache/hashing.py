"""Hashing primitives: canonical JSON, algorithm-named BLAKE3 digests, files and code trees.

Every digest names its algorithm (``blake3:<hex>``) so the algorithm can change later, and every
structured pre-image is canonical JSON (sorted keys, no whitespace, UTF-8), never concatenation.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import blake3

ALGORITHM = "blake3"
_MMAP_THRESHOLD = 4 << 20
_CHUNK = 1 << 20

# Caches and editor litter that never belong to a method's identity.
IGNORED_NAMES = frozenset(
    {"__pycache__", ".pytest_cache", ".mypy_cache", ".ipynb_checkpoints", ".git", ".DS_Store"}
)
IGNORED_SUFFIXES = (".pyc", ".pyo", "~")


def canonical_json(value: Any) -> bytes:
    """Encode ``value`` as canonical JSON bytes (sorted keys, compact, UTF-8, no NaN)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def hash_bytes(data: bytes) -> str:
    """Return ``blake3:<hex>`` of ``data``."""
    return f"{ALGORITHM}:{blake3.blake3(data).hexdigest()}"


def hash_json(value: Any) -> str:
    """Return the digest of the canonical JSON encoding of ``value``."""
    return hash_bytes(canonical_json(value))


def hash_file(path: Path) -> tuple[str, int]:
    """Return ``(digest, size)`` of a file's content; large files are hashed by mmap on all cores."""
    size = path.stat().st_size
    if size >= _MMAP_THRESHOLD:
        hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
        hasher.update_mmap(path)
    else:
        hasher = blake3.blake3(path.read_bytes())
    return f"{ALGORITHM}:{hasher.hexdigest()}", size


def hex_of(digest: str) -> str:
    """Return the hex part of ``blake3:<hex>``.

    Raises:
        ValueError: The digest does not name a known algorithm.
    """
    algo, sep, hexpart = digest.partition(":")
    if algo != ALGORITHM or not sep or len(hexpart) != 64:
        raise ValueError(f"not a {ALGORITHM} digest: {digest!r}")
    return hexpart


def is_ignored(name: str) -> bool:
    """Whether a file or directory name is a cache that never counts as content."""
    return name in IGNORED_NAMES or name.endswith(IGNORED_SUFFIXES)


def code_tree(directory: Path) -> list[tuple[str, str]]:
    """List every file under ``directory`` as ``(relative path, content digest)``, sorted.

    The executable bit is part of a file's digest here (a script that loses ``+x`` behaves
    differently); a symbolic link is recorded by its target text.
    """
    entries: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(d for d in dirnames if not is_ignored(d))
        for name in filenames:
            if is_ignored(name):
                continue
            path = Path(dirpath) / name
            rel = path.relative_to(directory).as_posix()
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                digest = hash_json(["symlink", os.readlink(path)])
            else:
                content, _ = hash_file(path)
                digest = hash_json(["file", content, bool(st.st_mode & stat.S_IXUSR)])
            entries.append((rel, digest))
    entries.sort()
    return entries


def code_tree_doc(entries: list[tuple[str, str]]) -> bytes:
    """The canonical code-tree listing; its digest is the method's code hash, and it is kept in the
    store under that name so that ``wfc why`` can name the files that changed."""
    return canonical_json(["wfc.code-tree", 1, entries])


def code_tree_hash(entries: list[tuple[str, str]]) -> str:
    """The digest of a code tree listing."""
    return hash_bytes(code_tree_doc(entries))
