"""The HTTP API of ``wfc canvas`` (ADR 0022), against the app in this process (FastAPI's TestClient)
and as a real ``wfc canvas`` server: every route, the token, Host and Origin checks, paths that try
to leave the project, documents with problems, runs with their events, artifacts verified from the
store, and the ``layout`` section that keys and compile ignore.

Runs use the ``process`` runtime (the probe method runs as a child process: seconds, no Docker);
one test runs and cancels in real containers.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.canvas_server import base_of, canvas, start_canvas, stop_canvas
from tests.conftest import FIXTURES, REPO, Proj, probe_pipeline, project_containers
from wfc import __version__, api
from wfc.canvas.app import create_app
from wfc.canvas.openapi import openapi_text
from wfc.canvas.routes_pipelines import pretty
from wfc.canvas.server import exposure_warning, may_open_browser
from wfc.canvas.stream import event_stream
from wfc.model.pipeline import Pipeline

TOKEN = "test-token"
HOST = "testserver"  # the Host header TestClient sends
NO_TOKEN_HINT = "open the URL `wfc canvas` printed (with ?token=…), or send Authorization: Bearer TOKEN"


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def proj(fake_env: Proj) -> Proj:
    """The probe project (environment locked, no image) with the tree method and ``pipelines/``."""
    fake_env.add_method("t/tree", FIXTURES / "methods" / "t" / "tree")
    fake_env.write_pipeline(probe_pipeline(samples=["s1"]))
    (fake_env.root / "pipelines").mkdir(exist_ok=True)
    (fake_env.root / "pipelines" / "probe.json").write_text(json.dumps(probe_pipeline(samples=["s1"])))
    return fake_env


@pytest.fixture
def client(proj: Proj) -> Iterator[TestClient]:
    """The canvas app over ``proj`` with the process runtime, the token sent as a bearer."""
    project = api.open_project(proj.root, runtime="process")
    with TestClient(create_app(project, TOKEN, [HOST]), headers=_auth()) as test_client:
        yield test_client


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _finish(client: TestClient, job: str, timeout: float = 120) -> dict[str, Any]:
    """Wait for a job to end; its events document."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc: dict[str, Any] = client.get(f"/api/jobs/{job}/events", params={"since": 0}).json()
        if doc["status"] != "running":
            return doc
        time.sleep(0.2)
    raise AssertionError(f"job {job} still running after {timeout} s")


def _run(client: TestClient, **body: Any) -> dict[str, Any]:
    started = client.post("/api/runs", json=body)
    assert started.status_code == 202, started.text
    return _finish(client, started.json()["job"])


def _finished_steps(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["step"]: e for e in events if e["kind"] == "step-finished"}


def _tree_pipeline() -> dict[str, Any]:
    return {
        "version": 1,
        "name": "tree",
        "nodes": [{"id": "data", "samples": ["s1"]}, {"id": "tree", "method": "t/tree"}],
        "links": [{"from": "data", "to": "tree.data"}],
    }


# --- security ----------------------------------------------------------------------------------

API_CALLS = [
    ("GET", "/api/project"),
    ("GET", "/api/methods"),
    ("GET", "/api/samples"),
    ("POST", "/api/samples"),
    ("GET", "/api/environments"),
    ("POST", "/api/environments/python/build"),
    ("GET", "/api/doctor"),
    ("GET", "/api/schema/pipeline"),
    ("GET", "/api/pipelines"),
    ("GET", "/api/pipelines/pipeline.json"),
    ("PUT", "/api/pipelines/pipeline.json"),
    ("POST", "/api/validate"),
    ("POST", "/api/plan"),
    ("POST", "/api/runs"),
    ("GET", "/api/jobs"),
    ("POST", "/api/jobs/j-1/cancel"),
    ("GET", "/api/jobs/j-1/events"),
    ("GET", "/api/events"),
    ("GET", "/api/pipeline-runs"),
    ("GET", "/api/pipeline-runs/p-1"),
    ("GET", "/api/runs/r-1"),
    ("GET", "/api/runs/r-1/logs"),
    ("GET", "/api/runs/r-1/lineage"),
    ("GET", "/api/runs/r-1/outputs/out"),
    ("GET", "/api/runs/r-1/outputs/tree/a.txt"),
]


