"""Temporary objects in a store's ``tmp/``: how bytes get there before they are named.

A new temporary is created locked (``flock``) and stays locked until it is renamed into place or
removed: "a live writer". A file a caller gives up (a finished run's output) is *adopted* instead:
locked first, then renamed into ``tmp/``, so its bytes are never copied. :func:`sweep` removes what
writers that died left behind: unlocked and older than a minute. Copies run in the kernel.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import stat
import tempfile
import time
from pathlib import Path
from typing import IO

from wfc.errors import StepFailed

TMP_PREFIX = "obj-"  # a temporary object in tmp/, locked by its writer until renamed
TMP_GRACE_S = 60  # never sweep a younger one: its writer may not have locked it yet


def new_tmp(tmp_dir: Path) -> tuple[int, Path]:
    """A new, empty temporary object in ``tmp/``, locked: "a live writer" that :func:`sweep` spares."""
    fd, name = tempfile.mkstemp(dir=tmp_dir, prefix=TMP_PREFIX)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd, Path(name)


def adopt(src: Path, tmp_dir: Path) -> tuple[int, Path] | None:
    """Rename a file the caller gives up into ``tmp/``, locked before it moves; None when it
    cannot be taken without a copy (not a plain file, linked elsewhere, another owner or file
    system), and then it is left where it is."""
    try:
        fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None  # a symbolic link (or gone): the copy reads what it names, or says why not
    st = os.fstat(fd)
    mine = st.st_uid == os.geteuid() or os.geteuid() == 0
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1 or not mine:
        os.close(fd)
        return None
    fcntl.flock(fd, fcntl.LOCK_EX)
    tmp = tmp_dir / f"{TMP_PREFIX}{secrets.token_hex(12)}"
    try:
        os.rename(src, tmp)
    except OSError:
        os.close(fd)
        return None
    if st.st_uid != os.geteuid():
        os.fchown(fd, os.geteuid(), os.getegid())  # a container user's file, owned by the store's
    return fd, tmp


def sweep(tmp: Path, *, dry_run: bool = False) -> int:
    """Remove the temporary files of writers that died before their rename (a kill, a crash):
    those no live process holds locked, older than a minute (a new one is locked at once).
    Return how many there were."""
    if not tmp.is_dir():
        return 0
    stale = 0
    for path in tmp.glob(f"{TMP_PREFIX}*"):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
        except OSError:
            continue  # gone already, or not ours
        try:
            old = os.fstat(fd).st_mtime < time.time() - TMP_GRACE_S
            if not old or not stat.S_ISREG(os.fstat(fd).st_mode):
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live writer
            stale += 1
            if not dry_run:
                path.unlink(missing_ok=True)
        finally:
            os.close(fd)
    return stale


def _open_regular(src: Path) -> IO[bytes]:
    """Open a regular file for reading; never block on a FIFO or read a device.

    Raises:
        StepFailed: ``src`` is not a regular file (the step that made it fails).
    """
    fd = os.open(src, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            hint = "outputs may hold only regular files and directories"
            raise StepFailed(f"not a regular file: {src}", hint)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def copy_into(src: Path, fd: int) -> None:
    """Copy a regular file's bytes into ``fd`` in the kernel (no trip through Python buffers)."""
    with _open_regular(src) as inp:
        size = os.fstat(inp.fileno()).st_size
        copied = 0
        while copied < size:
            sent = os.sendfile(fd, inp.fileno(), copied, size - copied)
            if sent == 0:
                break  # the file shrank while being copied: the hash names what was copied
            copied += sent


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
