"""The local content-addressed store: append-only, atomic, read-only, verified objects.

Objects live at ``objects/<2 hex>/<62 hex>`` named by the BLAKE3 digest of their bytes. A file
output is one object; a directory output is a *tree* object (canonical JSON listing path, mode,
size and digest of every file) plus one object per file, so identical files are stored once.

Writes go to ``tmp/`` on the same file system (copied in the kernel, or, for a finished run's
output, renamed there), are hashed there, made read-only, fsynced once and renamed into place, so
a crash leaves either no object or a correct one. Objects are re-hashed whenever they are read
(staged, restored, exported); a corrupt one is moved to ``quarantine/`` and reported.

A store opened with :meth:`ObjectStore.reader` (``plan``, ``why``) never changes anything: it
verifies and reports a corrupt object but leaves it in place, and refuses every write.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from wfc.cache.hashing import ALGORITHM, canonical_json, hash_bytes, hash_file, hex_of, is_ignored
from wfc.errors import StepFailed, WfcError
from wfc.failpoints import failpoint
from wfc.store.tempfiles import adopt, copy_into, new_tmp, sweep, write_all

if TYPE_CHECKING:
    from wfc.store.remote import Remote

LinkMode = Literal["auto", "reflink", "hardlink", "copy"]
Kind = Literal["file", "dir"]
TREE_TAG = "wfc.tree"
_FICLONE = 0x40049409


class ObjectMissing(StepFailed):
    """An object named by a record is not in the store."""


class ObjectCorrupt(StepFailed):
    """An object's bytes no longer match its name."""


class StoreReadOnly(WfcError):
    """A write through a store opened read-only (a bug: reading commands never write)."""


_BUG = "a command that only reads tried to write; please report this as a bug"


