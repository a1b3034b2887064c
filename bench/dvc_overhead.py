"""Benchmark: an unchanged ``dvc repro`` of a wfc-compiled pipeline against DVC's own no-op.

Not a test. For a fan-out + gather of N trivial steps (the DAG of ``bench/pipeline_overhead.py``)
it measures in one run, each no-op the median of ``--reps``:

  (a) ``wfc compile --backend dvc`` of the pipeline, a first ``dvc repro`` (every stage a
      ``wfc run-step``), then the second ``dvc repro`` (nothing to do)
  (b) the same DAG as native DVC stages (a Python script per stage, the sample files and the
      upstream outputs as deps, one params entry per stage, uncached outs like wfc's): first
      ``dvc repro``, then the second

and reports (a) no-op / (b) no-op (target <= 1.2). Figures go to
``bench/results/dvc_overhead.json``.

Usage: python3 bench/dvc_overhead.py [--sizes 10,100] [--reps 3] [--runtime docker|process]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline_overhead import REPO, installed_env, setup_project, timed, write_results

STEP_PY = "import sys\nopen(sys.argv[-1], 'w').write(str(len(sys.argv)))\n"


def native(root: Path, n: int) -> None:
    """The fan-out + gather as native DVC stages in ``root`` (its data in ``../data``)."""
    stages: dict[str, Any] = {}
    params: dict[str, Any] = {}
    for i in range(n - 1):
        name = f"each-s{i}"
        stages[name] = {
            "cmd": f"python3 step.py ../data/s{i}.txt out/each-s{i}",
            "deps": ["step.py", f"../data/s{i}.txt"],
            "params": [{"params.yaml": [name]}],
            "outs": [{f"out/each-s{i}": {"cache": False}}],
        }
        params[name] = {"i": i}
    outs = [f"out/each-s{i}" for i in range(n - 1)]
    stages["all"] = {
        "cmd": "python3 step.py " + " ".join([*outs, "out/all"]),
        "deps": ["step.py", *outs],
        "params": [{"params.yaml": ["all"]}],
        "outs": [{"out/all": {"cache": False}}],
    }
    params["all"] = {"i": 0}
    (root / "out").mkdir(parents=True)
    (root / "step.py").write_text(STEP_PY)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}, sort_keys=False))


def noop(dvc: list[str], root: Path, env: dict[str, str], reps: int) -> float:
    """The median of ``reps`` unchanged ``dvc repro`` runs."""
    return statistics.median(timed([*dvc, "repro"], root, env) for _ in range(reps))


def measure(n: int, reps: int, runtime: str) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix=f"wfc-bench-dvc{n}-"))
    bin_dir = str(Path(sys.executable).parent)
    env = {**installed_env(), "PYTHONPATH": str(REPO), "WFC_RUNTIME": runtime}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    figures: dict[str, float] = {}
    doc = setup_project(root, "fan", n, {**env, "WFC_PROJECT": str(root)}, figures)
    dvc = [str(Path(bin_dir) / "dvc")]
    compile_ = [sys.executable, "-m", "wfc", "compile", str(doc), "--backend", "dvc", "-o", "."]
    timed(compile_, root, {**env, "WFC_PROJECT": str(root)})
    timed([*dvc, "init", "--no-scm", "-q"], root, env)
    figures["a_wfc_first_repro"] = timed([*dvc, "repro"], root, env)
    figures["a_wfc_noop_repro"] = noop(dvc, root, env, reps)

    plain = root / "native"
    plain.mkdir()
    native(plain, n)
    timed([*dvc, "init", "--no-scm", "-q"], plain, env)
    figures["b_native_first_repro"] = timed([*dvc, "repro"], plain, env)
    figures["b_native_noop_repro"] = noop(dvc, plain, env, reps)
    shutil.rmtree(root, ignore_errors=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10,100")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--runtime", default="docker", choices=("docker", "process"))
    args = parser.parse_args()
    results: dict[str, Any] = {"schema": "wfc.bench.dvc-overhead/1", "runtime": args.runtime, "runs": {}}
    for n in (int(s) for s in args.sizes.split(",")):
        figures = measure(n, args.reps, args.runtime)
        ratio = figures["a_wfc_noop_repro"] / figures["b_native_noop_repro"]
        results["runs"][f"fan{n}"] = {"seconds": figures, "ratios": {"wfc_noop_over_native_noop": ratio}}
        print(f"fan N={n:4}  " + "  ".join(f"{k}={v:.2f}s" for k, v in figures.items()))
        print(f"            wfc_noop_over_native_noop={ratio:.2f}   target <= 1.2", flush=True)
    results["targets"] = {"wfc_noop_over_native_noop": 1.2}
    write_results("dvc_overhead", results)


if __name__ == "__main__":
    main()
