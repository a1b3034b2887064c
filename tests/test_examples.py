"""The shipped example methods and the quick-start pipeline, end to end in real containers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import Proj, add_examples

pytestmark = pytest.mark.docker

PIPELINE = "examples/pipelines/quickstart.json"
ORDER = [("clean", "east"), ("clean", "north"), ("clean", "south"), ("summarise", None), ("report", None)]


@pytest.fixture
def examples(project: Proj, built_envs: Path) -> Proj:
    """A project with the shipped methods, example pipelines, built environments and samples."""
    shutil.copytree(built_envs, project.root / "environments", dirs_exist_ok=True)
    return add_examples(project)


def test_quickstart_pipeline_executes_then_caches(examples: Proj) -> None:
    project = examples

    first = [_step(project, node, sample) for node, sample in ORDER]
    assert [d["status"] for d in first] == ["completed"] * 5
    report = _object(project, first[-1]["outputs"]["report"]["hash"])
    assert report.splitlines()[0] == "# Sales by product"
    assert "| widget | 62 | 151.85 |" in report and "Total revenue: 340.55" in report
    totals = json.loads(_object(project, first[3]["outputs"]["totals"]["hash"]))
    assert totals == {"revenue": 340.55, "rows": 12, "samples": ["east", "north", "south"], "units": 92}
    metrics = project.rows("SELECT metrics FROM runs WHERE node_id='summarise'")[0][0]
    assert json.loads(metrics) == {"revenue": 340.55, "rows": 12}  # logged through wfc_client

    second = [_step(project, node, sample) for node, sample in ORDER]
    assert [d["status"] for d in second] == ["cached"] * 5


def _step(project: Proj, node: str, sample: str | None, *extra: str) -> dict[str, object]:
    args = ["--sample", sample] if sample else []
    return project.run_step(node, *args, *extra, pipeline=PIPELINE)


def _object(project: Proj, digest: object) -> str:
    text = str(digest)
    return (project.root / ".wfc/store/objects" / text[7:9] / text[9:]).read_text()


def test_example_pipelines_run_with_run_pipeline(examples: Proj) -> None:
    project = examples
    runs = {}
    extra = {"sweep": ["--var", "title=Regional sales"]}
    for name in ("quickstart", "sweep", "branches"):
        doc = f"examples/pipelines/{name}.json"
        proc = project.wfc("run-pipeline", doc, "--cores", "2", "--json", *extra.get(name, []), timeout=600)
        assert proc.returncode == 0, proc.stderr
        runs[name] = {s["name"]: s["status"] for s in json.loads(proc.stdout)["steps"]}
    assert list(runs["sweep"]) == [  # sweep values keep the order the document gives
        "clean[east]",
        "clean[north]",
        "clean[south]",
        "summarise[|by=product]",
        "summarise[|by=region]",
        "summarise[|by=date]",
        "report[|by=product]",
        "report[|by=region]",
        "report[|by=date]",
    ]
    assert runs["sweep"]["clean[east]"] == "cached"  # made by the quickstart run
    assert runs["branches"] == {
        "clean[east]": "cached",
        "clean[north]": "cached",
        "clean[south]": "cached",
        "summarise": "cached",
        "report": "cached",
        "badge": "completed",
    }
    badge = project.rows(
        "SELECT o.content_hash FROM runs r JOIN run_outputs o ON o.run_id = r.id "
        "WHERE r.node_id = 'badge' AND r.status = 'completed'"
    )[0][0]
    assert _object(project, badge) == "total revenue: 340.55 from 3 samples\n"
