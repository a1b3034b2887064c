"""The object store: atomic, read-only, verified, deduplicating, with trees and link modes; finished
runs' outputs are moved in, not copied."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wfc.cache.hashing import hash_file
from wfc.errors import StepFailed
from wfc.store.archive import archive_outputs
from wfc.store.local import ObjectCorrupt, ObjectMissing, ObjectStore
from wfc.store.tempfiles import adopt


def test_put_file_is_content_addressed_read_only_and_deduplicated(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "store")
    (tmp_path / "a.txt").write_bytes(b"hello")
    (tmp_path / "b.txt").write_bytes(b"hello")
    d1, size = store.put_file(tmp_path / "a.txt")
    d2, _ = store.put_file(tmp_path / "b.txt")
    assert d1 == d2 == hash_file(tmp_path / "a.txt")[0] and size == 5
    path = store.path(d1)
    assert path.parent.name == d1[7:9] and path.name == d1[9:]
    assert path.stat().st_mode & 0o777 == 0o444
    assert store.iter_objects() == [d1]
    assert not list((tmp_path / "store" / "tmp").iterdir())


def test_tree_objects_store_identical_files_once_and_round_trip(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "empty").mkdir()
    (src / "a.txt").write_text("same")
    (src / "sub" / "b.txt").write_text("same")
    (src / "run.sh").write_text("#!/bin/sh\n")
    (src / "run.sh").chmod(0o755)
    store = ObjectStore(tmp_path / "store")
    digest, size, kind = store.put(src)
    assert kind == "dir" and size == 4 + 4 + 10
    entries = store.read_tree(digest)
    assert [(e[0], e[1]) for e in entries] == [
        ("a.txt", "f"),
        ("empty", "d"),
        ("run.sh", "x"),
        ("sub/b.txt", "f"),
    ]
    assert len(store.iter_objects()) == 3  # tree + "same" once + run.sh
    dest = tmp_path / "out"
    store.materialize(digest, "dir", dest)
    assert (dest / "sub" / "b.txt").read_text() == "same"
    assert (dest / "empty").is_dir()
    assert os.access(dest / "run.sh", os.X_OK)
    assert (dest / "a.txt").stat().st_mode & 0o222 == 0  # staged objects are unwritable


@pytest.mark.parametrize("mode", ["auto", "hardlink", "copy"])
def test_link_modes_place_verified_read_only_files(tmp_path: Path, mode: str) -> None:
    store = ObjectStore(tmp_path / "store", mode)  # type: ignore[arg-type]
    (tmp_path / "f").write_text("data")
    digest, _ = store.put_file(tmp_path / "f")
    store.materialize(digest, "file", tmp_path / "placed")
    placed = tmp_path / "placed"
    assert placed.read_text() == "data" and placed.stat().st_mode & 0o222 == 0
    linked = placed.stat().st_ino == store.path(digest).stat().st_ino
    assert linked is (mode in ("auto", "hardlink"))  # this ext4 has no reflink: auto falls back to a hardlink


def test_corrupt_object_is_detected_quarantined_and_rewritten(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "store")
    (tmp_path / "f").write_text("good")
    digest, _ = store.put_file(tmp_path / "f")
    obj = store.path(digest)
    obj.chmod(0o644)
    obj.write_text("evil")
    fresh = ObjectStore(tmp_path / "store")  # no in-process memo
    with pytest.raises(ObjectCorrupt, match="is corrupt"):
        fresh.materialize(digest, "file", tmp_path / "never")
    assert not (tmp_path / "never").exists()
    assert not obj.exists() and (tmp_path / "store" / "quarantine" / digest[7:]).read_text() == "evil"
    assert fresh.put_file(tmp_path / "f")[0] == digest
    fresh.verify(digest)
    with pytest.raises(ObjectMissing, match="is missing from the store"):
        fresh.verify("blake3:" + "0" * 64)


def test_corrupt_file_inside_a_tree_is_detected(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_text("x")
    store = ObjectStore(tmp_path / "store")
    digest, _, _ = store.put(tmp_path / "d")
    inner = store.path(hash_file(tmp_path / "d" / "x")[0])
    inner.chmod(0o644)
    inner.write_text("y")
    with pytest.raises(ObjectCorrupt):
        ObjectStore(tmp_path / "store").verify(digest, "dir")


def test_digest_must_name_its_algorithm(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a blake3 digest"):
        ObjectStore(tmp_path).path("sha256:" + "0" * 64)


def test_the_next_writer_sweeps_temporary_files_of_dead_writers_only(tmp_path: Path) -> None:
    tmp = tmp_path / "store" / "tmp"
    tmp.mkdir(parents=True)
    dead, live, young = tmp / "obj-dead", tmp / "obj-live", tmp / "obj-young"
    for path in (dead, live, young):
        path.write_bytes(b"partial")
    old = time.time() - 600
    for path in (dead, live):
        os.utime(path, (old, old))
    holding = (  # a live writer: holds its file locked as the store's writers do
        f"import fcntl,sys; f=open({str(live)!r}); fcntl.flock(f, fcntl.LOCK_EX); print(1, flush=True); "
        "sys.stdin.read()"
    )
    with subprocess.Popen(
        [sys.executable, "-c", holding], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    ) as holder:
        assert holder.stdout is not None and holder.stdout.readline() == b"1\n"
        store = ObjectStore(tmp_path / "store")
        assert store.sweep_tmp(dry_run=True) == 1 and dead.exists()
        store.put_bytes(b"next")  # the next writer sweeps once
        assert sorted(p.name for p in tmp.iterdir()) == ["obj-live", "obj-young"]
        holder.kill()
    assert ObjectStore(tmp_path / "store").sweep_tmp() == 1  # its writer died: now it goes too
    assert sorted(p.name for p in tmp.iterdir()) == ["obj-young"]  # too young to judge


def _output_dir(root: Path) -> Path:
    out = root / "run" / "out"
    (out / "tree" / "empty").mkdir(parents=True)
    (out / "big.bin").write_bytes(os.urandom(5 << 20))  # above the multi-threaded hashing threshold
    (out / "tree" / "a.txt").write_text("a")
    (out / "tree" / "run.sh").write_text("#!/bin/sh\n")
    (out / "tree" / "run.sh").chmod(0o755)
    return out


def test_archiving_moves_a_finished_runs_outputs_into_the_store_without_copying(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "store", "copy")
    out = _output_dir(tmp_path)
    expected = hash_file(out / "big.bin")[0]
    inode = (out / "big.bin").stat().st_ino
    big, tree = archive_outputs(store, out, {"big": "big.bin", "tree": "tree"})
    assert big.digest == expected and big.size == 5 << 20 and big.kind == "file"
    assert store.path(big.digest).stat().st_ino == inode  # renamed, not copied
    assert store.path(big.digest).stat().st_mode & 0o777 == 0o444
    assert not (out / "big.bin").exists() and not (out / "tree" / "a.txt").exists()
    assert not list((tmp_path / "store" / "tmp").iterdir())
    store.materialize(tree.digest, "dir", tmp_path / "back")
    assert (tmp_path / "back" / "a.txt").read_text() == "a" and (tmp_path / "back" / "empty").is_dir()
    assert os.access(tmp_path / "back" / "run.sh", os.X_OK)
    assert not os.access(tmp_path / "back" / "a.txt", os.X_OK)


def test_moving_copies_what_it_cannot_take_and_leaves_it_untouched(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "store")
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("shared")
    os.link(elsewhere, out / "linked.txt")  # a second name: taking it would let `elsewhere` edit the object
    (out / "alias.txt").symlink_to(elsewhere)
    for name in ("linked.txt", "alias.txt"):
        digest, _ = store.put_file(out / name, move=True)
        assert store.path(digest).read_text() == "shared"
        assert store.path(digest).stat().st_ino != elsewhere.stat().st_ino
        assert (out / name).exists()
    assert elsewhere.stat().st_mode & 0o777 != 0o444 and elsewhere.stat().st_nlink == 2
    os.mkfifo(out / "pipe")
    with pytest.raises(StepFailed, match=r"^not a regular file: .*pipe$"):
        store.put_file(out / "pipe", move=True)  # refused at once: never blocks on a FIFO


def test_an_output_being_moved_is_locked_and_a_killed_move_leaves_no_object(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "store")
    src = tmp_path / "out.bin"
    src.write_bytes(b"old output")
    old = time.time() - 600  # older than the sweep's grace period, as a slow method's output is
    os.utime(src, (old, old))
    (store.root / "tmp").mkdir(parents=True)
    adopted = adopt(src, store.root / "tmp")  # what put_file(move=True) does first
    assert adopted is not None and not src.exists()
    assert ObjectStore(store.root).sweep_tmp(dry_run=True) == 0  # a live writer's: spared
    digest, _ = store._seal(*adopted)
    assert store.path(digest).read_bytes() == b"old output"

    src.write_bytes(b"killed before its rename")
    os.utime(src, (old, old))
    code = (
        "from pathlib import Path as P; from wfc.store.local import ObjectStore as S; "
        f"S(P({str(store.root)!r})).put_file(P({str(src)!r}), move=True)"
    )
    env = {**os.environ, "WFC_FAILPOINT": "store.before_rename"}
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == -9
    assert store.iter_objects() == [digest]  # no object for the killed write, and no wrong one
    assert ObjectStore(store.root).sweep_tmp() == 1  # its writer is dead: the next writer removes it


def test_a_kept_code_tree_never_follows_links_and_a_tree_never_escapes(tmp_path: Path) -> None:
    from wfc.cache.hashing import canonical_json
    from wfc.store.local import TREE_TAG, ObjectCorrupt

    store = ObjectStore(tmp_path / "store")
    method = tmp_path / "method"
    method.mkdir()
    (method / "main.py").write_text("print(1)\n")
    (method / ".#main.py").symlink_to("user@host.123")  # an editor's lock file: a dangling link
    (method / "secret").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").write_text("not the method's")
    digest, _ = store.put_tree(method, code=True)
    assert [e[0] for e in store.read_tree(digest)] == ["main.py"]
    hostile = store.put_bytes(canonical_json({TREE_TAG: 1, "entries": [["../escape", "f", 1, digest]]}))
    with pytest.raises(ObjectCorrupt, match=r"names a path outside itself: '\.\./escape'"):
        store.materialize(hostile, "dir", tmp_path / "out")
    assert not (tmp_path / "escape").exists()
