"""Code bundles: the frozen pipeline document and its method directories, archived in the store
at compile time (BRIEF §14), so a task somewhere else runs exactly the code that was compiled.

A bundle is one tree object laid out like the project (``<document path>``, ``methods/<module>/
<name>/…``). ``wfc run-step --bundle DIGEST`` materialises it (verified, read-only) under a cache
directory and resolves the step against it: the key's code hash is computed from those files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from wfc.cache.hashing import hex_of, is_ignored
from wfc.methods import Method
from wfc.project import Project
from wfc.store.local import ObjectStore


def archive(project: Project, store: ObjectStore, document: Path, methods: list[Method]) -> str:
    """Store a bundle of ``document`` and ``methods``; return its tree digest."""
    with tempfile.TemporaryDirectory(prefix="wfc-bundle-") as tmp:
        root = Path(tmp)
        target = root / project.relative(document)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(document, target)
        for method in methods:
            shutil.copytree(
                method.directory,
                root / "methods" / method.module / method.name,
                ignore=lambda _d, names: [n for n in names if is_ignored(n)],
            )
        digest, _size = store.put_tree(root)
    return digest


def unpack(store: ObjectStore, digest: str, cache: Path) -> Path:
    """Materialise a bundle under ``cache`` once (verified on the way); return its directory.

    Raises:
        StepFailed: The bundle is missing or corrupt in the store.
    """
    final = cache / hex_of(digest)
    if final.is_dir():
        return final
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=cache, prefix=".unpack-"))
    try:
        ObjectStore(store.root, "copy").materialize(digest, "dir", tmp / "b")
        os.replace(tmp / "b", final)
    except OSError:
        if not final.is_dir():  # another process unpacked it first: fine
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
