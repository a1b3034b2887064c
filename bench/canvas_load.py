"""Benchmark: ``wfc canvas`` with a big pipeline, in the system's headless Chromium.

Not a test. A generated project holds a 200-node pipeline (one samples node with 5 samples feeding
199 method nodes shaped as a binary tree, each node once per sample: 995 steps), run with the
``process`` runtime so that no container costs time. In one run, on this machine, it measures:

  (1) opening it: from navigation to all 200 ``[data-node-id]`` elements in the page (median of
      N fresh browser contexts), against a static page of 200 plain positioned divs served over HTTP
      from this process, in the same browser (the floor any page sets)
  (2) a live run: the 995 steps, all hits (the cache is filled beforehand by ``wfc run-pipeline``),
      started with the Run button, until every method node shows ``cached``: about 3,000 run
      events (queued, started, finished) reach the page through the event stream in a burst.
      Against the same cached rerun by ``wfc run-pipeline`` in a terminal (median of N)

and prints (1) canvas/static and (2) canvas/CLI. Every figure is written as JSON to
``bench/results/canvas_load.json``.

Usage: python3 bench/canvas_load.py [--reps 5]   (needs /usr/lib/chromium/chromium and playwright;
no Docker: the steps run as local processes)
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # tests.canvas_server starts the server as the tests do

from playwright.sync_api import Browser, sync_playwright  # noqa: E402

from tests.canvas_server import CHROMIUM, CHROMIUM_ARGS, start_canvas  # noqa: E402

NODES = 200  # the samples node and 199 method nodes
SAMPLES = 5
METHOD_YAML = """\
description: A trivial step for the load benchmark.
env: python
inputs:
  data: {required: false}
outputs:
  out: {file: out.txt}
params:
  i: {type: int, default: 0}
