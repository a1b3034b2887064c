"""The DVC backend with the real ``dvc repro`` on a clean checkout (no .wfc/): it runs, a second
repro runs nothing, one param change re-runs exactly that stage and its descendants, and the
outputs are those ``wfc run-pipeline`` makes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Proj, add_examples

pytestmark = pytest.mark.docker
DOC = "examples/pipelines/quickstart.json"


def dvc(proj: Proj, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in proj.env().items() if k != "WFC_PROJECT"}
    proc = subprocess.run(
        ["dvc", *args],
        cwd=cwd or proj.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def ran(output: str) -> list[str]:
    return sorted(re.findall(r"Running stage '([^']+)'", output))


def test_dvc_repro_from_a_clean_checkout(project: Proj, built_envs: Path, tmp_path: Path) -> None:
    shutil.copytree(built_envs, project.root / "environments", dirs_exist_ok=True)
    add_examples(project)
    project.wfc("compile", DOC, "--backend", "dvc", "-o", ".", check=True)
    checkout = Proj(tmp_path / "checkout")  # what a clone holds: no .wfc/ database or store
    shutil.copytree(project.root, checkout.root, ignore=shutil.ignore_patterns(".wfc"))
    dvc(checkout, "init", "--no-scm", "-q")

    first = dvc(checkout, "repro")
    assert ran(first.stdout) == ["clean-east", "clean-north", "clean-south", "report", "summarise"]
    manifests = {p.stem: json.loads(p.read_text()) for p in (checkout.root / "wfc-dvc").glob("*.json")}
    assert set(manifests) == {"clean-east", "clean-north", "clean-south", "report", "summarise"}

    second = dvc(checkout, "repro")
    assert ran(second.stdout) == [] and "up to date" in second.stdout
    assert pipeline_runs(checkout) == [("quickstart", "completed", 5)]  # one repro, one pipeline run

    pipeline = json.loads((checkout.root / DOC).read_text())
    next(n for n in pipeline["nodes"] if n["id"] == "report")["params"]["title"] = "Sales by region"
    (checkout.root / DOC).write_text(json.dumps(pipeline))
    checkout.wfc("compile", DOC, "--backend", "dvc", "-o", ".", check=True)
    third = dvc(checkout, "repro")
    assert ran(third.stdout) == ["report"]
    assert pipeline_runs(checkout) == [("quickstart", "completed", 5), ("quickstart", "completed", 1)]

    # the same outputs as run-pipeline: it finds every step of the edited pipeline in the cache
    result = json.loads(checkout.wfc("run-pipeline", DOC, "--json", check=True, timeout=600).stdout)
    assert {s["status"] for s in result["steps"]} == {"cached"}
    report = json.loads((checkout.root / "wfc-dvc" / "report.json").read_text())
    shown = json.loads(checkout.wfc("show", "last:report", "--json", check=True).stdout)
    assert report["outputs"]["report"]["hash"] == shown["outputs"][0]["hash"]


def pipeline_runs(proj: Proj) -> list[tuple[str, str, int]]:
    """(name, status, steps) of each pipeline run, oldest first."""
    return proj.rows(
        "SELECT p.name, p.status, COUNT(*) FROM runs r JOIN pipeline_runs p ON p.id = r.pipeline_run_id"
        " GROUP BY p.id ORDER BY p.started_at"
    )


def test_dvc_files_written_outside_the_project_root_run_from_there(project: Proj, built_envs: Path) -> None:
    shutil.copytree(built_envs, project.root / "environments", dirs_exist_ok=True)
    add_examples(project)
    project.wfc("compile", DOC, "--backend", "dvc", "-o", "dvc", check=True)
    stages = (project.root / "dvc" / "dvc.yaml").read_text()
    assert "wfc run-step ../examples/pipelines/quickstart.json --node=report --project .." in stages
    assert "- ../environments/shell/env.lock.json" in stages
    dvc(project, "init", "--no-scm", "-q")
    first = dvc(project, "repro", cwd=project.root / "dvc")
    assert ran(first.stdout) == ["clean-east", "clean-north", "clean-south", "report", "summarise"]
    assert sorted(p.name for p in (project.root / "dvc" / "wfc-dvc").glob("*.json"))[0] == "clean-east.json"
    assert pipeline_runs(project) == [("quickstart", "completed", 5)]
