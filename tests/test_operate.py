"""Operating a project: doctor, run-time settings (inspect, config) and metrics pushed to a real
Prometheus Pushgateway started by the test."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Proj, chain, run_pipeline, wfc_json

VARIABLE_PIPELINE = {
    "version": 1,
    "name": "settings",
    "nodes": [
        {"id": "data", "samples": ["s1"]},
        {"id": "probe", "method": "t/probe", "params": {"k": {"$var": "rounds"}, "token": {"$var": "label"}}},
    ],
    "links": [{"from": "data", "to": "probe.data"}],
    "variables": {
        "rounds": {"type": "int", "description": "how many rounds"},
        "label": {"type": "str", "default": "plain", "description": "a tag for the output"},
    },
}


@pytest.mark.docker
def test_doctor_passes_on_a_ready_project_and_names_each_failure(chained: Proj) -> None:
    subprocess.run(["git", "init", "-q", str(chained.root)], check=True)
    doc = wfc_json(chained, "doctor")
    names = [c["name"] for c in doc["checks"]]
    assert names == ["docker", "database", "store", "env python", "env shell", "snakemake", "git"]
    assert doc["ok"] and all(c["status"] in ("ok", "warn") for c in doc["checks"])
    assert "schema version 4" in doc["checks"][1]["detail"]
    assert chained.wfc("doctor").returncode == 0

    (chained.root / "environments" / "shell" / "env.lock.json").unlink()
    broken = chained.wfc("doctor", "--json", env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert broken.returncode == 1
    checks = {c["name"]: c for c in json.loads(broken.stdout)["checks"]}
    assert checks["docker"]["status"] == "fail" and checks["docker"]["detail"].startswith(
        "Docker is not reachable"
    )
    assert checks["docker"]["fix"].startswith("start the Docker engine")
    assert checks["env shell"] == {
        "name": "env shell",
        "status": "fail",
        "detail": "not built",
        "fix": "run `wfc env build shell`",
    }
    assert checks["env python"]["status"] == "warn"  # built, but Docker cannot say if the image is there
    text = chained.wfc("doctor", env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert text.returncode == 1 and text.stderr.strip().endswith("2 checks failed")


def test_doctor_reports_a_missing_image_and_an_unreachable_database(fake_env: Proj) -> None:
    doc = json.loads(fake_env.wfc("doctor", "--json", env={"DOCKER_HOST": "unix:///nonexistent.sock"}).stdout)
    assert not doc["ok"]
    bad_db = fake_env.wfc("doctor", "--json", env={"WFC_DATABASE_URL": "sqlite:////dev/null/x.db"})
    checks = {c["name"]: c for c in json.loads(bad_db.stdout)["checks"]}
    assert checks["database"]["status"] == "fail"
    assert (
        checks["database"]["detail"]
        == "database unreachable (sqlite:////dev/null/x.db): File exists: /dev/null"
    )


def test_inspect_gen_env_lists_required_first_then_optional(fake_env: Proj) -> None:
    fake_env.write_pipeline(VARIABLE_PIPELINE)
    text = fake_env.wfc("inspect", "pipeline.json", "--gen-env", check=True).stdout
    required, optional = text.split("# --- optional ---")
    assert "# pipeline variable rounds (int): how many rounds\nWFC_VAR_ROUNDS=\n" in required
    assert "WFC_VAR_LABEL" not in required
    assert (
        "# pipeline variable label (str): a tag for the output; default: plain\n# WFC_VAR_LABEL=plain"
        in optional
    )
    assert (
        "# SQLAlchemy URL (default: SQLite .wfc/wfc.db); default: (empty)\n# WFC_DATABASE_URL=\n" in optional
    )
    assert "# WFC_STORE=.wfc/store" in optional and "# WFC_PUSHGATEWAY=" in optional
    assert optional.index("WFC_VAR_LABEL") < optional.index("WFC_BASE_IMAGE")


def test_inspect_check_names_what_is_missing_or_invalid(fake_env: Proj) -> None:
    fake_env.write_pipeline(VARIABLE_PIPELINE)
    missing = fake_env.wfc("inspect", "pipeline.json", "--check")
    assert missing.returncode == 1
    assert missing.stderr.splitlines() == [
        "error: WFC_VAR_ROUNDS: missing (pipeline variable rounds (int): how many rounds)",
        "1 setting missing or invalid",
    ]
    bad = fake_env.wfc(
        "inspect", "pipeline.json", "--check", env={"WFC_VAR_ROUNDS": "many", "WFC_STORE_LINK": "symlink"}
    )
    assert bad.returncode == 1
    assert bad.stderr.splitlines()[:2] == [
        "error: WFC_VAR_ROUNDS: WFC_VAR_ROUNDS: 'many' is not a valid int for variable 'rounds'"
        " (pipeline variable rounds (int): how many rounds)",
        "error: WFC_STORE_LINK: must be one of auto, reflink, hardlink, copy (how objects are staged:"
        " auto|reflink|hardlink|copy)",
    ]
    store = fake_env.wfc(
        "inspect", "pipeline.json", "--check", env={"WFC_VAR_ROUNDS": "3", "WFC_STORE": "gs://bucket/x"}
    )
    assert store.returncode == 1
    assert store.stderr.splitlines()[0] == (
        "error: WFC_STORE: must be a directory or s3://BUCKET/PREFIX"
        " (content-addressed store: a directory, or s3://BUCKET/PREFIX)"
    )
    good = fake_env.wfc("inspect", "pipeline.json", "--check", env={"WFC_VAR_ROUNDS": "3"})
    assert good.returncode == 0 and "every required setting is present and valid" in good.stderr
    doc = wfc_json(fake_env, "inspect", "pipeline.json", env={"WFC_VAR_ROUNDS": "3"})
    assert doc["ok"] and doc["settings"][0] == {
        "env": "WFC_VAR_ROUNDS",
        "required": True,
        "default": "",
        "description": "pipeline variable rounds (int): how many rounds",
        "kind": "variable",
        "value": "3",
        "problem": None,
    }


def test_config_shows_values_and_their_sources(project: Proj) -> None:
    (project.root / "wfc.toml").write_text('store_link = "copy"\n' + (project.root / "wfc.toml").read_text())
    doc = wfc_json(project, "config", env={"WFC_PUSHGATEWAY": "http://gw:9091"})
    by_key = {s["key"]: s for s in doc["settings"]}
    assert by_key["pushgateway"] == {
        "key": "pushgateway",
        "env": "WFC_PUSHGATEWAY",
        "value": "http://gw:9091",
        "source": "env",
    }
    assert by_key["store_link"]["source"] == "wfc.toml" and by_key["store"]["source"] == "default"
    opt = wfc_json(project, "config", "--project", str(project.root))
    assert {s["key"] for s in opt["settings"]} >= {"store", "database_url", "pushgateway"}


# -- metrics -----------------------------------------------------------------------------------


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[str]:
    """A real Prometheus Pushgateway (Debian's package) on a free port, persisting to a temp file."""
    binary = shutil.which("prometheus-pushgateway")
    assert binary, "install Debian's prometheus-pushgateway (scripts/quickstart.sh does)"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [binary, f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "/-/ready", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _groups(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(url + "/api/v1/metrics", timeout=5) as response:
        return list(json.loads(response.read())["data"])


def _value(group: dict[str, Any], family: str, **labels: str) -> float:
    for metric in group[family]["metrics"]:
        if all(metric["labels"].get(k) == v for k, v in labels.items()):
            return float(metric["value"])
    raise AssertionError(f"no {family} {labels} in {group['labels']}")


@pytest.mark.docker
def test_each_step_pushes_its_own_group_and_runs_never_overwrite(chained: Proj, pushgateway: str) -> None:
    chained.write_pipeline(chain(a={"mode": "metrics", "k": 7}, b={"mode": "metrics"}))
    env = {"WFC_PUSHGATEWAY": pushgateway}
    first = run_pipeline(chained, env=env)
    second = run_pipeline(chained, env=env)
    groups = [g for g in _groups(pushgateway) if g["labels"].get("job") == "wfc"]
    assert len(groups) == 8  # 4 steps x 2 pipeline runs
    by_key = {(g["labels"]["pipeline_run"], g["labels"]["node"], g["labels"]["sample"]): g for g in groups}
    for run, status in ((first["pipeline_run"], "completed"), (second["pipeline_run"], "cached")):
        for node in ("a", "b"):
            for sample in ("s1", "s2"):
                group = by_key[(run, node, sample)]
                assert group["labels"]["variant"] == ""
                method = "t/probe" if node == "a" else "t/copy"
                assert _value(group, "wfc_step_status", status=status, method=method) == 1
                assert _value(group, "wfc_step_cache_hit") == (1 if status == "cached" else 0)
                assert _value(group, "wfc_method_metric", name="k") == (7 if node == "a" else 1)
                assert _value(group, "wfc_step_output_bytes") > 0
                phases = {m["labels"]["phase"] for m in group["wfc_step_duration_seconds"]["metrics"]}
                expected = {"resolve", "restore", "total"} | (
                    {"run", "archive"} if status == "completed" else set()
                )
                assert phases == expected
                assert _value(group, "wfc_step_duration_seconds", phase="total") > 0

    cleaned = wfc_json(chained, "metrics", "clean", "--pipeline-run", first["pipeline_run"], env=env)
    assert len(cleaned["deleted"]) == 4
    left = {g["labels"]["pipeline_run"] for g in _groups(pushgateway) if g["labels"].get("job") == "wfc"}
    assert left == {second["pipeline_run"]}
    assert "deleted 4 metric groups" in chained.wfc("metrics", "clean", env=env, check=True).stderr
    assert [g for g in _groups(pushgateway) if g["labels"].get("job") == "wfc"] == []


@pytest.mark.docker
def test_an_unreachable_gateway_warns_once_and_never_fails_a_step(chained: Proj) -> None:
    env = {"WFC_PUSHGATEWAY": "http://127.0.0.1:9"}
    proc = chained.wfc("run-pipeline", "pipeline.json", "--cores", "2", env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "could not push metrics" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith("warning: could not push metrics to http://127.0.0.1:9: ")
    assert warnings[0].endswith("(steps go on; check WFC_PUSHGATEWAY)")
    step = chained.run_step("a", "--sample", "s1", "--force", env=env)
    assert step["status"] == "completed" and step["_exit"] == 0
    assert step["_stderr"].count("could not push metrics") == 1


def test_metrics_clean_errors(project: Proj) -> None:
    none = project.wfc("metrics", "clean")
    assert none.returncode == 2
    assert none.stderr.splitlines() == [
        "error: no Pushgateway configured",
        "hint: set WFC_PUSHGATEWAY=http://HOST:9091",
    ]
    down = project.wfc("metrics", "clean", env={"WFC_PUSHGATEWAY": "http://127.0.0.1:9"})
    assert down.returncode == 3
    assert down.stderr.splitlines()[0].startswith("error: Pushgateway http://127.0.0.1:9 unreachable: ")
    assert down.stderr.splitlines()[1] == "hint: check WFC_PUSHGATEWAY and that the gateway runs"
