"""Mistakes are caught before Snakemake starts, in ``wfc validate``'s words (issue 11, part B).

``run-pipeline`` refuses a document with any problem ``validate`` finds (exit 2, nothing recorded);
``run-step``, ``run-pipeline`` and ``plan`` list every schema problem of a document; ``validate``
checks environments, reports cycles in any shape, warns about an ungathered ``multiple`` slot,
and puts unknown fields first with a did-you-mean. No Docker: ``fake_env`` has a lock, no image.
"""

from __future__ import annotations

import json
import shutil
from typing import Any

from tests.conftest import FIXTURES, Proj, probe_pipeline


def _nothing_recorded(proj: Proj) -> None:
    assert proj.rows("SELECT count(*) FROM pipeline_runs") == [(0,)]
    assert proj.rows("SELECT count(*) FROM runs") == [(0,)]


def test_run_pipeline_refuses_an_unknown_sample_as_validate_does(fake_env: Proj) -> None:
    fake_env.write_pipeline(probe_pipeline(samples=["s1", "s5"]))
    expected = [
        "error: pipeline.json: nodes[0].samples: unknown sample 's5'",
        "hint: register it with `wfc sample add s5 PATH`",
    ]
    checked = fake_env.wfc("validate", "pipeline.json")
    assert (checked.returncode, checked.stderr.splitlines()) == (2, expected)
    ran = fake_env.wfc("run-pipeline", "pipeline.json")
    assert (ran.returncode, ran.stderr.splitlines()) == (2, expected)
    assert "Snakemake" not in ran.stderr
    _nothing_recorded(fake_env)


def _broken() -> dict[str, Any]:
    doc = probe_pipeline(samples=["s1", "s5"])
    doc["nodes"][1]["params"] = {"k": "five"}
    doc["nodes"].append({"id": "ghost", "method": "t/nothing"})
    return doc


def test_run_pipeline_lists_every_problem_and_records_nothing(fake_env: Proj) -> None:
    fake_env.write_pipeline(_broken())
    ran = fake_env.wfc("run-pipeline", "pipeline.json")
    assert ran.returncode == 2
    assert ran.stderr.splitlines() == [
        "error: pipeline.json has 3 problems:",
        "  nodes[0].samples: unknown sample 's5'",
        "    hint: register it with `wfc sample add s5 PATH`",
        '  nodes[probe].params.k: expected int, got "five"',
        "    hint: fix the value in the pipeline document",
        "  nodes[2].method: unknown method 't/nothing': methods/t/nothing/method.yaml does not exist",
        '    hint: create it, or fix the node\'s "method" (known: t/probe)',
    ]
    doc = json.loads(fake_env.wfc("run-pipeline", "pipeline.json", "--json").stdout)
    assert doc["exit_code"] == 2
    assert doc["error"] == "\n".join(line for line in ran.stderr.splitlines()).removeprefix("error: ")
    _nothing_recorded(fake_env)


def test_more_than_ten_problems_are_counted(fake_env: Proj) -> None:
    fake_env.write_pipeline(probe_pipeline(samples=["s1", *(f"x{i}" for i in range(12))]))
    ran = fake_env.wfc("run-pipeline", "pipeline.json")
    lines = ran.stderr.splitlines()
    assert (ran.returncode, lines[0]) == (2, "error: pipeline.json has 12 problems:")
    assert lines[-2:] == [
        "  and 2 more problems",
        "hint: `wfc validate pipeline.json` lists every problem",
    ]


def test_run_step_lists_every_schema_problem_unknown_fields_first(fake_env: Proj) -> None:
    doc = probe_pipeline()
    doc["linkz"] = doc.pop("links")
    doc["nodes"][1]["parms"] = {}
    del doc["name"]
    fake_env.write_pipeline(doc)
    problems = [
        "  nodes[1].parms: unknown field (did you mean 'params'?)",
        "    hint: see docs/pipelines.md for the document format",
        "  linkz: unknown field (did you mean 'links'?)",
        "    hint: see docs/pipelines.md for the document format",
        "  name: required field is missing",
        "    hint: see docs/pipelines.md for the document format",
    ]
    for command in (["run-step", "pipeline.json", "--node", "probe"], ["run-pipeline", "pipeline.json"]):
        proc = fake_env.wfc(*command)
        assert proc.returncode == 2
        assert proc.stderr.splitlines() == ["error: pipeline.json has 3 problems:", *problems]
    checked = fake_env.wfc("validate", "pipeline.json")
    assert checked.stderr.splitlines()[:2] == [
        "error: pipeline.json: nodes[1].parms: unknown field (did you mean 'params'?)",
        "hint: see docs/pipelines.md for the document format",
    ]
    _nothing_recorded(fake_env)


