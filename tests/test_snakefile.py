"""The Snakemake backend: golden text, determinism across processes, quoting, plain snakemake."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Proj, add_environment_sources, add_examples

GOLDEN = Path(__file__).parent / "golden"


def _compile(proj: Proj, doc: str, seed: str = "0") -> str:
    env = {"PYTHONHASHSEED": seed}
    return proj.wfc("compile", doc, "--backend", "snakemake", env=env, check=True).stdout


@pytest.fixture
def examples(project: Proj) -> Proj:
    """What compile needs (it validates first): the examples, their samples, their environments."""
    return add_environment_sources(add_examples(project))


@pytest.mark.parametrize("name", ["quickstart", "sweep", "branches"])
def test_golden_snakefiles(examples: Proj, name: str) -> None:
    text = _compile(examples, f"examples/pipelines/{name}.json")
    golden = GOLDEN / f"{name}.Snakefile"
    if os.environ.get("WFC_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_output_is_identical_across_fresh_processes(examples: Proj) -> None:
    texts = {_compile(examples, "examples/pipelines/sweep.json", seed) for seed in ("1", "2", "3")}
    assert len(texts) == 1
    assert str(examples.root) not in texts.pop()  # relative paths only


def test_odd_names_are_quoted_and_run_with_plain_snakemake(probe_project: Proj) -> None:
    odd = ["sample one", 'o\'brien "q"', "naïve-ß"]
    for i, name in enumerate(odd):
        (probe_project.root / f"odd{i}.txt").write_text(f"{i}\n")
        probe_project.wfc("sample", "add", name, f"odd{i}.txt", check=True)
    doc_dir = probe_project.root / "my pipelines"
    doc_dir.mkdir()
    (doc_dir / "odd.json").write_text(
        json.dumps(
            {
                "version": 1,
                "name": "odd names",
                "nodes": [
                    {"id": "data", "samples": odd},
                    {"id": "étape-1", "method": "t/probe", "sweep": {"token": ["a b", "c'd"]}},
                ],
                "links": [{"from": "data", "to": "étape-1.data"}],
            },
            ensure_ascii=False,
        )
    )
    snakefile = probe_project.root / "Snakefile"
    probe_project.wfc("compile", "my pipelines/odd.json", "-o", str(snakefile), check=True)
    config = ["wfc_command=" + json.dumps([sys.executable, "-m", "wfc"])]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(snakefile),
            "--cores",
            "2",
            "--config",
            *config,
        ],
        cwd=probe_project.root,
        env=probe_project.env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = probe_project.rows("SELECT sample, variant, status FROM runs ORDER BY sample, variant")
    assert rows == sorted((s, f"token={t}", "completed") for s in odd for t in ("a b", "c'd"))
    # one invocation of plain snakemake is one pipeline run, settled by its last step
    runs = probe_project.rows(
        "SELECT p.name, p.status, COUNT(*) FROM runs r"
        " JOIN pipeline_runs p ON p.id = r.pipeline_run_id GROUP BY p.id"
    )
    assert runs == [("odd names", "completed", 6)]