def test_the_call_list_covers_every_route(client: TestClient) -> None:
    routes = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    operations = [(method, route) for route, methods in routes.items() for method in methods]
    for method, route in operations:
        shape = route.split("{")[0]
        assert any(p.startswith(shape) and (m.lower() == method) for m, p in API_CALLS), (method, route)
    assert len(operations) == len(set(API_CALLS)) == len(API_CALLS)


def test_every_api_route_refuses_a_missing_or_wrong_token(proj: Proj) -> None:
    app = create_app(api.open_project(proj.root), TOKEN, [HOST])
    with TestClient(app) as anonymous:
        for method, path in API_CALLS:
            for headers in ({}, _auth("wrong"), {"Cookie": "wfc_canvas=wrong"}, {"Authorization": TOKEN}):
                answer = anonymous.request(method, path, headers=headers, json={})
                assert answer.status_code == 403, (method, path, headers)
                assert answer.json() == {"error": "missing or wrong token", "hint": NO_TOKEN_HINT}
    assert not (proj.root / ".wfc" / "documents").exists()  # nothing ran


def test_the_page_sets_the_cookie_that_the_api_accepts(proj: Proj) -> None:
    with TestClient(create_app(api.open_project(proj.root), TOKEN, [HOST])) as browser:
        assert browser.get("/").status_code == 403
        assert browser.get("/?token=wrong").status_code == 403
        page = browser.get(f"/?token={TOKEN}")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        cookie = page.headers["set-cookie"]
        assert cookie.startswith(f"wfc_canvas={TOKEN};")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        csp = page.headers["content-security-policy"]  # only its own bundle, never framed
        assert "script-src 'self';" in csp and "connect-src 'self';" in csp
        assert "frame-ancestors 'none'" in csp
        assert page.headers["x-frame-options"] == "DENY"
        assert browser.get("/api/project").status_code == 200  # the cookie, no bearer
        assert browser.get("/").status_code == 200  # a reload, by the cookie
        assert browser.get("/assets/none.js").status_code == 404  # the bundle needs no token


@pytest.mark.parametrize(
    ("header", "value", "error"),
    [
        ("Host", "evil.example:80", "refused: unknown Host 'evil.example:80'"),
        ("Host", "127.0.0.1.nip.io:8500", "refused: unknown Host '127.0.0.1.nip.io:8500'"),
        ("Origin", "http://evil.example", "refused: a request from another site (http://evil.example)"),
        ("Origin", "null", "refused: a request from another site (null)"),
        ("Origin", "https://testserver", "refused: a request from another site (https://testserver)"),
    ],
)
def test_a_foreign_host_or_origin_is_refused_even_with_the_token(
    client: TestClient, header: str, value: str, error: str
) -> None:
    answer = client.post("/api/runs", json={"path": "pipeline.json"}, headers={header: value})
    assert answer.status_code == 403
    assert answer.json()["error"] == error
    assert client.get("/api/jobs").json() == {"jobs": []}
    assert client.get("/api/project", headers={"Origin": f"http://{HOST}"}).status_code == 200


def test_the_served_hosts_are_loopback_and_the_given_host() -> None:
    from wfc.canvas.security import loopback_hosts

    assert loopback_hosts("127.0.0.1", 8500) == ["127.0.0.1:8500", "localhost:8500", "[::1]:8500"]
    assert loopback_hosts("192.168.1.5", 9)[-1] == "192.168.1.5:9"
    assert exposure_warning("127.0.0.1") is None and exposure_warning("::1") is None
    assert exposure_warning("0.0.0.0") == (
        "warning: listening on 0.0.0.0, not only on this machine's loopback: anyone who can reach it "
        "and has the token can run pipelines as you"
    )
    assert not may_open_browser({"CI": "true", "DISPLAY": ":0"})
    if sys.platform.startswith("linux"):
        assert not may_open_browser({}) and may_open_browser({"DISPLAY": ":0"})


# --- project, methods, samples, environments ---------------------------------------------------


