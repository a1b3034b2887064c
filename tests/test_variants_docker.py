"""Variants, sweeps, overrides and variables through plan and run-step, in real containers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Proj

pytestmark = pytest.mark.docker


def _sweep_doc() -> dict[str, Any]:
    return {
        "version": 1,
        "name": "sweep",
        "variables": {"token": {"type": "str", "default": "-"}},
        "nodes": [
            {"id": "data", "samples": ["s1", "s2"]},
            {"id": "prep", "method": "t/probe", "params": {"token": {"$var": "token"}}},
            {"id": "fit", "method": "t/probe", "sweep": {"k": [2, 5]}, "overrides": {"s2": {"k": 9}}},
        ],
        "links": [{"from": "data", "to": "prep.data"}, {"from": "prep", "to": "fit.data"}],
    }


def _plan(proj: Proj, *extra: str, env: dict[str, str] | None = None) -> dict[str, tuple[str, str]]:
    doc = json.loads(proj.wfc("plan", "pipeline.json", "--json", *extra, env=env, check=True).stdout)
    return {s["name"]: (s["status"], s["reason"]) for s in doc["steps"]}


def test_sweep_runs_upstream_once_per_sample_and_overrides_dedupe(probe_project: Proj) -> None:
    probe_project.write_pipeline(_sweep_doc())
    before = _plan(probe_project)
    assert list(before) == [
        "prep[s1]",
        "prep[s2]",
        "fit[s1|k=2]",
        "fit[s1|k=5]",
        "fit[s2|k=2]",
        "fit[s2|k=5]",
    ]
    assert before["prep[s1]"] == ("will run", "no earlier run with this key")
    assert before["fit[s1|k=2]"] == ("will run", "after its upstream steps run (prep[s1])")

    for sample in ("s1", "s2"):
        assert probe_project.run_step("prep", "--sample", sample)["status"] == "completed"
    statuses = {}
    for sample in ("s1", "s2"):
        for k in ("k=2", "k=5"):
            doc = probe_project.run_step("fit", "--sample", sample, "--variant", k)
            statuses[doc["name"]] = doc["status"]
    # s2 overrides k to 9 at both sweep points: one key, executed once, the other cached
    assert statuses == {
        "fit[s1|k=2]": "completed",
        "fit[s1|k=5]": "completed",
        "fit[s2|k=2]": "completed",
        "fit[s2|k=5]": "cached",
    }
    params = dict(probe_project.rows("SELECT variant, params FROM runs WHERE node_id='fit' AND sample='s1'"))
    assert {v: json.loads(p)["k"] for v, p in params.items()} == {"k=2": 2, "k=5": 5}
    assert probe_project.rows("SELECT count(*) FROM runs WHERE node_id='prep'") == [(2,)]  # once per sample
    after = _plan(probe_project)
    assert {status for status, _ in after.values()} == {"cached"}


def test_variables_from_env_and_cli_reach_the_key(probe_project: Proj) -> None:
    probe_project.write_pipeline(_sweep_doc())
    default = probe_project.run_step("prep", "--sample", "s1")
    from_env = probe_project.run_step("prep", "--sample", "s1", env={"WFC_VAR_TOKEN": "x"})
    from_cli = probe_project.run_step(
        "prep", "--sample", "s1", "--var", "token=x", env={"WFC_VAR_TOKEN": "y"}
    )
    assert default["key"] != from_env["key"] == from_cli["key"]
    assert from_cli["status"] == "cached"
    assert _plan(probe_project, "--var", "token=x")["prep[s1]"][0] == "cached"
