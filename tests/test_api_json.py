"""Every ``--json`` of the CLI is an API value through ``api.to_json``: on the example pipeline,
run once, the CLI's documents equal those the API gives in-process for the same arguments."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Proj, add_examples, wfc_json
from wfc import api
from wfc.output import json_text
from wfc.project import Project

pytestmark = pytest.mark.docker

PIPELINE = "examples/pipelines/quickstart.json"


@pytest.fixture(scope="module")
def ran(docker_engine: None, built_envs: Path, tmp_path_factory: pytest.TempPathFactory) -> Proj:
    """The example project with the quick-start pipeline run once (every step executed)."""
    proj = Proj(tmp_path_factory.mktemp("api-json") / "proj")
    proj.wfc("init", str(proj.root), check=True)
    shutil.copytree(built_envs, proj.root / "environments", dirs_exist_ok=True)
    add_examples(proj)
    assert wfc_json(proj, "run-pipeline", PIPELINE, "--cores", "2", timeout=600)["status"] == "completed"
    return proj


@pytest.fixture
def here(ran: Proj, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The project opened in-process, in its root as the CLI runs (document paths are relative)."""
    monkeypatch.chdir(ran.root)
    return api.open_project(ran.root)


def _api(value: object) -> Any:
    return json.loads(json_text(api.to_json(value)))


def test_plan_is_the_api_plan(ran: Proj, here: Project) -> None:
    doc = wfc_json(ran, "plan", PIPELINE)
    assert doc["schema"] == "wfc.plan/1" and {s["status"] for s in doc["steps"]} == {"cached"}
    assert doc == _api(api.plan(here, PIPELINE))
    sweep = "examples/pipelines/sweep.json"
    with_var = wfc_json(ran, "plan", sweep, "--var", "title=Regional")
    assert with_var == _api(api.plan(here, sweep, {"title": "Regional"}))


def test_why_and_plan_explain_are_the_api_why(ran: Proj, here: Project) -> None:
    doc = wfc_json(ran, "why", PIPELINE, "--node", "clean", "--sample", "north")
    assert doc["schema"] == "wfc.why/1" and [s["step"] for s in doc["steps"]] == ["clean[north]"]
    assert doc == _api(api.why(here, PIPELINE, node="clean", sample="north"))
    assert wfc_json(ran, "plan", PIPELINE, "--explain") == _api(api.why(here, PIPELINE))


def test_runs_and_show_are_the_api_values(ran: Proj, here: Project) -> None:
    runs = wfc_json(ran, "runs")
    assert runs["schema"] == "wfc.runs/1" and runs["pipeline_runs"]
    assert runs == _api(api.runs(here))
    first = runs["pipeline_runs"][-1]
    assert wfc_json(ran, "runs", first["id"][:10]) == _api(api.runs(here, pipeline_run=first["id"][:10]))
    assert wfc_json(ran, "runs", "--node", "clean") == _api(api.runs(here, node="clean"))

    step = next(s for s in first["steps"] if s["step"] == "report")
    shown = wfc_json(ran, "show", step["id"])
    assert shown["schema"] == "wfc.show/1" and shown["status"] == "completed"
    assert shown == _api(api.show(here, step["id"]))


def test_run_pipeline_is_the_api_outcome(ran: Proj, here: Project) -> None:
    cli = wfc_json(ran, "run-pipeline", PIPELINE, "--cores", "2", timeout=600)
    lib = _api(api.run_pipeline(here, PIPELINE, cores=2))
    assert cli["schema"] == "wfc.run-pipeline/1" and cli["counts"]["cached"] == 5
    assert _normal(cli) == _normal(lib)
    assert cli["pipeline_run"] != lib["pipeline_run"]


def _normal(doc: dict[str, Any]) -> dict[str, Any]:
    """A run-pipeline document without what differs between two runs: ids and times."""
    text = json.dumps({**doc, "seconds": 0}).replace(doc["pipeline_run"], "<pipeline run>")
    for i, step in enumerate(doc["steps"]):
        text = text.replace(step["run_id"], f"<run {i}>")
    normal: dict[str, Any] = json.loads(text)
    return normal


def test_care_commands_print_api_values(ran: Proj, here: Project) -> None:
    assert wfc_json(ran, "cache", "gc", "--dry-run") == _api(api.cache_gc(here, dry_run=True))
    assert wfc_json(ran, "cache", "verify") == _api(api.cache_verify(here))
    problems = tuple(api.validate(here, PIPELINE))
    assert wfc_json(ran, "validate", PIPELINE) == _api(api.Validation(PIPELINE, problems))
