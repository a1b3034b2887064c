"""Benchmark: ``wfc sample import`` of a sheet of 1,000 small distinct files.

Not a test. It writes ``--samples`` files of ``--bytes`` distinct bytes each and a CSV sheet
listing them with two metadata columns, then measures the median of N repetitions of:

  (a) ``wfc sample import sheet.csv`` end to end, into a fresh project each time (a new process:
      imports, sheet checks, storing every file, one database transaction, one lock write)
  (b) ``wfc sample import sheet.csv`` again on that project (every row ``unchanged``)
  (c) the baseline, in this process: read each file, hash it with BLAKE3, write the bytes to a
      new file and fsync it (what storing the same bytes costs at the least), on the same disk

and prints (a) in seconds (target < 10 s for 1,000 samples) and (a)/(c), with every figure
written as JSON to ``bench/results/sample_import.json``.

Usage: python3 bench/sample_import.py [--samples 1000] [--bytes 256] [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import blake3

REPO = Path(__file__).resolve().parent.parent


def make_data(root: Path, samples: int, size: int) -> Path:
    """``samples`` files of ``size`` distinct bytes under ``root/data`` and a sheet listing them."""
    data = root / "data"
    data.mkdir(parents=True)
    lines = ["sample,path,condition,batch"]
    for i in range(samples):
        name = f"s{i:05d}"
        (data / f"{name}.txt").write_bytes(f"{name}\n".encode().ljust(size, b"x"))
        lines.append(f"{name},data/{name}.txt,{'treated' if i % 2 else 'control'},{i % 7}")
    sheet = root / "sheet.csv"
    sheet.write_text("\n".join(lines) + "\n")
    return sheet


def fresh_project(root: Path, source: Path) -> Path:
    """A new empty project holding a copy of the data and the sheet."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir()
    (root / "wfc.toml").write_text("")
    shutil.copytree(source / "data", root / "data")
    shutil.copy(source / "sheet.csv", root / "sheet.csv")
    return root


def wfc_import(root: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO), "WFC_PROJECT": str(root)}  # this checkout's code
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "wfc", "sample", "import", "sheet.csv"],
        cwd=root,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def baseline(source: Path, out: Path) -> float:
    """BLAKE3 + fsync of the same bytes: each file read, hashed, written anew and fsynced."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir()
    start = time.perf_counter()
    for path in sorted((source / "data").iterdir()):
        data = path.read_bytes()
        digest = blake3.blake3(data).hexdigest()
        fd = os.open(out / digest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--bytes", type=int, default=256)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wfc-bench-") as tmp:
        base = Path(tmp)
        make_data(base / "source", args.samples, args.bytes)
        first, again, floor = [], [], []
        for _ in range(args.reps):  # interleaved, so that drift hits every case alike
            project = fresh_project(base / "project", base / "source")
            first.append(wfc_import(project))
            again.append(wfc_import(project))
            floor.append(baseline(base / "source", base / "baseline"))
        lock = json.loads((base / "project" / "samples.lock.json").read_text())
        assert len(lock["samples"]) == args.samples
    a, b, c = (statistics.median(x) for x in (first, again, floor))
    figures = {
        "samples": args.samples,
        "bytes_each": args.bytes,
        "reps": args.reps,
        "import_s": round(a, 3),
        "reimport_unchanged_s": round(b, 3),
        "baseline_blake3_fsync_s": round(c, 3),
        "ratio_import_vs_baseline": round(a / c, 2),
        "per_sample_ms": round(a / args.samples * 1000, 3),
    }
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "sample_import.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    verdict = "ok" if a < 10 * args.samples / 1000 else "MISSED"
    print(f"(a) = {a:.2f} s for {args.samples} samples (target < 10 s per 1,000): {verdict}")
    print(f"(a)/(c) = {figures['ratio_import_vs_baseline']} (the floor: hashing and fsyncing the same bytes)")


if __name__ == "__main__":
    main()
