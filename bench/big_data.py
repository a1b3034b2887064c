"""Benchmark: big data at disk speed: archiving and staging a large output against the floor the
bytes themselves set.

Not a test. In one run, on this machine (the file system of the repository), it measures the median
of N repetitions of:

  (a) archiving a freshly written SIZE output into the store   (b) the floor: single-thread BLAKE3 of
      (``archive_outputs``, what ``run-step`` does after            the same fresh file + one fsync of it
      the method exits; a new content each time)
  (c) staging a cached SIZE input (``materialize``: verify     (d) a multi-threaded BLAKE3 of the
      the object, then link it under ``inputs/``)                  same object

and prints (a)/(b) (target <= 1.25) and (c)/(d) (target <= 1.5); also what copying a fresh file
the caller keeps (``sample add``: it cannot be moved) costs against (b). Every output is "fresh": written
just before it is timed, so its pages are dirty in the page cache as a method's output would be.
Figures are written as JSON to ``bench/results/big_data.json``.

Usage: .venv/bin/python bench/big_data.py [--size-mib 1024] [--reps 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import blake3

from wfc.cache.hashing import hash_file
from wfc.store.archive import archive_outputs
from wfc.store.local import ObjectStore

REPO = Path(__file__).resolve().parent.parent
_BLOCK = 64 << 20


def write_fresh(path: Path, size: int, seed: bytes, salt: int) -> None:
    """Write ``size`` bytes (``seed`` repeated, salted per call so every content is new), unsynced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        out.write(salt.to_bytes(8, "little"))
        left = size - 8
        while left > 0:
            n = min(left, len(seed))
            out.write(seed[:n])
            left -= n


def floor(path: Path) -> None:
    """What archiving cannot beat: read and hash every byte once, make them durable once."""
    hasher = blake3.blake3()
    hasher.update_mmap(path)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def median_of(reps: int, prepare: Callable[[int], Path], timed: Callable[[Path], object]) -> float:
    """Median seconds of ``timed(prepare(i))`` over ``reps`` repetitions (prepare is not timed)."""
    times = []
    for i in range(reps):
        os.sync()  # nothing dirty from the previous repetition is paid for by this one
        target = prepare(i)
        start = time.perf_counter()
        timed(target)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    size = args.size_mib << 20
    seed = os.urandom(_BLOCK)
    root = Path(tempfile.mkdtemp(prefix="wfc-bench-big-", dir=REPO))
    try:
        store = ObjectStore(root / "store")
        salts = iter(range(1 << 30))

        def fresh_output(i: int) -> Path:
            out = root / f"run{i}" / "out"
            write_fresh(out / "big.bin", size, seed, next(salts))
            return out

        def fresh_file(i: int) -> Path:
            path = root / f"floor{i}.bin"
            write_fresh(path, size, seed, next(salts))
            return path

        archive = median_of(
            args.reps, fresh_output, lambda out: archive_outputs(store, out, {"o": "big.bin"})
        )
        floor_s = median_of(args.reps, fresh_file, floor)
        copy_in = median_of(args.reps, fresh_file, store.put_file)

        cached = archive_outputs(store, fresh_output(args.reps), {"o": "big.bin"})[0]

        def staging_dir(i: int) -> Path:
            return root / f"stage{i}" / "inputs" / "big.bin"

        stage = median_of(
            args.reps,
            staging_dir,
            lambda dest: ObjectStore(store.root).materialize(cached.digest, "file", dest),
        )
        hash_mt = median_of(args.reps, lambda i: store.path(cached.digest), hash_file)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    figures = {
        "size_mib": args.size_mib,
        "reps": args.reps,
        "archive_s": round(archive, 4),
        "floor_blake3_fsync_s": round(floor_s, 4),
        "archive_over_floor": round(archive / floor_s, 3),
        "copy_in_s": round(copy_in, 4),
        "copy_in_over_floor": round(copy_in / floor_s, 3),
        "stage_cached_s": round(stage, 4),
        "blake3_multithread_s": round(hash_mt, 4),
        "stage_over_blake3_mt": round(stage / hash_mt, 3),
    }
    print(f"archive {args.size_mib} MiB   {archive:.3f} s")
    print(f"floor (BLAKE3 + fsync)  {floor_s:.3f} s   ratio {archive / floor_s:.2f} (target <= 1.25)")
    print(f"copy a user's file in (sample add)  {copy_in:.3f} s   ratio {copy_in / floor_s:.2f}")
    print(f"stage cached input  {stage:.3f} s")
    print(f"BLAKE3 multi-thread  {hash_mt:.3f} s   ratio {stage / hash_mt:.2f} (target <= 1.5)")
    out = REPO / "bench" / "results" / "big_data.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"written to {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