class ObjectStore:
    """A content-addressed store rooted at a directory."""

    def __init__(
        self, root: Path, link: LinkMode = "auto", *, read_only: bool = False, remote: Remote | None = None
    ) -> None:
        self.root = root
        self.link: LinkMode = link
        self.read_only = read_only
        self.remote = remote  # a shared store this one caches: read through, written through
        self._remote_has: set[str] | None = None  # listed once, for reading commands
        self.objects = root / "objects"
        self._verified: set[tuple[str, str]] = set()  # verified in this process
        self._swept = False  # temporary files of dead writers removed (once per instance)

    def copying(self) -> ObjectStore:
        """The same store, staging by copy (never a link a writer could edit the object through)."""
        return ObjectStore(self.root, "copy", read_only=self.read_only, remote=self.remote)

    def reader(self) -> ObjectStore:
        """The same store, read-only: verifying reports corruption without quarantining, writes raise."""
        return ObjectStore(self.root, self.link, read_only=True, remote=self.remote)

    # -- naming ---------------------------------------------------------------------------
    def path(self, digest: str) -> Path:
        """Where the object named ``digest`` lives."""
        hexpart = hex_of(digest)
        return self.objects / hexpart[:2] / hexpart[2:]

    def has(self, digest: str) -> bool:
        """Whether the object exists (without verifying it)."""
        return self.path(digest).is_file()

    # -- writing --------------------------------------------------------------------------
    def put_file(self, src: Path, *, move: bool = False) -> tuple[str, int]:
        """Store a file and return ``(digest, size)``.

        Args:
            src: A regular file.
            move: The caller gives the file up (a finished run's output, removed next): it is
                renamed into the store instead of copied when it is a plain file with one link on
                the store's file system, so its bytes are read once (to hash) and made durable once.
        """
        adopted = adopt(src, self._tmp_dir()) if move else None
        if adopted is not None:
            return self._seal(*adopted)
        return self._seal(*new_tmp(self._tmp_dir()), fill=lambda fd: copy_into(src, fd))

    def put_bytes(self, data: bytes) -> str:
        """Store ``data`` as an object and return its digest."""
        digest = hash_bytes(data)
        if self.has(digest):
            _touch(self.path(digest))
            self._share(digest)
            return digest
        return self._seal(*new_tmp(self._tmp_dir()), fill=lambda fd: write_all(fd, data))[0]

    def put_stream(self, chunks: Iterable[bytes]) -> tuple[str, int]:
        """Store the bytes of a stream (e.g. ``docker save``) as one object, never all in memory;
        return ``(digest, size)``."""

        def fill(fd: int) -> None:
            for chunk in chunks:
                write_all(fd, chunk)

        return self._seal(*new_tmp(self._tmp_dir()), fill=fill)

    def put_tree(self, src: Path, *, move: bool = False, code: bool = False) -> tuple[str, int]:
        """Store a directory: each file, then the tree listing; return ``(tree digest, total size)``.
        ``move``: as for :meth:`put_file`, file by file. ``code``: a method's or environment's
        directory, kept again at every execution: leave out what never counts as its content
        (``__pycache__``, ``*.pyc``…: see ``code_tree``) and symbolic links (never followed: a
        link may point anywhere, or nowhere), and hash each file before copying it, so that an
        unchanged one costs a read, not a copy and an fsync."""
        entries: list[list[object]] = []
        total = 0
        for dirpath, dirnames, filenames in os.walk(src):
            if code:
                dirnames[:] = [d for d in dirnames if not is_ignored(d)]
                filenames = [f for f in filenames if not is_ignored(f)]
            dirnames.sort()
            here = Path(dirpath)
            if not dirnames and not filenames and here != src:
                entries.append([here.relative_to(src).as_posix(), "d", 0, None])
            for name in sorted(filenames):
                path = here / name
                if code and not stat.S_ISREG(path.lstat().st_mode):
                    continue  # a link is never followed out of a kept tree (nor a dangling one)
                mode = "x" if path.stat().st_mode & stat.S_IXUSR else "f"
                digest, size = self._put_known(path) if code else self.put_file(path, move=move)
                entries.append([path.relative_to(src).as_posix(), mode, size, digest])
                total += size
        entries.sort(key=lambda e: str(e[0]))
        return self.put_bytes(canonical_json({TREE_TAG: 1, "entries": entries})), total

    def _put_known(self, path: Path) -> tuple[str, int]:
        """Store a file that is most likely stored already: by its hash when it is (the object is
        touched, as a new put would), else as :meth:`put_file` does (which names what it stored)."""
        digest, size = hash_file(path)
        if not self.has(digest):
            return self.put_file(path)
        _touch(self.path(digest))
        self._share(digest)
        return digest, size

    def put(self, src: Path, *, move: bool = False) -> tuple[str, int, Kind]:
        """Store a file or directory; return ``(digest, size, kind)`` (``move``: see :meth:`put_file`)."""
        if src.is_dir():
            digest, size = self.put_tree(src, move=move)
            return digest, size, "dir"
        digest, size = self.put_file(src, move=move)
        return digest, size, "file"

    def _commit(self, tmp: Path, digest: str, *, share: bool = True) -> None:
        """Name a sealed temporary object (or mark the present one used) and, unless it came
        from there, write it through to the shared store."""
        dest = self.path(digest)
        if dest.is_file():
            _touch(dest)  # append-only: never rewritten, but marked as just used (gc spares it)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            failpoint("store.before_rename")
            os.replace(tmp, dest)
            _fsync_dir(dest.parent)
        if share:
            self._share(digest)

    # -- the shared store ------------------------------------------------------------------
    def _share(self, digest: str) -> None:
        """Write an object through to the shared store (a conditional put: present is done), so
        that a run recorded next in a shared database never names an object others cannot get."""
        if self.remote is not None:
            self.remote.put_file(digest, self.path(digest))

    def fetch(self, digest: str) -> None:
        """Copy an object from the shared store into this one, verified before it is named.

        Raises:
            ObjectMissing: Neither store has it (or there is no shared store).
            ObjectCorrupt: The shared copy's bytes do not match its name (nothing is kept).
        """
        if self.remote is None:
            raise _missing(digest)
        fd, tmp = new_tmp(self._tmp_dir())
        try:
            self.remote.download(digest, fd)
            os.fchmod(fd, 0o444)
            os.fsync(fd)
            self._commit(tmp, digest, share=False)
        finally:
            os.close(fd)
            tmp.unlink(missing_ok=True)

    def _on_remote(self, digest: str) -> bool:
        """Whether the shared store has an object (one LIST for the whole store, then remembered):
        what reading commands, which never download, go by."""
        if self.remote is None:
            return False
        if self._remote_has is None:
            self._remote_has = self.remote.list_digests()
        return digest in self._remote_has

    def _seal(self, fd: int, tmp: Path, fill: Callable[[int], None] | None = None) -> tuple[str, int]:
        """Fill a locked temporary object, hash it (what was stored is what is named), make it
        read-only and durable, and rename it into place; it is gone from ``tmp/`` afterwards."""
        try:
            if fill is not None:
                fill(fd)
            digest, size = hash_file(tmp)
            os.fchmod(fd, 0o444)
            os.fsync(fd)
            self._commit(tmp, digest)
            return digest, size
        finally:
            os.close(fd)
            tmp.unlink(missing_ok=True)

    def sweep_tmp(self, *, dry_run: bool = False) -> int:
        """Remove the temporary files of writers that died before their rename (a kill, a crash);
        return how many there were (see :func:`wfc.store.tempfiles.sweep`)."""
        return sweep(self.root / "tmp", dry_run=dry_run)

    def _tmp_dir(self) -> Path:
        if self.read_only:
            raise StoreReadOnly(f"the store {self.root} is open read-only: refused a write", _BUG)
        tmp = self.root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        if not self._swept:
            self._swept = True
            self.sweep_tmp()
        return tmp

    # -- reading --------------------------------------------------------------------------
    def verify(self, digest: str, kind: Kind = "file", *, quarantine: bool = True) -> None:
        """Re-hash an object (and, for a tree, every file it lists).

        Args:
            digest: The object's name.
            kind: ``dir`` for a tree object: its files are verified too.
            quarantine: Move a corrupt object to ``quarantine/`` (so that a fresh copy can be
                written). False, or a read-only store, only reports it: what commands that only
                read (``plan``, ``why``) use.

        Raises:
            ObjectMissing: The object is absent.
            ObjectCorrupt: The bytes do not match the name (the object is quarantined, unless
                ``quarantine`` is False or the store is read-only).
        """
        if (digest, kind) in self._verified:
            return
        path = self.path(digest)
        if not path.is_file() and self.read_only:
            if not self._on_remote(digest):
                raise _missing(digest)
            self._verified.add((digest, kind))  # in the shared store, verified when it is fetched
            return
        if not path.is_file():
            self.fetch(digest)  # or ObjectMissing
            if kind == "file":
                self._verified.add((digest, kind))  # verified as it arrived
                return
        actual, _ = hash_file(path)
        if actual != digest:
            moved = quarantine and not self.read_only
            if moved:
                self.quarantine(digest)
            raise ObjectCorrupt(
                f"object {digest} is corrupt (its bytes hash to {actual})"
                + ("; moved to quarantine" if moved else ""),
                "re-run the step that made it; run `wfc cache verify` to check the rest",
            )
        if kind == "dir":
            for _rel, mode, _size, file_digest in self.read_tree(digest):
                if mode != "d":
                    self.verify(str(file_digest), quarantine=quarantine)
        self._verified.add((digest, kind))

    def read_tree(self, digest: str) -> list[tuple[str, str, int, str | None]]:
        """The entries ``(path, mode, size, digest)`` of a tree object; mode is f, x or d."""
        data = json.loads(self.path(digest).read_bytes())
        if not isinstance(data, dict) or data.get(TREE_TAG) != 1:
            raise ObjectCorrupt(f"object {digest} is not a tree", "check the record's output kind")
        return [(str(e[0]), str(e[1]), int(e[2]), e[3]) for e in data["entries"]]

    def materialize(self, digest: str, kind: Kind, dest: Path) -> None:
        """Verify an object and place it at ``dest`` (read-only), linking where possible."""
        self.verify(digest, kind)
        if kind == "file":
            self._place(self.path(digest), dest, executable=False)
            return
        dest.mkdir(parents=True, exist_ok=True)
        for rel, mode, _size, file_digest in self.read_tree(digest):
            if rel.startswith("/") or ".." in rel.split("/"):  # a tree from elsewhere (a shared store)
                raise ObjectCorrupt(
                    f"tree {digest} names a path outside itself: {rel!r}",
                    "wfc never writes such a tree: remove it and fetch it from a store you trust",
                )
            target = dest / rel
            if mode == "d":
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            self._place(self.path(str(file_digest)), target, executable=mode == "x")

    def _place(self, src: Path, dest: Path, *, executable: bool) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not executable and self.link in ("auto", "reflink") and _reflink(src, dest):
            os.chmod(dest, 0o444)
            return
        if not executable and self.link in ("auto", "hardlink"):
            try:
                os.link(src, dest)
                return
            except OSError:
                if self.link == "hardlink":
                    raise
        shutil.copyfile(src, dest)
        os.chmod(dest, 0o555 if executable else 0o444)

    def quarantine(self, digest: str) -> None:
        """Move a damaged object out of the way so that a fresh, correct copy can be written."""
        if self.read_only:
            raise StoreReadOnly(f"the store {self.root} is open read-only: refused to quarantine", _BUG)
        path = self.path(digest)
        qdir = self.root / "quarantine"
        qdir.mkdir(parents=True, exist_ok=True)
        if path.exists():
            os.replace(path, qdir / hex_of(digest))

    def iter_objects(self) -> list[str]:
        """Every object digest in the store."""
        if not self.objects.is_dir():
            return []
        return sorted(
            f"{ALGORITHM}:{d.name}{f.name}"
            for d in self.objects.iterdir()
            if d.is_dir()
            for f in d.iterdir()
            if not is_ignored(f.name)
        )


def _missing(digest: str) -> ObjectMissing:
    return ObjectMissing(f"object {digest} is missing from the store", "re-run the step that made it")


def _reflink(src: Path, dest: Path) -> bool:

    try:
        with src.open("rb") as s, dest.open("wb") as d:
            fcntl.ioctl(d.fileno(), _FICLONE, s.fileno())
        return True
    except OSError:
        if dest.exists():
            dest.unlink()
        return False


def _touch(path: Path) -> None:
    with contextlib.suppress(OSError):  # another user's object: gc's grace period still covers it
        os.utime(path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
