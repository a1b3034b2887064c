"""Hostile input (issue 13, defects 3-7): a pipeline name never reaches a path outside the project
or Snakemake's wildcard syntax, node ids never read as options and have a length limit, sample
names too, a ``${…}`` in a sample name reaches the step unchanged through ``dvc repro``, and
documents that would eat memory or the stack (YAML alias bombs, 100,000-deep JSON) are usage errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Proj, plain_snakemake, probe_pipeline

LONG = "é" * 51  # 102 bytes in UTF-8: over the 100-byte limit of names


def _err(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return proc.stderr.strip().splitlines()


@pytest.mark.docker
@pytest.mark.parametrize("kind", ["traversal", "wildcards"])
def test_a_pipeline_name_stays_one_safe_directory_under_the_project(
    probe_project: Proj, tmp_path: Path, kind: str
) -> None:
    outside = Path("/tmp") / f"wfc-escape-{tmp_path.parent.name}-{kind}"  # where ../ would lead
    name = {"traversal": "../" * 12 + str(outside).lstrip("/"), "wildcards": "{sample} {x,y}"}[kind]
    probe_project.write_pipeline({**probe_pipeline(samples=["s1"]), "name": name})

    probe_project.wfc("compile", "pipeline.json", "-o", "Snakefile", check=True)
    proc = plain_snakemake(probe_project)  # as a user would run the compiled file
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not outside.exists()
    markers = [p for p in (probe_project.root / ".wfc" / "markers").iterdir()]
    assert len(markers) == 1 and markers[0].name.startswith({"traversal": "tmp", "wildcards": "sample"}[kind])
    assert probe_project.rows(
        "SELECT p.name, r.status FROM runs r JOIN pipeline_runs p ON p.id = r.pipeline_run_id"
    ) == [(name, "completed")]

    ran = probe_project.wfc("run-pipeline", "pipeline.json", "--json", timeout=600)  # and through wfc
    assert ran.returncode == 0, ran.stderr
    assert not outside.exists()


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (
            {"id": "--help"},
            "nodes[1].id",
            "node id '--help' may use only letters, digits, '_' and '-', and may not start with '-'",
        ),
        ({"id": LONG}, "nodes[1].id", "node id is 102 bytes long; the limit is 100 bytes (UTF-8)"),
        (
            {"variants": {"-x": {}}},
            "nodes[1]",
            "variant name '-x' must be non-empty, free of , | = : [ ] and not start with '-'",
        ),
    ],
)
def test_node_ids_and_variants_that_could_break_a_command_are_refused(
    fake_env: Proj, change: dict[str, object], path: str, message: str
) -> None:
    doc = probe_pipeline(samples=["s1"])
    doc["nodes"][1] = {**doc["nodes"][1], **change}
    if "id" in change:
        doc["links"] = [{"from": "data", "to": f"{change['id']}.data"}]
    fake_env.write_pipeline(doc)
    proc = fake_env.wfc("validate", "pipeline.json", "--json")
    assert proc.returncode == 2
    problems = [(p["path"], p["message"]) for p in json.loads(proc.stdout)["problems"]]
    assert (path, message) in problems


def test_pipeline_and_sample_names_have_a_length_limit(fake_env: Proj) -> None:
    fake_env.write_pipeline({**probe_pipeline(samples=["s1"]), "name": LONG})
    proc = fake_env.wfc("validate", "pipeline.json", "--json")
    problems = [(p["path"], p["message"]) for p in json.loads(proc.stdout)["problems"]]
    assert problems == [("name", "pipeline name is 102 bytes long; the limit is 100 bytes (UTF-8)")]

    proc = fake_env.wfc("sample", "add", LONG, "s1.txt")
    assert proc.returncode == 2
    assert _err(proc) == [
        f"error: bad sample name '{LONG}': no '/', '@' or control characters, no leading '-', '.' or space, "
        "at most 100 bytes",
        "hint: for example: wfc sample add patient_01 data/p01.csv",
    ]


@pytest.mark.docker
def test_dvc_passes_a_dollar_brace_sample_name_through_unchanged(probe_project: Proj) -> None:
    hostile = "s${HOME}"
    probe_project.wfc("sample", "add", hostile, "s1.txt", check=True)
    probe_project.write_pipeline(probe_pipeline({"token": "t${HOME}"}, samples=[hostile]))
    probe_project.wfc("compile", "pipeline.json", "--backend", "dvc", "-o", ".", check=True)
    assert "${HOME}" not in (probe_project.root / "dvc.yaml").read_text()  # nothing DVC would substitute
    env = {k: v for k, v in probe_project.env().items() if k != "WFC_PROJECT"}
    for argv in (["dvc", "init", "--no-scm", "-q"], ["dvc", "repro"]):
        proc = subprocess.run(
            argv, cwd=probe_project.root, env=env, capture_output=True, text=True, timeout=600, check=False
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert probe_project.rows("SELECT sample, status FROM runs") == [(hostile, "completed")]
    (params,) = probe_project.rows("SELECT params FROM runs")[0]
    assert json.loads(params)["token"] == "t${HOME}"  # params.yaml is data: DVC substitutes nothing in it


def _bomb(levels: int = 9) -> str:
    """A "billion laughs" YAML mapping: each level repeats the one before ten times."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_in_a_method_is_a_usage_error(fake_env: Proj) -> None:
    spec = fake_env.root / "methods" / "t" / "probe" / "method.yaml"
    spec.write_text(spec.read_text() + _bomb())
    proc = fake_env.wfc("run-step", "pipeline.json", "--node", "probe", "--sample", "s1", timeout=60)
    assert proc.returncode == 2
    assert _err(proc) == [
        "error: methods/t/probe/method.yaml: expands to more than 500,000 values (repeated YAML aliases?)",
        "hint: write the values out instead of nesting aliases, or split the document",
    ]