def test_project_methods_samples_environments_doctor_schema(client: TestClient, proj: Proj) -> None:
    assert client.get("/api/project").json() == {
        "root": str(proj.root),
        "name": "proj",
        "wfc_version": __version__,
        "open": None,
    }
    methods = {m["ref"]: m for m in client.get("/api/methods").json()["methods"]}
    assert sorted(methods) == ["t/probe", "t/tree"]
    probe = methods["t/probe"]
    assert probe["env"] == "python"
    assert probe["inputs"]["data"] == {"description": "", "required": False, "multiple": False, "type": None}
    assert (
        probe["outputs"]["out"]["file"] == "out.txt"
        and methods["t/tree"]["outputs"]["tree"]["dir"] == "tree/"
    )
    assert probe["params"]["sleep"]["type"] == "float" and probe["params"]["k"]["default"] == 1
    (samples,) = client.get("/api/samples").json()["samples"]
    assert samples["name"] == "s1" and samples["version"] == 1 and samples["source"] == "s1.txt"
    assert client.get("/api/environments").json()["environments"] == [
        {
            "name": "python",
            "built": True,
            "image_id": "sha256:" + "ab" * 32,
            "built_at": "2026-01-01T00:00:00+00:00",
        }
    ]
    doctor = client.get("/api/doctor").json()
    assert doctor["schema"] == "wfc.doctor/1" and {c["name"] for c in doctor["checks"]} >= {
        "database",
        "store",
    }
    assert client.get("/api/schema/pipeline").json() == Pipeline.model_json_schema(by_alias=True)
    missing = client.post("/api/environments/nope/build")
    assert missing.status_code == 404 and missing.json()["error"].startswith("unknown environment 'nope'")


def test_a_broken_method_is_listed_with_its_error(client: TestClient, proj: Proj) -> None:
    broken = proj.root / "methods" / "t" / "broken"
    broken.mkdir()
    (broken / "method.yaml").write_text("env: [\n")
    found = client.get("/api/methods").json()
    assert found["errors"] == [
        {
            "ref": "t/broken",
            "error": "methods/t/broken/method.yaml: invalid YAML at line 2",
            "hint": "fix the YAML syntax",
        }
    ]


def test_samples_register_by_upload_and_by_path(client: TestClient, proj: Proj) -> None:
    up = client.post("/api/samples", data={"name": "s2"}, files={"file": ("s2.csv", b"a,b\n1,2\n")})
    assert up.status_code == 201, up.text
    assert up.json()["name"] == "s2" and up.json()["source"] == "data/s2.csv"
    assert (proj.root / "data" / "s2.csv").read_bytes() == b"a,b\n1,2\n"
    again = client.post("/api/samples", data={"name": "s2"}, files={"file": ("s2.csv", b"a,b\n1,2\n")})
    assert again.status_code == 200 and again.json()["version"] == 1
    other = client.post("/api/samples", data={"name": "s2"}, files={"file": ("s2.csv", b"other\n")})
    assert (
        other.status_code == 400 and other.json()["error"] == "data/s2.csv already exists with other content"
    )
    (proj.root / "s3.txt").write_text("gamma\n")
    by_path = client.post("/api/samples", json={"name": "s3", "path": "s3.txt"})
    assert by_path.status_code == 201 and by_path.json()["kind"] == "file"
    outside = client.post("/api/samples", json={"name": "s4", "path": "../../../etc/hostname"})
    assert outside.status_code == 403
    assert client.post("/api/samples", json={"name": "s4", "path": "nope.txt"}).status_code == 404
    assert client.post("/api/samples", json={"name": "s4"}).status_code == 400
    assert sorted(s["name"] for s in client.get("/api/samples").json()["samples"]) == ["s1", "s2", "s3"]


# --- pipelines: listing, opening, saving, validating, planning ---------------------------------


def test_pipelines_are_listed_opened_and_saved_pretty_with_layout_last(
    client: TestClient, proj: Proj
) -> None:
    assert client.get("/api/pipelines").json() == {
        "pipelines": [{"path": "pipelines/probe.json", "name": "probe", "nodes": 2}]
    }
    opened = client.get("/api/pipelines/pipelines/probe.json").json()
    assert opened == {"path": "pipelines/probe.json", "document": probe_pipeline(samples=["s1"])}
    doc = {
        "layout": {"nodes": {"data": {"x": 0, "y": 10.5}, "probe": {"x": 240, "y": 10.5}}},
        "links": [{"from": "data", "to": "probe.data"}],
        "nodes": [
            {"id": "data", "samples": ["s1"]},
            {"id": "probe", "method": "t/probe", "params": {"k": 2}},
        ],
        "name": "saved",
        "version": 1,
    }
    saved = client.put("/api/pipelines/pipelines/new/saved.json", json={"document": doc})
    assert saved.status_code == 200, saved.text
    assert saved.json() == {"path": "pipelines/new/saved.json", "problems": []}
    text = (proj.root / "pipelines" / "new" / "saved.json").read_text()
    assert text == pretty(Pipeline.model_validate(doc))
    assert text.endswith("}\n") and text.startswith('{\n  "version": 1,\n  "name": "saved",\n  "nodes": [\n')
    assert list(json.loads(text)) == ["version", "name", "nodes", "links", "layout"]
    assert json.loads(text)["layout"] == {
        "nodes": {"data": {"x": 0.0, "y": 10.5}, "probe": {"x": 240.0, "y": 10.5}}
    }
    assert client.get("/api/pipelines/pipelines/new/saved.json").json()["document"] == json.loads(text)


