"""``run-pipeline --force`` and what a failed step's summary shows (issue 11, parts C and E)."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import Proj, chain, run_pipeline

pytestmark = pytest.mark.docker


def test_force_re_executes_a_node_and_early_cutoff_spares_the_rest(chained: Proj) -> None:
    first = run_pipeline(chained)
    assert {s["status"] for s in first["steps"]} == {"completed"}
    proc = chained.wfc("run-pipeline", "pipeline.json", "--cores", "2", "--force", "a", "--json", timeout=600)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    by = {s["name"]: s for s in doc["steps"]}
    assert [(by[n]["status"], by[n]["why"]) for n in ("a[s1]", "a[s2]")] == [("completed", "forced")] * 2
    assert {by[n]["status"] for n in ("b[s1]", "b[s2]")} == {"cached"}  # same bytes: nothing more runs


def test_force_all_and_an_unknown_node(chained: Proj) -> None:
    run_pipeline(chained)
    proc = chained.wfc("run-pipeline", "pipeline.json", "--force-all", "--json", timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert {s["why"] for s in json.loads(proc.stdout)["steps"]} == {"forced"}
    bad = chained.wfc("run-pipeline", "pipeline.json", "--force", "aa")
    assert bad.returncode == 2
    assert bad.stderr.splitlines()[-2:] == [
        "error: --force aa: no method node 'aa' (did you mean 'a'?)",
        "hint: method nodes: a, b",
    ]


def test_a_failed_step_shows_the_end_of_its_stderr_and_the_command_for_the_rest(chained: Proj) -> None:
    chained.write_pipeline(chain(a={"mode": "fail"}))
    proc = chained.wfc("run-pipeline", "pipeline.json", "--keep-going", timeout=600)
    assert proc.returncode == 1
    block = proc.stderr[proc.stderr.index("\nerror: step a[s1] failed") + 1 :].splitlines()[:6]
    run = re.search(r"wfc logs (r-\w+) --stderr", proc.stderr)
    assert run is not None
    assert block == [
        "error: step a[s1] failed: ValueError: the input is bad",
        "  the end of its stderr:",
        "  | Traceback (most recent call last):",
        "  |   ...",
        "  | ValueError: the input is bad",
        f"hint: see all of it with `wfc logs {run[1]} --stderr`",
    ]
    shown = chained.wfc("logs", run[1], "--stderr", check=True)
    assert "ValueError: the input is bad" in shown.stdout