def test_a_values_file_bomb_and_a_deep_document_are_usage_errors(fake_env: Proj) -> None:
    (fake_env.root / "values.yaml").write_text(_bomb())
    proc = fake_env.wfc("compile", "pipeline.json", "--backend", "argo", "-f", "values.yaml", timeout=60)
    assert proc.returncode == 2
    assert _err(proc)[0] == "error: values.yaml: expands to more than 500,000 values (repeated YAML aliases?)"

    (fake_env.root / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    for command in ("validate", "run-pipeline", "compile"):
        proc = fake_env.wfc(command, "deep.json", timeout=60)
        assert proc.returncode == 2, (command, proc.stderr)
        assert "deep.json: nested more than 64 levels deep" in proc.stdout + proc.stderr, command
        assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("backend", ["snakemake", "argo", "dvc"])
def test_compile_refuses_what_validate_refuses(fake_env: Proj, backend: str) -> None:
    fake_env.write_pipeline(probe_pipeline(samples=["s1", "nope"]))
    validate = fake_env.wfc("validate", "pipeline.json")
    proc = fake_env.wfc("compile", "pipeline.json", "--backend", backend, "-o", "out")
    assert (validate.returncode, proc.returncode) == (2, 2)
    assert "nodes[0].samples: unknown sample 'nope'" in validate.stdout + validate.stderr
    assert "nodes[0].samples: unknown sample 'nope'" in proc.stderr
    assert not (fake_env.root / "out").exists()


def test_params_too_large_for_an_environment_variable_are_refused_up_front(fake_env: Proj) -> None:
    fake_env.write_pipeline(probe_pipeline({"token": "x" * 70_000}, samples=["s1"]))
    message = (
        "nodes[probe].params: the params are 70,049 bytes as JSON (largest: token); the limit is 64 KiB, "
        "as they reach the method in an environment variable"
    )
    hint = "hint: pass large data as an input (a sample or an upstream output), not as params.token"
    proc = fake_env.wfc("run-step", "pipeline.json", "--node", "probe", "--sample", "s1")
    assert proc.returncode == 2
    assert _err(proc) == [f"error: {message}", hint]
    proc = fake_env.wfc("validate", "pipeline.json", "--json")
    assert message in [p["message"] for p in json.loads(proc.stdout)["problems"]]