"""
METHOD_PY = (
    "import os\n"
    'open(os.path.join(os.environ["WFC_RUN_DIR"], "out.txt"), "w")'
    '.write(os.environ["WFC_SAMPLE"] + os.environ["WFC_PARAMS"])\n'
)
# An environment lock naming an image that does not exist: the process runtime never asks Docker.
LOCK = {
    "schema": 1,
    "name": "python",
    "image_id": "sha256:" + "ab" * 32,
    "tag": "wfc-env-python:latest",
    "base_image": "scratch",
    "build_args": {},
    "ca_bundle": "",
    "built_at": "2026-01-01T00:00:00+00:00",
    "dockerfile_hash": "blake3:" + "00" * 32,
}
ALL_DRAWN = "n => document.querySelectorAll('[data-node-id]').length >= n"
ALL_CACHED = 'n => document.querySelectorAll(\'[data-node-id^="m"][data-status="cached"]\').length >= n'


def pipeline() -> dict[str, Any]:
    """``data`` (samples s0..s4) -> m1 -> m2, m3 -> m4..m7 ...: node mI is fed by m(I//2)."""
    nodes: list[dict[str, Any]] = [{"id": "data", "samples": [f"s{i}" for i in range(SAMPLES)]}]
    links = []
    for i in range(1, NODES):
        nodes.append({"id": f"m{i}", "method": "b/trivial", "params": {"i": i}})
        links.append({"from": "data" if i == 1 else f"m{i // 2}", "to": f"m{i}.data"})
    return {"version": 1, "name": "load", "nodes": nodes, "links": links}


def make_project(root: Path, wfc: list[str]) -> dict[str, str]:
    """The benchmark project at ``root``; returns the environment its commands run in."""
    subprocess.run([*wfc, "init", str(root)], check=True, capture_output=True)
    settings = root / "wfc.toml"
    settings.write_text('runtime = "process"\n' + settings.read_text())  # a top-level key
    env_dir = root / "environments" / "python"
    env_dir.mkdir(parents=True)
    (env_dir / "Dockerfile").write_text("FROM scratch\n")
    (env_dir / "env.lock.json").write_text(json.dumps(LOCK))
    method = root / "methods" / "b" / "trivial"
    method.mkdir(parents=True)
    (method / "method.yaml").write_text(METHOD_YAML)
    (method / "main.py").write_text(METHOD_PY)
    env = {**os.environ, "WFC_PROJECT": str(root), "PYTHONPATH": str(REPO)}  # this checkout's code
    for i in range(SAMPLES):
        (root / f"s{i}.txt").write_text(f"sample {i}\n")
        subprocess.run(
            [*wfc, "sample", "add", f"s{i}", f"s{i}.txt"], cwd=root, env=env, check=True, capture_output=True
        )
    (root / "pipelines" / "load.json").write_text(json.dumps(pipeline(), indent=2) + "\n")
    return env


def static_page(folder: Path) -> None:
    """The baseline: 200 plain divs laid out like a graph, no script."""
    divs = "".join(
        f'<div data-node-id="n{i}" style="position:absolute;left:{(i % 20) * 60}px;top:{(i // 20) * 70}px;'
        f'width:50px;height:40px;border:1px solid #888">n{i}</div>'
        for i in range(NODES)
    )
    (folder / "index.html").write_text(f"<!doctype html><html><body>{divs}</body></html>")


def serve_folder(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/index.html"


def time_open(browser: Browser, url: str) -> float:
    """Seconds from navigation to all 200 nodes in the DOM, in a fresh context (cold cache)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_function(ALL_DRAWN, arg=NODES, timeout=120_000)
    elapsed = time.perf_counter() - start
    context.close()
    return elapsed


def time_live_run(browser: Browser, url: str) -> tuple[float, int]:
    """Seconds from the Run click to every method node ``cached``; and the step rows then shown."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(url)
    page.wait_for_function(ALL_DRAWN, arg=NODES, timeout=120_000)
    run = page.get_by_role("button", name="Run", exact=True)
    start = time.perf_counter()
    run.click()
    page.wait_for_function(ALL_CACHED, arg=NODES - 1, timeout=600_000)
    elapsed = time.perf_counter() - start
    rows = page.locator('[data-step][data-status="cached"]').count()
    context.close()
    return elapsed, rows


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=5)
    reps = parser.parse_args().reps
    root = Path(tempfile.mkdtemp(prefix="wfc-bench-canvas-"))
    wfc = [sys.executable, "-m", "wfc"]
    env = make_project(root / "proj", wfc)
    proj = root / "proj"
    run_argv = [*wfc, "run-pipeline", "pipelines/load.json", "--cores", "2"]
    steps = (NODES - 1) * SAMPLES
    print(f"filling the cache: {steps} steps with the process runtime …", flush=True)
    fill = timed(run_argv, env, proj)
    static = root / "static"
    static.mkdir()
    static_page(static)
    http_server, static_url = serve_folder(static)
    url, _token, server = start_canvas(proj, "pipelines/load.json")
    samples: dict[str, list[float]] = {
        "canvas_open": [],
        "static_open": [],
        "cli_rerun": [],
        "canvas_rerun": [],
    }
    rows: list[int] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            time_open(browser, static_url), time_open(browser, url)  # warm-up: disk cache, JIT
            for _ in range(reps):  # interleaved, so that drift hits every case alike
                samples["static_open"].append(time_open(browser, static_url))
                samples["canvas_open"].append(time_open(browser, url))
            for _ in range(max(2, reps // 2)):
                samples["cli_rerun"].append(timed(run_argv, env, proj))
                elapsed, shown = time_live_run(browser, url)
                samples["canvas_rerun"].append(elapsed)
                rows.append(shown)
            browser.close()
    finally:
        if server.poll() is None:
            os.kill(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        http_server.shutdown()

    med = {k: statistics.median(v) for k, v in samples.items()}
    open_ratio = med["canvas_open"] / med["static_open"]
    run_ratio = med["canvas_rerun"] / med["cli_rerun"]
    print(f"pipeline: {NODES} nodes, {steps} steps; filling the cache took {fill:.1f} s")
    for name, value in med.items():
        print(f"{name:14} median {value * 1000:8.1f} ms  (n={len(samples[name])})")
    print(f"(1) open: canvas/static   = {open_ratio:.2f}")
    print(f"(2) live rerun: canvas/CLI = {run_ratio:.2f}   (step rows shown as cached: {max(rows)})")

    results = REPO / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "canvas_load.json").write_text(
        json.dumps(
            {
                "schema": "wfc.bench.canvas-load/1",
                "nodes": NODES,
                "steps": steps,
                "reps": reps,
                "fill_seconds": fill,
                "median_seconds": med,
                "samples_seconds": samples,
                "step_rows_shown": rows,
                "ratios": {"open_canvas_over_static": open_ratio, "rerun_canvas_over_cli": run_ratio},
            },
            indent=2,
        )
        + "\n"
    )
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
