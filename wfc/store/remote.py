"""The shared store behind the local one, and moving objects between them (``wfc cache push|pull``).

With ``WFC_STORE=s3://BUCKET/PREFIX`` the local store (``store_cache``, default ``.wfc/store``)
is a cache of the shared one: every object written locally is written through before any record
names it, and an object a step needs but the cache lacks is fetched, verified, on first use. Push
and pull move whole sets at once: one LIST says what the other side has, only what is missing
moves, in parallel, and a killed transfer leaves nothing half-written (an object is named only
once it is complete and verified) so running it again resumes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar, Protocol

from wfc.errors import UsageError
from wfc.store.local import ObjectStore

THREADS = 8


class Remote(Protocol):
    """What the local store needs of a shared one (:class:`wfc.store.s3.S3Store`)."""

    url: str

    def list_digests(self) -> set[str]:
        """Every object it holds, in bulk."""
        ...

    def put_file(self, digest: str, path: Path) -> bool:
        """Upload unless present (never overwriting); True if this call wrote it."""
        ...

    def download(self, digest: str, fd: int) -> None:
        """Write the object into the empty file ``fd``, verified against its name."""
        ...

    def iter_objects_with_mtime(self) -> Iterable[tuple[str, datetime, int]]:
        """Every object as ``(digest, last modified, size)``, in bulk."""
        ...

    def delete(self, digest: str) -> None:
        """Remove an object (absent: nothing to do)."""
        ...


def open_remote(url: str) -> Remote:
    """The shared store named by ``url`` (only ``s3://`` so far)."""
    from wfc.store.s3 import S3Store  # boto3 is imported only by projects that use it

    return S3Store(url)


@dataclass(frozen=True)
class Transfer:
    """What ``wfc cache push`` or ``pull`` moved: objects and bytes, and what was there already."""

    SCHEMA: ClassVar[str] = "wfc.cache-transfer/1"

    direction: str
    remote: str
    moved: int
    bytes: int
    present: int
    missing: tuple[str, ...]  # wanted but in neither store (pull) or not in the local one (push)


Progress = Callable[[int, int], None]


def push(store: ObjectStore, wanted: Iterable[str] | None, progress: Progress) -> Transfer:
    """Upload the objects of ``wanted`` (None: every local object) the shared store lacks."""
    remote = shared(store)
    local = set(store.iter_objects())
    want = local if wanted is None else set(wanted)
    there = remote.list_digests()
    todo = sorted((want - there) & local)

    def one(digest: str) -> int:
        remote.put_file(digest, store.path(digest))
        return store.path(digest).stat().st_size

    sizes = _parallel(todo, one, progress)
    lost = tuple(sorted(want - local - there))
    return Transfer("push", remote.url, len(todo), sum(sizes), len(want & there), lost)


def pull(store: ObjectStore, wanted: Iterable[str] | None, progress: Progress) -> Transfer:
    """Download the objects of ``wanted`` (None: every shared object) the local store lacks."""
    remote = shared(store)
    there = remote.list_digests()
    want = there if wanted is None else set(wanted)
    local = {d for d in want if store.has(d)}
    todo = sorted((want - local) & there)

    def one(digest: str) -> int:
        store.fetch(digest)
        return store.path(digest).stat().st_size

    sizes = _parallel(todo, one, progress)
    lost = tuple(sorted(want - local - there))
    return Transfer("pull", remote.url, len(todo), sum(sizes), len(local), lost)


def shared(store: ObjectStore) -> Remote:
    """The store's shared store.

    Raises:
        UsageError: It has none.
    """
    if store.remote is None:
        raise UsageError(
            "this project has no shared store (its store is a local directory)",
            "set WFC_STORE=s3://BUCKET/PREFIX (and WFC_S3_ENDPOINT for a server other than AWS)",
        )
    return store.remote


def _parallel(todo: list[str], one: Callable[[str], int], progress: Progress) -> list[int]:
    done: list[int] = []
    progress(0, len(todo))
    with ThreadPoolExecutor(THREADS) as pool:
        for size in pool.map(one, todo):
            done.append(size)
            progress(len(done), len(todo))
    return done
