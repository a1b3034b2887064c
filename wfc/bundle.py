"""Code bundles: the frozen pipeline document and its method directories, archived in the store at
compile time (BRIEF §14), so a task somewhere else runs exactly the code that was compiled.

A bundle is one tree object laid out like the project (``<document path>``, ``methods/<module>/
<name>/…``, and the project files a step needs besides: ``wfc.toml``, ``samples.lock.json`` and the
``environments/`` definitions with their ``env.lock.json``). ``wfc run-step --bundle DIGEST``
materialises it (verified, read-only) under a cache directory and resolves the step against it: the
key's code hash is computed from those files. A task with no project volume (Argo without a PVC)
starts from an empty ``$WFC_PROJECT``: :func:`materialise_project` fills it with the bundle's
project files, the bundle itself coming from the shared store named by ``WFC_STORE``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from wfc.cache.hashing import hex_of, is_ignored
from wfc.errors import UsageError
from wfc.methods import Method
from wfc.project import PROJECT_FILE, Project
from wfc.samples.lock import LOCK_FILE
from wfc.store.local import ObjectStore


def _project_files(root: Path) -> list[Path]:
    """The project files a step reads besides its document and methods, relative to ``root``."""
    named = [Path(PROJECT_FILE), Path(LOCK_FILE)]
    environments = sorted(
        p.relative_to(root)
        for p in root.glob("environments/*/**/*")
        if p.is_file() and not any(is_ignored(part) for part in p.relative_to(root).parts)
    )
    return [p for p in named if (root / p).is_file()] + environments


def archive(project: Project, store: ObjectStore, document: Path, methods: list[Method]) -> str:
    """Store a bundle of ``document``, ``methods`` and the project files; return its tree digest."""
    with tempfile.TemporaryDirectory(prefix="wfc-bundle-") as tmp:
        root = Path(tmp)
        for path in _project_files(project.root):
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(project.root / path, root / path)
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


def _cache_dir(project: Project) -> Path:
    """Where bundles are unpacked: ``$TMPDIR`` (a task's scratch) when set, else the state dir."""
    return Path(os.environ.get("TMPDIR") or project.state_dir) / "wfc-bundles"


def open_bundle(project: Project, digest: str, document: Path) -> tuple[Project, Path]:
    """The project seen through an archived bundle: its methods, and the bundled ``document``
    (a path inside the bundle).

    Raises:
        UsageError: ``digest`` is not a blake3 digest.
        ObjectMissing: The bundle is not in this project's store.
    """
    from wfc.store.local import ObjectMissing

    try:
        hex_of(digest)
    except ValueError:
        raise UsageError(
            f"--bundle {digest!r} is not a blake3 digest", "pass the digest wfc compile wrote"
        ) from None
    try:
        root = unpack(project.object_store("copy"), digest, _cache_dir(project))
    except ObjectMissing:
        raise ObjectMissing(
            f"bundle {digest} is not in the store ({project.store_dir})",
            "point WFC_STORE at the store `wfc compile` archived it in, or compile again against this one",
        ) from None
    overrides = {k: s.value for k, s in project.settings.items() if s.source == "option"}
    bundled = Project.load(project.root, {**overrides, "methods_dir": str(root / "methods")})
    return bundled, root / document


def materialise_project(root: str | None, digest: str) -> None:
    """Give a task with no project volume its project: when ``root`` (else ``$WFC_PROJECT``) has
    no ``wfc.toml``, create it and copy in the bundle's project files, fetching the bundle from
    the shared store that ``WFC_STORE`` names. A directory that is already a project is left alone.

    Raises:
        UsageError: No project directory is named, or ``WFC_STORE`` is not a shared store.
        ObjectMissing: The bundle is not in the shared store.
    """
    named = root or os.environ.get("WFC_PROJECT")
    if not named or (Path(named) / PROJECT_FILE).is_file():
        return
    target = Path(named).resolve()
    if not os.environ.get("WFC_STORE", "").startswith("s3://"):
        raise UsageError(
            f"{target} is not a wfc project and WFC_STORE names no shared store to fetch the bundle from",
            "mount the project volume, or set WFC_STORE=s3://BUCKET/PREFIX where `wfc compile` archived it",
        )
    target.mkdir(parents=True, exist_ok=True)
    (target / PROJECT_FILE).write_text("# an empty project: settings come from the environment\n")
    bare = Project.load(target)
    bundled = unpack(bare.object_store("copy"), digest, _cache_dir(bare))
    for path in _project_files(bundled):
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(bundled / path, target / path)
