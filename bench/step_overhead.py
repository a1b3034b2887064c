"""Benchmark: what one ``wfc run-step`` costs beyond the container and the database layer.

Not a test. In one run, on this machine, it measures the median of N repetitions of:

  (a) a cached ``wfc run-step``                         (b) ``python -c pass``
  (c) an executed ``wfc run-step`` of a trivial method  (d) a bare ``docker run --rm --network none``
      (a true miss each time: a new param value)            of the same image and command
  (e) ``python -c "import sqlalchemy"`` (the floor the lineage layer sets)
  (f) a process that imports blake3 and sqlite3, hashes the step's input and reads one row of the
      project's database (the least a cached step must do)
  (g) a process that imports what reading a pipeline document and a method.yaml takes in wfc
      (the validated models: pydantic, yaml): the floor a cached run-step meets before it looks
      anything up, as long as every run-step validates its documents

The step reads one registered sample (64 KiB). It prints (a)/(e) (target <= 1.5), (a)/(f)
(target <= 2.0), (a)/(g) and (g)/(f) (how far (a) is above that floor, and the floor above (f)),
(c)/((d)+(e)) (target <= 1.2), and what ``python -X importtime`` says dominates a cached run-step.
Every figure is written as JSON to ``bench/results/step_overhead.json``.

Usage: python3 bench/step_overhead.py [--reps 15]   (needs Docker and the wfc-base image)
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
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from pipeline_overhead import installed_env  # noqa: E402

METHOD_YAML = """\
env: python
inputs:
  data: {required: false}
outputs:
  out: {file: out.txt}
params:
  k: {type: int, default: 0}
