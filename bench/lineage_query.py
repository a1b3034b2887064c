"""Benchmark: lineage queries on a database of 100,000 step runs.

Not a test. It builds a SQLite lineage database of ``--runs`` runs (chains of ``--depth`` steps,
one chain per pipeline run, each step reading its predecessor), then measures the median of N
repetitions of:

  (a) ``closure`` up from the deepest run of the newest chain (one recursive query)
  (b) ``closure --down`` from the first run of that chain
  (c) the naive baseline: walking the same ancestors one query per node (what the recursive
      query replaces), measured in the same run on the same database
  (d) ``wfc lineage RUN --format json`` end to end (a fresh process: imports, project, query, output)

and prints (a)/(c) (target < 1: the recursive query must beat one query per node) with every
figure written to ``bench/results/lineage_query.json``.

Usage: python3 bench/lineage_query.py [--runs 100000] [--depth 1000] [--reps 7]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from wfc.lineage.db import open_database  # noqa: E402
from wfc.lineage.query import closure, find_run  # noqa: E402
from wfc.lineage.schema import Run, RunInput  # noqa: E402


def build(root: Path, runs: int, depth: int) -> Path:
    """A project whose database holds ``runs`` runs in chains of ``depth``."""
    (root / "wfc.toml").write_text("")
    db_path = root / ".wfc" / "wfc.db"
    open_database(f"sqlite:///{db_path}").engine.dispose()
    conn = sqlite3.connect(db_path)
    h = "blake3:" + "0" * 64
    chains = runs // depth
    run_rows, input_rows, pr_rows = [], [], []
    for c in range(chains):
        pr = f"p-{c:026d}"
        pr_rows.append((pr, "bench", h, "{}", "completed", f"2026-01-01 00:00:{c % 60:02d}", "0", "bench"))
        for i in range(depth):
            rid = f"r-{c:013d}{i:013d}"
            run_rows.append(
                (
                    rid,
                    pr,
                    f"n{i}",
                    "m",
                    "x",
                    h,
                    h,
                    "{}",
                    "python",
                    h,
                    h,
                    "completed",
                    "2026-01-01 00:00:00",
                    "bench",
                )
            )
            if i == 0:
                input_rows.append((rid, "data", 0, h, "file", None, None, "s", 1))
            else:
                input_rows.append((rid, "data", 0, h, "file", f"r-{c:013d}{i - 1:013d}", "out", None, None))
    conn.executemany(
        "INSERT INTO pipeline_runs (id, name, document_hash, document, status, started_at, wfc_version, host)"
        " VALUES (?,?,?,?,?,?,?,?)",
        pr_rows,
    )
    conn.executemany(
        "INSERT INTO runs (id, pipeline_run_id, node_id, module, method, code_hash, contract_hash, params,"
        " env_name, env_digest, key, status, started_at, host) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        run_rows,
    )
    conn.executemany(
        "INSERT INTO run_inputs (run_id, slot, position, content_hash, kind, source_run_id, source_slot,"
        " sample_name, sample_version) VALUES (?,?,?,?,?,?,?,?,?)",
        input_rows,
    )
    conn.commit()
    conn.close()
    return db_path


def median(fn: Callable[[], object], reps: int) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--depth", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        db_path = build(root, args.runs, args.depth)
        built = time.perf_counter() - started
        db = open_database(f"sqlite:///{db_path}")
        chains = args.runs // args.depth
        last, first = f"r-{chains - 1:013d}{args.depth - 1:013d}", f"r-{chains - 1:013d}{0:013d}"
        deepest, root_run = find_run(db, last), find_run(db, first)
        assert len(closure(db, deepest, down=False)[0]) == args.depth

        def naive() -> int:
            seen, frontier = 0, [deepest.id]
            with db.session() as s:
                while frontier:
                    rid = frontier.pop()
                    s.get(Run, rid)
                    seen += 1
                    rows = s.query(RunInput.source_run_id).filter(RunInput.run_id == rid).all()
                    frontier += [r[0] for r in rows if r[0]]
            return seen

        assert naive() == args.depth
        up = median(lambda: closure(db, deepest, down=False), args.reps)
        down = median(lambda: closure(db, root_run, down=True), args.reps)
        baseline = median(naive, args.reps)
        env = {**os.environ, "PYTHONPATH": str(REPO), "WFC_PROJECT": str(root)}
        cli = median(
            lambda: subprocess.run(
                [sys.executable, "-m", "wfc", "lineage", last, "--format", "json"],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            ),
            args.reps,
        )
        db.engine.dispose()
    figures = {
        "runs": args.runs,
        "depth": args.depth,
        "build_seconds": round(built, 2),
        "closure_up_s": round(up, 4),
        "closure_down_s": round(down, 4),
        "naive_per_node_s": round(baseline, 4),
        "cli_lineage_json_s": round(cli, 4),
        "ratio_up_vs_naive": round(up / baseline, 3),
    }
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "lineage_query.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    verdict = "ok" if figures["ratio_up_vs_naive"] < 1 else "MISSED"
    print(f"(a)/(c) = {figures['ratio_up_vs_naive']} (target < 1): {verdict}")


if __name__ == "__main__":
    main()