CYCLE = {
    "version": 1,
    "name": "loop",
    "nodes": [
        {"id": "data", "samples": ["s1"]},
        {"id": "x", "method": "t/probe"},
        {"id": "y", "method": "t/probe"},
        {"id": "after", "method": "t/probe"},
    ],
    "links": [
        {"from": "data", "to": "x"},
        {"from": "x", "to": "y"},
        {"from": "y", "to": "x"},
        {"from": "y", "to": "after"},
    ],
}


def test_a_cycle_through_a_sample_fed_node_is_a_clean_error(fake_env: Proj) -> None:
    fake_env.write_pipeline(CYCLE)
    expected = [
        "error: pipeline.json: links form a cycle: x -> y -> x",
        "hint: see docs/pipelines.md for the document format",
    ]
    for command in (["validate"], ["plan"], ["run-pipeline"]):
        proc = fake_env.wfc(*command, "pipeline.json")
        assert (proc.returncode, proc.stderr.splitlines()) == (2, expected), command
    _nothing_recorded(fake_env)


def test_a_missing_environment_is_an_error_and_an_unbuilt_one_a_warning(fake_env: Proj) -> None:
    fake_env.write_pipeline(probe_pipeline(samples=["s1"]))
    spec = fake_env.root / "methods/t/probe/method.yaml"
    spec.write_text(spec.read_text().replace("env: python", "env: pyton"))
    proc = fake_env.wfc("validate", "pipeline.json")
    assert (proc.returncode, proc.stderr.splitlines()) == (
        2,
        [
            "error: pipeline.json: nodes[1].method: environment 'pyton' of method 't/probe' does not exist: "
            "no environments/pyton/Dockerfile (did you mean 'python'?)",
            "hint: create environments/pyton/Dockerfile, then run `wfc env build pyton` "
            "(environments are: python)",
        ],
    )
    ran = fake_env.wfc("run-pipeline", "pipeline.json")
    assert ran.returncode == 2 and ran.stderr.splitlines()[0] == proc.stderr.splitlines()[0]
    spec.write_text(spec.read_text().replace("env: pyton", "env: python"))
    (fake_env.root / "environments/python/env.lock.json").unlink()
    proc = fake_env.wfc("validate", "pipeline.json")
    assert (proc.returncode, proc.stderr.splitlines()) == (
        0,
        [
            "warning: pipeline.json: nodes[1].method: environment 'python' is not built",
            "hint: run `wfc env build python`",
            "pipeline.json is valid (1 warning)",
        ],
    )
    _nothing_recorded(fake_env)


def test_a_multiple_slot_fed_per_sample_without_gather_warns(fake_env: Proj) -> None:
    shutil.copytree(FIXTURES / "methods/t/gather", fake_env.root / "methods/t/gather")
    doc = probe_pipeline(samples=["s1"])
    doc["nodes"].append({"id": "all", "method": "t/gather"})
    doc["links"].append({"from": "probe", "to": "all"})
    fake_env.write_pipeline(doc)
    proc = fake_env.wfc("validate", "pipeline.json")
    assert (proc.returncode, proc.stderr.splitlines()) == (
        0,
        [
            "warning: pipeline.json: links[1]: 'all.data' takes several files (multiple: true) but 'probe' "
            "runs once per sample: 'all' will run once per sample, on one file each",
            'hint: to give one step the files of every sample, add "gather": true to links[1]',
            "pipeline.json is valid (1 warning)",
        ],
    )
    doc["links"][1]["gather"] = True
    fake_env.write_pipeline(doc)
    gathered = fake_env.wfc("validate", "pipeline.json")
    assert (gathered.returncode, gathered.stderr.splitlines()) == (0, ["pipeline.json is valid"])


def test_unknown_fields_of_method_yaml_come_first_with_did_you_mean(fake_env: Proj) -> None:
    spec = fake_env.root / "methods/t/probe/method.yaml"
    original = spec.read_text()
    spec.write_text(original.replace("env: python", "envv: python"))
    proc = fake_env.wfc("run-step", "pipeline.json", "--node", "probe", "--sample", "s1")
    assert (proc.returncode, proc.stderr.splitlines()) == (
        2,
        [
            "error: methods/t/probe/method.yaml: envv: unknown field (did you mean 'env'?)",
            "hint: see docs/methods.md for the method.yaml fields",
        ],
    )
    spec.write_text(original.replace("outputs:", "output:").replace("params:", "parms:"))
    proc = fake_env.wfc("run-step", "pipeline.json", "--node", "probe", "--sample", "s1")
    assert proc.stderr.splitlines()[0] == (
        "error: methods/t/probe/method.yaml: output: unknown field (did you mean 'outputs'?) "
        "(and 1 more problem)"
    )