"""
METHOD_PY = 'import os\nopen(os.path.join(os.environ["WFC_RUN_DIR"], "out.txt"), "w").write("x")\n'


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def pipeline(root: Path, k: int) -> Path:
    path = root / f"p{k}.json"
    nodes = [{"id": "data", "samples": ["s1"]}, {"id": "t", "method": "b/trivial", "params": {"k": k}}]
    doc = {"version": 1, "name": "bench", "nodes": nodes, "links": [{"from": "data", "to": "t.data"}]}
    path.write_text(json.dumps(doc))
    return path


def importtime(argv: list[str], env: dict[str, str], cwd: Path) -> list[tuple[str, float]]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *argv[1:]],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    totals: dict[str, float] = defaultdict(float)
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, _cumulative, name = line.removeprefix("import time:").split("|")
        totals[name.strip().split(".")[0]] += int(self_us) / 1e6  # self time, by top-level package
    return sorted(totals.items(), key=lambda kv: -kv[1])[:8]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=15)
    reps = parser.parse_args().reps
    root = Path(tempfile.mkdtemp(prefix="wfc-bench-"))
    env = {
        **installed_env(),
        "WFC_PROJECT": str(root),
        "PYTHONPATH": str(REPO),
    }  # measure this checkout's code
    wfc = [sys.executable, "-m", "wfc"]
    subprocess.run([*wfc, "init", str(root)], check=True, capture_output=True)
    shutil.copytree(REPO / "environments" / "python", root / "environments" / "python", dirs_exist_ok=True)
    subprocess.run([*wfc, "env", "build", "python", "-q"], env=env, check=True, capture_output=True)
    image = json.loads((root / "environments/python/env.lock.json").read_text())["image_id"]
    method = root / "methods" / "b" / "trivial"
    method.mkdir(parents=True)
    (method / "method.yaml").write_text(METHOD_YAML)
    (method / "main.py").write_text(METHOD_PY)

    (root / "s1.bin").write_bytes(os.urandom(64 * 1024))
    add = [*wfc, "sample", "add", "s1", str(root / "s1.bin")]
    subprocess.run(add, env=env, check=True, capture_output=True)
    cached = pipeline(root, 0)
    step = [*wfc, "run-step", str(cached), "--node", "t", "--sample", "s1"]
    subprocess.run(step, env=env, check=True, capture_output=True)
    floor = (
        "import sqlite3, sys, blake3; blake3.blake3(open(sys.argv[1], 'rb').read()).hexdigest(); "
        "sqlite3.connect(sys.argv[2]).execute('SELECT * FROM runs LIMIT 1').fetchone()"
    )
    least = [sys.executable, "-c", floor, str(root / "s1.bin"), str(root / ".wfc" / "wfc.db")]
    models = [sys.executable, "-c", "import wfc.model.pipeline, wfc.methods"]
    out_dir = root / "docker-out"
    out_dir.mkdir()
    os.chown(out_dir, 1000, 1000) if os.geteuid() == 0 else None
    docker_argv = [
        "docker",
        "run",
        "--rm",
        "--network",
        "none",
        "--user",
        "1000:1000",
        "-v",
        f"{method}:/wfc/method:ro",
        "-v",
        f"{out_dir}:/wfc/run",
        "-w",
        "/wfc/method",
        "-e",
        "WFC_RUN_DIR=/wfc/run",
        image,
        "python3",
        "main.py",
    ]
    timed(docker_argv, env, root)  # warm-up

    samples: dict[str, list[float]] = defaultdict(list)
    for i in range(reps):  # interleaved, so that drift hits every case alike
        samples["a_cached_run_step"].append(timed(step, env, root))
        samples["b_python_pass"].append(timed([sys.executable, "-c", "pass"], env, root))
        miss = pipeline(root, i + 1)
        miss_step = [*wfc, "run-step", str(miss), "--node", "t", "--sample", "s1"]
        samples["c_executed_run_step"].append(timed(miss_step, env, root))
        samples["d_docker_run"].append(timed(docker_argv, env, root))
        samples["e_import_sqlalchemy"].append(timed([sys.executable, "-c", "import sqlalchemy"], env, root))
        samples["f_hash_and_read_row"].append(timed(least, env, root))
        samples["g_import_document_models"].append(timed(models, env, root))

    med = {k: statistics.median(v) for k, v in samples.items()}
    ratio_hit = med["a_cached_run_step"] / med["e_import_sqlalchemy"]
    ratio_least = med["a_cached_run_step"] / med["f_hash_and_read_row"]
    ratio_models = med["a_cached_run_step"] / med["g_import_document_models"]
    ratio_miss = med["c_executed_run_step"] / (med["d_docker_run"] + med["e_import_sqlalchemy"])
    dominant = importtime(step, env, root)

    for name, value in med.items():
        print(f"{name:22} median {value * 1000:7.1f} ms  (n={reps})")
    print(f"(a)/(e)         = {ratio_hit:.2f}   target <= 1.5")
    print(f"(a)/(f)         = {ratio_least:.2f}   target <= 2.0")
    models_floor = med["g_import_document_models"] / med["f_hash_and_read_row"]
    print(f"(a)/(g)         = {ratio_models:.2f}   (g)/(f) = {models_floor:.2f}: the floor (g) alone")
    print(f"(c)/((d)+(e))   = {ratio_miss:.2f}   target <= 1.2")
    heaviest = ", ".join(f"{name} {seconds:.3f}" for name, seconds in dominant)
    print(f"cached run-step import self-time by package (s): {heaviest}")

    results = REPO / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "step_overhead.json").write_text(
        json.dumps(
            {
                "schema": "wfc.bench.step-overhead/1",
                "reps": reps,
                "median_seconds": med,
                "samples_seconds": samples,
                "ratios": {
                    "cached_over_import_sqlalchemy": ratio_hit,
                    "cached_over_hash_and_read_row": ratio_least,
                    "cached_over_import_document_models": ratio_models,
                    "document_models_over_hash_and_read_row": models_floor,
                    "executed_over_docker_plus_import": ratio_miss,
                },
                "targets": {
                    "cached_over_import_sqlalchemy": 1.5,
                    "cached_over_hash_and_read_row": 2.0,
                    "executed_over_docker_plus_import": 1.2,
                },
                "cached_run_step_imports": dominant,
            },
            indent=2,
        )
        + "\n"
    )
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
