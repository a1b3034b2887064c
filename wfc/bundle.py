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
        store.copying().materialize(digest, "dir", tmp / "b")
        os.replace(tmp / "b", final)
    except OSError:
        if not final.is_dir():  # another process unpacked it first: fine
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def open_bundle(project: Project, digest: str, document: Path) -> tuple[Project, Path]:
    """The project seen through an archived bundle: its methods, and the bundled ``document``
    (a path inside the bundle).

    Raises:
        UsageError: ``digest`` is not a blake3 digest.
        ObjectMissing: The bundle is not in this project's store.
    """
    from wfc.errors import UsageError
    from wfc.store.local import ObjectMissing

    try:
        hex_of(digest)
    except ValueError:
        raise UsageError(
            f"--bundle {digest!r} is not a blake3 digest", "pass the digest wfc compile wrote"
        ) from None
    cache = Path(os.environ.get("TMPDIR") or project.state_dir) / "wfc-bundles"
    try:
        root = unpack(project.object_store("copy"), digest, cache)
    except ObjectMissing:
        raise ObjectMissing(
            f"bundle {digest} is not in the store ({project.store_dir})",
            "point WFC_STORE at the store `wfc compile` archived it in, or compile again against this one",
        ) from None
    overrides = {k: s.value for k, s in project.settings.items() if s.source == "option"}
    bundled = Project.load(project.root, {**overrides, "methods_dir": str(root / "methods")})
    return bundled, root / document
