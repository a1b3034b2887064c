"""Every user mistake is one line naming the problem, a hint with the fix, and exit code 2 (or 3)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Proj, probe_pipeline


def _err(proc_stderr: str) -> tuple[str, str]:
    lines = proc_stderr.strip().splitlines()
    assert len(lines) == 2, proc_stderr  # one error line and one hint line, no traceback
    return lines[0], lines[1]


def _step(
    proj: Proj, *args: str, node: str = "probe", env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    proc = proj.wfc("run-step", "pipeline.json", "--node", node, *args, env=env)
    error, hint = _err(proc.stderr)
    return proc.returncode, error, hint


def test_invalid_yaml_in_method_file(fake_env: Proj) -> None:
    (fake_env.root / "methods/t/probe/method.yaml").write_text("env: python\ninputs: [\n")
    assert _step(fake_env, "--sample", "s1") == (
        2,
        "error: methods/t/probe/method.yaml: invalid YAML at line 3",
        "hint: fix the YAML syntax",
    )


def test_unknown_field_in_method_file(fake_env: Proj) -> None:
    spec = fake_env.root / "methods/t/probe/method.yaml"
    spec.write_text(spec.read_text().replace("data: {required: false}", "data: {requird: false}"))
    assert _step(fake_env, "--sample", "s1") == (
        2,
        "error: methods/t/probe/method.yaml: inputs.data.requird: unknown field (did you mean 'required'?)",
        "hint: see docs/methods.md for the method.yaml fields",
    )


def test_bad_param_type_name_in_method_file(fake_env: Proj) -> None:
    spec = fake_env.root / "methods/t/probe/method.yaml"
    spec.write_text(spec.read_text().replace("k: {type: int, default: 1}", "k: {type: integer, default: 1}"))
    code, error, _ = _step(fake_env, "--sample", "s1")
    assert code == 2
    assert error == (
        "error: methods/t/probe/method.yaml: params.k.type: Input should be 'str', 'int', "
        "'float', 'bool', 'list' or 'dict'"
    )


def test_default_of_wrong_type_in_method_file(fake_env: Proj) -> None:
    spec = fake_env.root / "methods/t/probe/method.yaml"
    spec.write_text(spec.read_text().replace("k: {type: int, default: 1}", "k: {type: int, default: one}"))
    code, error, _ = _step(fake_env, "--sample", "s1")
    assert (code, error) == (
        2,
        'error: methods/t/probe/method.yaml: params.k.default: expected int, got "one"',
    )


def test_unknown_param(fake_env: Proj) -> None:
    fake_env.write_pipeline(probe_pipeline({"kk": 3}))
    assert _step(fake_env, "--sample", "s1") == (
        2,
        "error: nodes[probe].params.kk: unknown param (did you mean 'k'?)",
        "hint: this method's params are: k, mode, sleep, token",
    )


def test_mistyped_param(fake_env: Proj) -> None:
    fake_env.write_pipeline(probe_pipeline({"k": "five"}))
    assert _step(fake_env, "--sample", "s1") == (
        2,
        'error: nodes[probe].params.k: expected int, got "five"',
        "hint: fix the value in the pipeline document",
    )


def test_bool_is_not_an_int(fake_env: Proj) -> None:
    fake_env.write_pipeline(probe_pipeline({"k": True}))
    assert _step(fake_env, "--sample", "s1")[1] == "error: nodes[probe].params.k: expected int, got true"


def test_unknown_node(fake_env: Proj) -> None:
    assert _step(fake_env, "--sample", "s1", node="prob") == (
        2,
        "error: unknown node 'prob' in pipeline 'probe' (did you mean 'probe'?)",
        "hint: nodes are: data, probe",
    )


def test_missing_and_unknown_sample(fake_env: Proj) -> None:
    assert _step(fake_env) == (
        2,
        "error: node 'probe' runs once per sample: say which with --sample",
        "hint: samples: s1, s2",
    )
    assert (
        _step(fake_env, "--sample", "s11")[1]
        == "error: node 'probe' has no sample 's11' (did you mean 's1'?)"
    )
    assert _step(fake_env, "--sample", "s2") == (
        2,
        "error: unknown sample 's2'",
        "hint: register it with `wfc sample add s2 PATH`",
    )


def test_upstream_step_not_run_is_named(fake_env: Proj) -> None:
    doc = probe_pipeline()
    doc["nodes"].append({"id": "after", "method": "t/probe"})
    doc["links"].append({"from": "probe", "to": "after.data"})
    fake_env.write_pipeline(doc)
    assert _step(fake_env, "--sample", "s1", node="after") == (
        2,
        "error: upstream steps of 'after' have not run: probe[s1]",
        "hint: run them first, e.g. `wfc run-step pipeline.json --node probe --sample s1`",
    )


def test_environment_not_built(fake_env: Proj) -> None:
    (fake_env.root / "environments/python/env.lock.json").unlink()
    assert _step(fake_env, "--sample", "s1") == (
        2,
        "error: environment 'python' is not built",
        "hint: run `wfc env build python`",
    )


def test_unknown_method(fake_env: Proj) -> None:
    doc = probe_pipeline()
    doc["nodes"][1]["method"] = "t/prob"
    fake_env.write_pipeline(doc)
    code, error, hint = _step(fake_env, "--sample", "s1")
    assert (code, error) == (
        2,
        "error: unknown method 't/prob': methods/t/prob/method.yaml does not exist (did you mean 't/probe'?)",
    )
    assert hint == 'hint: create it, or fix the node\'s "method" (known: t/probe)'


def test_pipeline_document_errors(fake_env: Proj) -> None:
    (fake_env.root / "pipeline.json").write_text("{not json")
    code, error, _ = _step(fake_env, "--sample", "s1")
    assert code == 2 and error.startswith("error: pipeline.json: invalid JSON: Expecting property name")
    doc = probe_pipeline()
    doc["links"][0]["to"] = "nowhere.data"
    fake_env.write_pipeline(doc)
    assert _step(fake_env, "--sample", "s1")[1] == ("error: pipeline.json: links[0]: unknown node 'nowhere'")
    doc = probe_pipeline()
    doc["nodes"].append({"id": "back", "method": "t/probe"})
    doc["links"] += [{"from": "probe", "to": "back.data"}, {"from": "back", "to": "probe.data"}]
    fake_env.write_pipeline(doc)
    assert _step(fake_env, "--sample", "s1")[1] == (
        "error: pipeline.json: links form a cycle: back -> probe -> back"
    )
    doc = probe_pipeline()
    doc["nodes"][1]["id"] = "bad id"
    fake_env.write_pipeline(doc)
    assert _step(fake_env, "--sample", "s1")[1] == (
        "error: pipeline.json: nodes[1].id: node id 'bad id' may use only letters, digits, '_' and '-', "
        "and may not start with '-'"
    )
    proc = fake_env.wfc("run-step", "missing.json", "--node", "x")
    assert _err(proc.stderr) == ("error: pipeline file not found: missing.json", "hint: check the path")


def test_unknown_pipeline_run(fake_env: Proj) -> None:
    assert _step(fake_env, "--sample", "s1", "--pipeline-run", "p-NOPE") == (
        2,
        "error: unknown pipeline run 'p-NOPE'",
        "hint: pass the id of a recorded pipeline run, or leave --pipeline-run out",
    )


def test_usage_error_of_run_step(fake_env: Proj) -> None:
    proc = fake_env.wfc("run-step", "pipeline.json")
    assert proc.returncode == 2
    assert _err(proc.stderr) == (
        "error: run-step: the following arguments are required: --node",
        "hint: see `wfc run-step --help`",
    )


def test_json_errors_are_a_json_document(fake_env: Proj) -> None:
    proc = fake_env.wfc("run-step", "pipeline.json", "--node", "prob", "--json")
    assert proc.returncode == 2
    assert json.loads(proc.stdout) == {
        "error": "unknown node 'prob' in pipeline 'probe' (did you mean 'probe'?)",
        "hint": "nodes are: data, probe",
        "exit_code": 2,
    }


def test_verbose_shows_the_traceback(fake_env: Proj) -> None:
    proc = fake_env.wfc("run-step", "pipeline.json", "--node", "prob", "--verbose")
    assert proc.returncode == 2 and "Traceback (most recent call last)" in proc.stderr
    assert "error: unknown node 'prob'" in proc.stderr


def test_not_a_project(tmp_path: pytest.TempPathFactory) -> None:
    proj = Proj(tmp_path)  # type: ignore[arg-type]
    proc = proj.wfc("sample", "list", env={"WFC_PROJECT": ""})
    assert proc.returncode == 2
    error, hint = _err(proc.stderr)
    assert error == f"error: not inside a wfc project: no wfc.toml in {tmp_path} or its parents"
    assert hint == "hint: run `wfc init` to create a project here, or pass --project DIR"


def test_unknown_setting_in_wfc_toml(project: Proj) -> None:
    toml = project.root / "wfc.toml"
    toml.write_text('stor = "x"\n' + toml.read_text())
    proc = project.wfc("config")
    assert proc.returncode == 2
    error, hint = _err(proc.stderr)
    assert error == f"error: {project.root / 'wfc.toml'}: unknown setting 'stor' (did you mean 'store'?)"
    assert hint.startswith("hint: known settings: base_image, ca_bundle, container_user, database_url")


def test_database_unreachable_is_exit_3(fake_env: Proj) -> None:
    proc = fake_env.wfc("sample", "list", env={"WFC_DATABASE_URL": "sqlite:////dev/null/wfc.db"})
    assert proc.returncode == 3
    assert _err(proc.stderr) == (
        "error: database unreachable (sqlite:////dev/null/wfc.db): File exists: /dev/null",
        "hint: check WFC_DATABASE_URL and that its directory can be created",
    )


def test_bad_sample_name_and_path(project: Proj) -> None:
    proc = project.wfc("sample", "add", "bad/name", "x.csv")
    assert _err(proc.stderr) == (
        "error: bad sample name 'bad/name': no '/', '@' or control characters, "
        "no leading '-', '.' or space, at most 100 bytes",
        "hint: for example: wfc sample add patient_01 data/p01.csv",
    )
    proc = project.wfc("sample", "add", "ok", "nope.csv")
    assert proc.returncode == 2 and _err(proc.stderr)[0] == "error: sample path not found: nope.csv"


def test_unknown_environment(project: Proj) -> None:
    proc = project.wfc("env", "show", "pyhton")
    assert proc.returncode == 2
    assert _err(proc.stderr) == (
        "error: unknown environment 'pyhton': no environments/pyhton/Dockerfile",
        "hint: environments are: none yet (create environments/NAME/Dockerfile)",
    )


def test_invalid_wfc_toml(project: Proj) -> None:
    toml = project.root / "wfc.toml"
    toml.write_text("store = \n")
    proc = project.wfc("config")
    error, hint = _err(proc.stderr)
    assert proc.returncode == 2 and error.startswith(f"error: {toml}: invalid TOML: Invalid value")
    assert hint == "hint: fix the syntax of wfc.toml"
    toml.write_text("store = 3\n")
    error, hint = _err(project.wfc("config").stderr)
    assert (error, hint) == (
        f"error: {toml}: setting 'store' must be a string",
        'hint: write it as store = "..."',
    )


def test_bad_database_url(project: Proj) -> None:
    proc = project.wfc("sample", "list", env={"WFC_DATABASE_URL": "nosuchdb://x"})
    assert proc.returncode == 2
    error, hint = _err(proc.stderr)
    assert error.startswith(
        "error: bad database URL nosuchdb://x: Can't load plugin: sqlalchemy.dialects:nosuchdb"
    )
    assert hint == "hint: set WFC_DATABASE_URL to a SQLAlchemy URL whose driver is installed"


def test_missing_ca_bundle(project: Proj) -> None:
    env_dir = project.root / "environments" / "x"
    env_dir.mkdir(parents=True)
    (env_dir / "Dockerfile").write_text("FROM scratch\n")
    proc = project.wfc("env", "build", "x", "--ca-bundle", "/nonexistent/ca.pem")
    assert proc.returncode == 2
    assert _err(proc.stderr) == (
        "error: CA bundle not found: /nonexistent/ca.pem",
        "hint: set WFC_CA_BUNDLE / ca_bundle to a PEM file",
    )


def test_run_pipeline_refuses_before_anything_runs(fake_env: Proj) -> None:
    fake_env.write_pipeline(probe_pipeline(samples=["s1"]))  # a valid document: s2 is not registered
    proc = fake_env.wfc(
        "run-pipeline", "pipeline.json", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    )
    assert proc.returncode == 3
    assert proc.stderr.splitlines()[0].startswith("error: Docker is not reachable: ")
    (fake_env.root / "environments/python/env.lock.json").unlink()
    proc = fake_env.wfc("run-pipeline", "pipeline.json")
    assert _err(proc.stderr) == (
        "error: environment 'python' is not built",
        "hint: run `wfc env build python`",
    )
    assert fake_env.rows("SELECT count(*) FROM pipeline_runs") == [(0,)]  # nothing was recorded
