"""wfc validate reports every problem at once; wfc schema publishes the document's JSON Schema."""

from __future__ import annotations

import json
import shutil

from tests.conftest import REPO, Proj, add_examples, fake_lock


def _examples(project: Proj) -> Proj:
    """The shipped examples with their environments (a Dockerfile and a lock, no image: a fresh
    clone has no lock): validate checks that each method's environment exists and is built."""
    shutil.copytree(
        REPO / "environments",
        project.root / "environments",
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("env.lock.json"),
    )
    for env in (project.root / "environments").iterdir():
        fake_lock(env)
    return add_examples(project)


BAD = {
    "version": 1,
    "name": "bad",
    "nodes": [
        {"id": "regions", "samples": ["east", "nowhere"]},
        {
            "id": "clean",
            "method": "tables/clean",
            "params": {"drop_incomplet": True},
            "overrides": {"west": {}},
        },
        {"id": "sum", "method": "tables/summarise", "params": {"top": "many"}},
        {"id": "rep", "method": "text/report"},
        {"id": "ghost", "method": "tables/ghost"},
    ],
    "links": [
        {"from": "regions", "to": "clean.tables"},
        {"from": "clean.table", "to": "sum"},
        {"from": "sum", "to": "rep"},
    ],
}


def test_every_problem_is_reported_with_path_and_fix(project: Proj) -> None:
    _examples(project).write_pipeline(BAD, "bad.json")
    proc = project.wfc("validate", "bad.json")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "error: bad.json: nodes[0].samples: unknown sample 'nowhere'",
        "hint: register it with `wfc sample add nowhere PATH`",
        "error: bad.json: nodes[1].overrides.west: 'west' is not a sample of this node (did you mean 'east'?)",
        "hint: samples: east, nowhere",
        "error: bad.json: nodes[clean].params.drop_incomplet: unknown param (did you mean 'drop_incomplete'?)",
        "hint: this method's params are: delimiter, drop_incomplete",
        'error: bad.json: nodes[sum].params.top: expected int, got "many"',
        "hint: fix the value in the pipeline document",
        "error: bad.json: nodes[4].method: unknown method 'tables/ghost': methods/tables/ghost/method.yaml does not "
        "exist",
        'hint: create it, or fix the node\'s "method" (known: tables/clean, tables/summarise, text/badge, '
        "text/report)",
        "error: bad.json: links[0].to: 'clean' has no input slot tables (did you mean 'table'?)",
        'hint: write "to": "clean.SLOT" with one of: table',
        "error: bad.json: links[2].from: 'sum' has no output slot (none)",
        'hint: write "from": "sum.SLOT" with one of: summary, totals',
        "error: bad.json: nodes[1]: required input slot 'table' of 'clean' is not fed",
        'hint: add a link {"from": "...", "to": "clean.table"}',
        "warning: bad.json: links[1]: 'sum.table' takes several files (multiple: true) but 'clean' runs once "
        "per sample: 'sum' will run once per sample, on one file each",
        'hint: to give one step the files of every sample, add "gather": true to links[1]',
    ]


def test_schema_errors_are_all_listed_and_json_output(project: Proj) -> None:
    project.write_pipeline({"version": 2, "nodes": [{"id": "a b", "samples": []}]}, "s.json")
    doc = json.loads(project.wfc("validate", "s.json", "--json").stdout)
    assert doc["valid"] is False
    assert [(p["path"], p["message"]) for p in doc["problems"]] == [
        ("version", "Input should be 1"),
        ("name", "required field is missing"),
        (
            "nodes[0].id",
            "node id 'a b' may use only letters, digits, '_' and '-', and may not start with '-'",
        ),
        ("nodes[0].samples", "List should have at least 1 item after validation, not 0"),
    ]


def test_valid_document_and_type_mismatch_warning(project: Proj) -> None:
    _examples(project)
    ok = project.wfc("validate", "examples/pipelines/quickstart.json")
    assert ok.returncode == 0 and ok.stderr.strip() == "examples/pipelines/quickstart.json is valid"
    doc = json.loads((project.root / "examples/pipelines/branches.json").read_text())
    doc["links"][3]["from"] = "summarise.summary"  # a .csv into the json-typed totals slot
    project.write_pipeline(doc, "warn.json")
    warn = project.wfc("validate", "warn.json")
    assert warn.returncode == 0
    assert warn.stderr.splitlines() == [
        "warning: warn.json: links[3]: 'summarise.summary' makes .csv files but the input expects json",
        "hint: check the link; types are advisory",
        "warn.json is valid (1 warning)",
    ]


def test_schema_command(project: Proj) -> None:
    schema = json.loads(project.wfc("schema", "pipeline", check=True).stdout)
    assert schema["title"] == "Pipeline" and "nodes" in schema["properties"]
    bad = project.wfc("schema", "method")
    assert bad.returncode == 2 and bad.stderr.splitlines() == [
        "error: unknown schema 'method'",
        "hint: schemas: pipeline",
    ]