def test_saving_keeps_project_problems_and_refuses_a_broken_document(client: TestClient, proj: Proj) -> None:
    unknown = probe_pipeline(samples=["s9"])
    kept = client.put("/api/pipelines/pipelines/half.json", json={"document": unknown})
    assert kept.status_code == 200
    assert kept.json()["problems"] == [
        {
            "path": "nodes[0].samples",
            "message": "unknown sample 's9'",
            "hint": "register it with `wfc sample add s9 PATH`",
            "severity": "error",
        }
    ]
    broken = {"version": 1, "name": "x", "nodes": [{"id": "a b", "method": "t/probe"}], "linkz": []}
    refused = client.put("/api/pipelines/pipelines/broken.json", json={"document": broken})
    assert refused.status_code == 422
    assert refused.json()["problems"] == _cli_problems(proj, broken)
    assert not (proj.root / "pipelines" / "broken.json").exists()


def _cli_problems(proj: Proj, doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The problems ``wfc validate --json`` prints for a document."""
    proj.write_pipeline(doc, "cli-check.json")
    found: list[dict[str, Any]] = json.loads(proj.wfc("validate", "cli-check.json", "--json").stdout)[
        "problems"
    ]
    (proj.root / "cli-check.json").unlink()
    return found


@pytest.mark.parametrize(
    "doc",
    [
        {"version": 1, "name": "x", "nodes": [{"id": "a b", "method": "t/probe"}], "linkz": []},
        {**probe_pipeline(samples=["s9"]), "links": [{"from": "data", "to": "probe.nope"}]},
        {
            **probe_pipeline(samples=["s1"]),
            "nodes": [{"id": "data", "samples": ["s1"]}, {"id": "probe", "method": "t/nope"}],
        },
    ],
    ids=["schema", "samples-and-slots", "unknown-method"],
)
def test_validate_gives_the_problems_of_wfc_validate(
    client: TestClient, proj: Proj, doc: dict[str, Any]
) -> None:
    answer = client.post("/api/validate", json={"document": doc})
    assert answer.status_code == 200
    assert answer.json() == {"valid": False, "problems": _cli_problems(proj, doc)}
    assert client.post("/api/plan", json={"document": doc}).json()["problems"] == [
        p for p in _cli_problems(proj, doc) if p["severity"] == "error"
    ]
    refused = client.post("/api/runs", json={"document": doc})
    assert refused.status_code == 422 and refused.json()["problems"] == answer.json()["problems"]
    assert client.get("/api/jobs").json() == {"jobs": []}  # nothing started


def test_a_layout_of_an_unknown_node_is_a_warning(client: TestClient) -> None:
    doc = {**probe_pipeline(samples=["s1"]), "layout": {"nodes": {"prob": {"x": 1, "y": 2}}}}
    assert client.post("/api/validate", json={"document": doc}).json() == {
        "valid": True,
        "problems": [
            {
                "path": "layout.nodes.prob",
                "message": "layout places unknown node 'prob' (did you mean 'probe'?)",
                "hint": "remove it from layout.nodes (the canvas rewrites the layout when it saves)",
                "severity": "warning",
            }
        ],
    }
    bad = {**probe_pipeline(samples=["s1"]), "layout": {"nodes": {"data": {"x": "left"}}}}
    paths = [p["path"] for p in client.post("/api/validate", json={"document": bad}).json()["problems"]]
    assert paths == ["layout.nodes.data.x", "layout.nodes.data.y"]


def test_plan_with_and_without_explain(client: TestClient) -> None:
    doc = probe_pipeline(samples=["s1"])
    plan = client.post("/api/plan", json={"document": doc}).json()
    assert plan["schema"] == "wfc.plan/1"
    assert [(s["name"], s["status"]) for s in plan["steps"]] == [("probe[s1]", "will run")]
    explained = client.post("/api/plan", json={"document": doc, "explain": True}).json()
    assert explained["steps"][0]["why"] == {
        "compared_with": None,
        "reasons": ["never ran: no earlier run of node 'probe'"],
    }


def test_the_layout_changes_no_key_and_no_compiled_file(proj: Proj) -> None:
    project = api.open_project(proj.root)
    plain = probe_pipeline(samples=["s1"])
    placed = {**plain, "layout": {"nodes": {"data": {"x": 5, "y": 5}, "probe": {"x": 300, "y": 5}}}}
    keys = [[s.key for s in api.plan(project, doc).steps] for doc in (plain, placed)]
    assert keys[0] == keys[1] and keys[0][0] is not None
    for backend in ("snakemake", "argo", "dvc"):
        files = []
        for doc in (plain, placed):
            path = proj.write_pipeline(doc, "same.json")
            found = api.compile(project, path, backend, out_dir=proj.root)
            # Argo archives the document as written (its bytes name the bundle), not in any key
            files.append({k: re.sub(r"blake3:[0-9a-f]{64}", "BUNDLE", v) for k, v in found.items()})
        assert files[0] == files[1], backend


# --- paths that leave the project --------------------------------------------------------------

BAD_PATHS = [
    ("../../etc/passwd", 404),  # the client resolves the dots: /etc/passwd is no route
    ("%2e%2e/%2e%2e/etc/passwd.json", 403),
    ("..%2f..%2fetc%2fpasswd.json", 403),
    ("/etc/passwd.json", 403),
    ("%2Fetc%2Fpasswd.json", 403),
    (".wfc/documents/x.json", 403),
    ("pipelines/.hidden.json", 403),
    ("pipelines/probe.json%00.txt", 403),
    ("s1.txt", 403),
    ("outside/leak.json", 403),  # a symlink out of the project
    ("link.json", 403),  # a symlinked file outside the project
    ("pipelines/none.json", 404),
]


@pytest.fixture
def outside(proj: Proj, tmp_path: Path) -> Path:
    """A directory outside the project, linked from inside it as ``outside/`` and ``link.json``."""
    away = tmp_path / "away"
    away.mkdir()
    (away / "leak.json").write_text(json.dumps(probe_pipeline()))
    (proj.root / "outside").symlink_to(away)
    (proj.root / "link.json").symlink_to(away / "leak.json")
    return away


def test_pipeline_paths_never_leave_the_project(client: TestClient, outside: Path) -> None:
    before = sorted(p.name for p in outside.iterdir())
    for path, status in BAD_PATHS:
        got = client.get(f"/api/pipelines/{path}")
        assert got.status_code == status, (path, got.text)
        assert "document" not in got.json()
        ran = client.post("/api/runs", json={"path": path.replace("%2e", ".").replace("%2f", "/")})
        assert ran.status_code in (403, 404), (path, ran.text)
        put = client.put(f"/api/pipelines/{path}", json={"document": probe_pipeline()})
        assert put.status_code == (200 if path == "pipelines/none.json" else status), (path, put.text)
    assert sorted(p.name for p in outside.iterdir()) == before
    assert json.loads((outside / "leak.json").read_text()) == probe_pipeline()
    assert client.get("/api/jobs").json() == {"jobs": []}


# --- runs, events, history, artifacts ----------------------------------------------------------


def test_a_run_reports_its_events_and_its_records(client: TestClient, proj: Proj) -> None:
    doc = _run(client, path="pipeline.json")
    kinds = [e["kind"] for e in doc["events"]]
    assert kinds[0] == "pipeline-started" and kinds[-2:] == ["pipeline-finished", "job-finished"]
    assert doc["status"] == "completed" and {e["job"] for e in doc["events"]} == {doc["job"]}
    seqs = [e["seq"] for e in doc["events"]]
    assert seqs == sorted(seqs) and doc["next"] == seqs[-1]
    assert client.get(f"/api/jobs/{doc['job']}/events", params={"since": doc["next"]}).json()["events"] == []
    finished = _finished_steps(doc["events"])
    assert {k: v["status"] for k, v in finished.items()} == {"probe[s1]": "completed"}
    pipeline_run = doc["events"][0]["pipeline_run"]
    (job,) = client.get("/api/jobs").json()["jobs"]
    assert job | {"started_at": "-"} == {
        "job": doc["job"],
        "kind": "run",
        "document_path": "pipeline.json",
        "pipeline": "probe",
        "pipeline_run": pipeline_run,
        "status": "completed",
        "started_at": "-",
        "error": None,
        "hint": None,
    }
    history = client.get("/api/pipeline-runs").json()
    assert history["schema"] == "wfc.runs/1" and [p["id"] for p in history["pipeline_runs"]] == [pipeline_run]
    assert client.get("/api/pipeline-runs", params={"status": "nope"}).status_code == 400
    detail = client.get(f"/api/pipeline-runs/{pipeline_run}").json()
    assert detail["document"] == json.loads((proj.root / "pipeline.json").read_text())
    assert [s["step"] for s in detail["pipeline_run"]["steps"]] == ["probe[s1]"]
    run_id = finished["probe[s1]"]["run_id"]
    shown = client.get(f"/api/runs/{run_id}").json()
    assert shown["schema"] == "wfc.show/1" and shown["status"] == "completed"
    assert client.get(f"/api/runs/{run_id[:10]}").json()["id"] == run_id  # a unique prefix
    logs = client.get(f"/api/runs/{run_id}/logs")
    assert logs.status_code == 200 and logs.text.startswith("TOKEN=")
    assert logs.headers["content-type"] == "text/plain; charset=utf-8"
    assert client.get(f"/api/runs/{run_id}/logs", params={"follow": 1}).text == logs.text  # it has ended
    lineage = client.get(f"/api/runs/{run_id}/lineage").json()
    assert lineage["schema"] == "wfc.lineage/1" and [e["from"] for e in lineage["edges"]] == ["sample:s1@1"]
    out = client.get(f"/api/runs/{run_id}/outputs/out")
    assert out.status_code == 200 and out.content == b"alpha\nk=1 sample=s1\n"
    assert out.headers["x-content-type-options"] == "nosniff"
    assert out.headers["content-security-policy"] == "sandbox"
    assert "content-disposition" not in out.headers
    download = client.get(f"/api/runs/{run_id}/outputs/out", params={"download": 1})
    assert download.headers["content-disposition"] == 'attachment; filename="out.txt"'
    again = _run(client, document=probe_pipeline(samples=["s1"]))  # an edited document: cached
    assert {k: v["status"] for k, v in _finished_steps(again["events"]).items()} == {"probe[s1]": "cached"}


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("r-nope", 404),
        ("RUN/logs?stream=stderr", 200),
        ("RUN/logs?stream=both", 400),
        ("RUN/lineage?down=true", 200),
        ("RUN/outputs/nope", 404),
        ("RUN/outputs/out/x", 404),
        ("p-nope/outputs/out", 404),
    ],
)
def test_unknown_runs_and_slots_are_404(client: TestClient, path: str, status: int) -> None:
    run_id = _finished_steps(_run(client, path="pipeline.json")["events"])["probe[s1]"]["run_id"]
    answer = client.get("/api/runs/" + path.replace("RUN", run_id))
    assert answer.status_code == status, answer.text
    if status == 404:
        assert set(answer.json()) == {"error", "hint"}
    assert client.get("/api/pipeline-runs/p-nope").status_code == 404
    assert client.get("/api/jobs/j-99/events").status_code == 404
    assert client.post("/api/jobs/j-99/cancel").status_code == 404


def test_directory_outputs_list_their_files_and_serve_only_those(client: TestClient, proj: Proj) -> None:
    doc = _run(client, document=_tree_pipeline())
    assert doc["status"] == "completed", doc["events"]
    run_id = _finished_steps(doc["events"])["tree[s1]"]["run_id"]
    listing = client.get(f"/api/runs/{run_id}/outputs/tree").json()
    assert [(f["path"], f["executable"]) for f in listing["files"]] == [
        ("a.txt", False),
        ("run.sh", True),
        ("sub/b.txt", False),
    ]
    inner = client.get(f"/api/runs/{run_id}/outputs/tree/sub/b.txt")
    assert inner.status_code == 200 and inner.content == b"B\n"
    assert inner.headers["content-security-policy"] == "sandbox"
    secret = proj.root / "secret.json"
    secret.write_text('{"TOPSECRET": 1}')
    for path, status in [
        ("../../../../../../etc/passwd", 404),  # resolved by the client: no such route
        ("%2e%2e/%2e%2e/secret.json", 403),
        ("sub/%2e%2e/a.txt", 403),
        ("/etc/passwd", 403),
        ("%2Fetc%2Fpasswd", 403),
        ("a.txt%00", 403),
        ("empty", 404),  # an empty directory: nothing to serve
        ("sub", 404),
        ("nope.txt", 404),
    ]:
        answer = client.get(f"/api/runs/{run_id}/outputs/tree/{path}")
        assert answer.status_code == status, (path, answer.text)
        assert b"TOPSECRET" not in answer.content and b"root:" not in answer.content


def test_a_corrupt_or_missing_object_is_never_served(client: TestClient, proj: Proj) -> None:
    run_id = _finished_steps(_run(client, path="pipeline.json")["events"])["probe[s1]"]["run_id"]
    digest = client.get(f"/api/runs/{run_id}").json()["outputs"][0]["hash"]
    obj = api.open_project(proj.root).object_store().path(digest)
    obj.chmod(0o644)
    obj.write_bytes(b"tampered\n")
    answer = client.get(f"/api/runs/{run_id}/outputs/out")
    assert answer.status_code == 404 and b"tampered" not in answer.content
    assert answer.json()["error"].startswith(f"output 'out' of run {run_id}: object {digest} is corrupt")
    assert obj.read_bytes() == b"tampered\n"  # reported, not quarantined: the canvas only reads
    obj.unlink()
    assert "is missing from the store" in client.get(f"/api/runs/{run_id}/outputs/out").json()["error"]


def test_a_cancelled_run_ends_cancelled(client: TestClient, proj: Proj) -> None:
    doc = probe_pipeline(params={"sleep": 60}, samples=["s1"])
    job = client.post("/api/runs", json={"document": doc}).json()["job"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        events = client.get(f"/api/jobs/{job}/events").json()["events"]
        if any(e["kind"] == "step-started" for e in events):
            break
        time.sleep(0.1)
    assert client.post(f"/api/jobs/{job}/cancel").json() == {"job": job, "cancelled": True}
    started = time.monotonic()
    done = _finish(client, job, timeout=60)
    assert time.monotonic() - started < 40
    assert done["status"] == "cancelled"
    assert [e["status"] for e in done["events"] if e["kind"] == "pipeline-finished"] == ["cancelled"]
    assert _finished_steps(done["events"])["probe[s1]"]["status"] == "cancelled"


def test_force_must_name_method_nodes(client: TestClient) -> None:
    refused = client.post("/api/runs", json={"path": "pipeline.json", "force": ["prob"]})
    assert refused.status_code == 400
    assert refused.json() == {
        "error": "force: no method node 'prob' (did you mean 'probe'?)",
        "hint": "method nodes: probe",
    }
    assert client.post("/api/runs", json={}).json()["error"] == "bad request: give 'document' or 'path'"
    assert client.post("/api/runs", json={"path": "pipeline.json", "cores": 0}).status_code == 400
    assert client.post("/api/runs", json={"path": "pipeline.json", "nope": 1}).status_code == 400


def test_the_event_stream_replays_batches_and_announces_foreign_runs(client: TestClient, proj: Proj) -> None:
    done = _run(client, path="pipeline.json")
    app: Any = client.app
    app.state.closing.set()  # the stream sends what it has, then ends
    text = client.get("/api/events", params={"since": 0}).text
    assert text.startswith("retry: 1000\n\n")
    batches = [block for block in text.split("\n\n") if "event: batch" in block]
    sent = [e for block in batches for e in json.loads(block.split("data: ", 1)[1])]
    assert sent == done["events"]
    assert batches[-1].startswith(f"id: {done['next']}\n")
    resumed = client.get("/api/events", headers={"Last-Event-ID": str(done["next"] - 2)}).text
    assert [
        e["seq"]
        for b in resumed.split("\n\n")
        if "event: batch" in b
        for e in json.loads(b.split("data: ", 1)[1])
    ] == [
        done["next"] - 1,
        done["next"],
    ]
    watch = app.state.watch  # polling every second since the app started
    before = watch.generation
    time.sleep(2.5)
    assert watch.generation == before  # this server's own run is not news
    proj.wfc("run-pipeline", "pipeline.json", "--force", "probe", env={"WFC_RUNTIME": "process"}, check=True)
    deadline = time.monotonic() + 10
    while watch.generation == before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert watch.generation > before  # a run from the command line is

    async def after_news() -> list[str]:
        stream = event_stream(app.state.jobs, watch, done["next"], asyncio.Event())
        first = await anext(stream)
        watch.generation += 1
        return [first, await anext(stream)]

    assert asyncio.run(after_news()) == ["retry: 1000\n\n", "event: runs\ndata: {}\n\n"]


def test_the_committed_openapi_document_is_current() -> None:
    assert (REPO / "canvas" / "openapi.json").read_text() == openapi_text(), (
        "regenerate it: .venv/bin/python -m wfc.canvas.openapi > canvas/openapi.json"
    )


# --- the real server ---------------------------------------------------------------------------


def test_wfc_canvas_serves_the_page_and_the_api(proj: Proj) -> None:
    with canvas(proj.root, "pipelines/probe.json") as (url, token, proc):
        assert url.endswith("&open=pipelines/probe.json") and len(token) == 32
        base = base_of(url)
        page = httpx.get(url)
        assert page.status_code == 200 and page.cookies["wfc_canvas"] == token
        project = httpx.get(base + "/api/project", cookies={"wfc_canvas": token})
        assert project.status_code == 200 and project.json()["open"] == "pipelines/probe.json"
        assert httpx.get(base + "/api/project").status_code == 403
        with httpx.stream("GET", base + "/api/events", params={"since": 0}, headers=_auth(token)) as events:
            assert events.headers["content-type"].startswith("text/event-stream")
            assert next(events.iter_lines()) == "retry: 1000"
    assert proc.returncode is not None


def test_wfc_canvas_errors_and_help(proj: Proj) -> None:
    shown = proj.wfc("canvas", "--help")
    assert (
        shown.returncode == 0 and "Example: wfc canvas pipelines/rna.json --port 0 --no-open" in shown.stdout
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = proj.wfc("canvas", "--port", str(port), "--no-open")
    assert (busy.returncode, busy.stdout) == (2, "")
    assert busy.stderr == (
        f"error: port {port} on 127.0.0.1 is already in use\n"
        "hint: pass --port 0 to pick a free port, or another --port\n"
    )
    elsewhere = proj.root.parent / "elsewhere.json"
    elsewhere.write_text("{}")
    away = proj.wfc("canvas", str(elsewhere), "--no-open")
    assert away.returncode == 2 and away.stderr.startswith(f"error: {elsewhere} is not inside the project")


def test_stopping_the_server_cancels_its_runs(proj: Proj) -> None:
    url, token, proc = start_canvas(proj.root, env={"WFC_RUNTIME": "process"})
    try:
        doc = probe_pipeline(params={"sleep": 60}, samples=["s1"])
        job = httpx.post(base_of(url) + "/api/runs", json={"document": doc}, headers=_auth(token)).json()[
            "job"
        ]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            events = httpx.get(base_of(url) + f"/api/jobs/{job}/events", headers=_auth(token)).json()[
                "events"
            ]
            if any(e["kind"] == "step-started" for e in events):
                break
            time.sleep(0.2)
    finally:
        stopped = time.monotonic()
        stop_canvas(proc)
    assert time.monotonic() - stopped < 40
    assert {row[0] for row in proj.rows("SELECT status FROM pipeline_runs")} == {"cancelled"}


# --- Docker ------------------------------------------------------------------------------------


def test_a_docker_run_streams_its_events_and_a_cancel_leaves_no_container(probe_project: Proj) -> None:
    project = api.open_project(probe_project.root)
    with TestClient(create_app(project, TOKEN, [HOST]), headers=_auth()) as client:
        done = _run(client, path="pipeline.json")
        kinds = [e["kind"] for e in done["events"]]
        assert "step-finished" in kinds and "pipeline-finished" in kinds, done
        assert {e["status"] for e in done["events"] if e["kind"] == "step-finished"} == {"completed"}
        probe_project.write_pipeline(probe_pipeline(params={"sleep": 60}))
        job = client.post("/api/runs", json={"path": "pipeline.json", "cores": 2}).json()["job"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not project_containers(probe_project):
            time.sleep(0.5)
        assert project_containers(probe_project), "no container started"
        client.post(f"/api/jobs/{job}/cancel")
        cancelled = _finish(client, job, timeout=120)
    assert cancelled["status"] == "cancelled"
    assert {e["status"] for e in cancelled["events"] if e["kind"] == "step-finished"} == {"cancelled"}
    assert project_containers(probe_project) == []
