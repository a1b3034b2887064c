"""The generated Argo tasks, run as Argo would: in dependency order, each in its own container of
its template's image (built with ``--with-wfc``), with its args, env, user, read-only root and
volumes, and no shared volume (``project.claimName: null``): a task shares only PostgreSQL and the
S3 store with the others; the outputs equal those of ``wfc run-pipeline``."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, Proj, build_envs
from tests.postgres_server import PgServer
from tests.seaweed_server import SeaweedServer

pytestmark = pytest.mark.docker
CA = "/etc/ssl/certs/ca-certificates.crt"
DOC = "examples/pipelines/quickstart.json"


@pytest.fixture(scope="module")
def wfc_envs(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Environments built with ``wfc env build NAME --with-wfc`` (pip in the build needs the CA)."""
    return build_envs(tmp_path_factory.mktemp("wfc-envs"), "--with-wfc", "--ca-bundle", CA)


def _project(root: Path, envs: Path, env: dict[str, str] | None = None) -> Proj:
    proj = Proj(root)
    proj.wfc("init", str(root), check=True)
    shutil.copytree(envs, root / "environments", dirs_exist_ok=True)
    shutil.copytree(REPO / "methods", root / "methods", dirs_exist_ok=True)
    shutil.copytree(REPO / "examples", root / "examples")
    for name in ("east", "north", "south"):
        proj.wfc("sample", "add", name, f"examples/data/{name}.csv", env=env, check=True)
    return proj


def _docker_run(
    template: dict[str, Any], params: dict[str, str], settings: dict[str, str], spec: dict[str, Any]
) -> None:
    """One task in its own container: on the host network (PostgreSQL and SeaweedFS listen on
    127.0.0.1), its settings as the ``wfc-settings`` Secret would give them, no project volume."""
    container = template["container"]
    args = [a.replace("{{workflow.uid}}", "3f2a-workflow-uid") for a in container["args"]]
    for key, value in params.items():
        args = [a.replace(f"{{{{inputs.parameters.{key}}}}}", value) for a in args]
    security = container["securityContext"]
    pod = spec["securityContext"]
    argv = ["docker", "run", "--rm", "--network", "host", f"--user={pod['runAsUser']}:{pod['runAsGroup']}"]
    if security.get("readOnlyRootFilesystem"):
        argv.append("--read-only")
    if "ALL" in security.get("capabilities", {}).get("drop", []):
        argv.append("--cap-drop=ALL")
    if security.get("allowPrivilegeEscalation") is False:
        argv.append("--security-opt=no-new-privileges")
    assert [m["name"] for m in container["volumeMounts"]] == ["wfc-scratch"]
    owner = f"uid={pod['runAsUser']},gid={pod.get('fsGroup', pod['runAsGroup'])}"  # an emptyDir's, by fsGroup
    argv += ["--tmpfs", f"{container['volumeMounts'][0]['mountPath']}:rw,{owner},mode=1777"]
    for name, value in [*((e["name"], e["value"]) for e in container["env"]), *settings.items()]:
        argv += ["-e", f"{name}={value}"]
    argv += ["-w", container["workingDir"], "--entrypoint", container["command"][0], container["image"]]
    argv += [*container["command"][1:], *args]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"{' '.join(argv)}\n{proc.stdout}\n{proc.stderr}"


def test_generated_argo_tasks_run_like_argo_with_no_shared_volume_and_match_run_pipeline(
    wfc_envs: Path, postgres: PgServer, seaweed: SeaweedServer, tmp_path: Path
) -> None:
    database, store = f"argo_{uuid.uuid4().hex[:8]}", f"s3://{seaweed.bucket}/{uuid.uuid4().hex[:12]}"
    team = {**seaweed.env(), "WFC_STORE": store, "WFC_DATABASE_URL": postgres.fresh(database)}
    argo = _project(tmp_path / "argo", wfc_envs, team)  # the machine that registers and compiles
    local = _project(tmp_path / "local", wfc_envs)
    (argo.root / "no-volume.yaml").write_text("argo:\n  project:\n    claimName: null\n")
    compiled = argo.wfc("compile", DOC, "--backend", "argo", "-f", "no-volume.yaml", env=team, check=True)
    spec = yaml.safe_load(compiled.stdout)["spec"]
    assert [v["name"] for v in spec["volumes"]] == ["wfc-scratch"]
    templates = {t["name"]: t for t in spec["templates"]}
    tasks = {t["name"]: t for t in templates[spec["entrypoint"]]["dag"]["tasks"]}
    graph = {name: set(t.get("depends", "").replace("&&", " ").split()) for name, t in tasks.items()}
    clean = argo.root / "methods" / "tables" / "clean" / "main.py"
    clean.write_text(clean.read_text() + "\n# edited after compiling: tasks run the archived code\n")
    settings = {**team, "WFC_DATABASE_URL": postgres.tcp_url(database)}  # the wfc-settings Secret
    for name in TopologicalSorter(graph).static_order():
        task = tasks[name]
        params = {p["name"]: p["value"] for p in task.get("arguments", {}).get("parameters", [])}
        _docker_run(templates[task["template"]], params, settings, spec)

    result = json.loads(
        local.wfc("run-pipeline", DOC, "--cores", "2", "--json", check=True, timeout=600).stdout
    )
    assert {s["status"] for s in result["steps"]} == {"completed"}
    for step in ("clean[east]", "clean[north]", "clean[south]", "summarise", "report"):
        in_argo = json.loads(argo.wfc("show", f"last:{step}", "--json", env=team, check=True).stdout)
        in_local = json.loads(local.wfc("show", f"last:{step}", "--json", check=True).stdout)
        assert in_argo["status"] == "completed" and in_argo["key"] == in_local["key"], step
        assert [o["hash"] for o in in_argo["outputs"]] == [o["hash"] for o in in_local["outputs"]], step


def test_process_runtime_keeps_the_contract(probe_project: Proj) -> None:
    in_docker = probe_project.run_step("probe", "--sample", "s1")
    direct = probe_project.run_step("probe", "--sample", "s1", "--runtime", "process", "--force")
    assert (in_docker["status"], direct["status"]) == ("completed", "completed")
    assert direct["key"] == in_docker["key"]  # the runtime is not part of a step's identity
    assert direct["outputs"]["out"]["hash"] == in_docker["outputs"]["out"]["hash"]
    probe_project.write_pipeline(
        {
            "version": 1,
            "name": "probe",
            "nodes": [{"id": "data", "samples": ["s1"]}, {"id": "probe", "method": "t/probe",
                       "params": {"mode": "whoami"}}],
            "links": [{"from": "data", "to": "probe.data"}],
        }
    )  # fmt: skip
    seen = probe_project.run_step("probe", "--sample", "s1", "--runtime", "process")
    assert seen["status"] == "completed", seen
    digest = seen["outputs"]["out"]["hash"].split(":")[1]
    doc = json.loads(
        (probe_project.root / ".wfc" / "store" / "objects" / digest[:2] / digest[2:]).read_text()
    )
    env = doc["env"]
    assert env["WFC_SAMPLE"] == "s1" and json.loads(env["WFC_PARAMS"])["mode"] == "whoami"
    run_dir = env["WFC_RUN_DIR"]
    assert run_dir.endswith("/out") and Path(run_dir).is_absolute() and "/wfc/run" not in run_dir
    assert all(p.startswith(str(probe_project.root)) for p in json.loads(env["WFC_INPUT_PATHS"])["data"])
    if doc["input_writable"]:  # root can write to anything: it got a copy, the store is intact
        assert probe_project.wfc("cache", "verify").returncode == 0
