"""``wfc report PIPELINE_RUN -o report.html`` (issue 15, item 5): one self-contained HTML file.

The unit tests write synthetic lineage records straight into a database (no Docker): 1,000 steps
give a file under 2 MB, every row is there, and hostile names, params and stderr tails stay text.
The end-to-end test runs a real pipeline (completed, cached and failed steps) in Docker, writes
the report with the CLI and opens it from ``file://`` in the system's headless Chromium, with
every request that is not ``file://`` failing the test; its screenshot is saved as
``tests/artifacts/report-run.png``.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import asdict
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from tests.conftest import REPO, Proj, chain, run_pipeline
from wfc.lineage.db import database
from wfc.lineage.records import InputRecord, OutputRecord, PipelineRunRecord, RunRecord
from wfc.lineage.schema import PipelineRun, Run, RunInput, RunOutput
from wfc.ops.report import gather, write_report
from wfc.ops.report_html import render
from wfc.project import Project

T0 = datetime(2026, 1, 1)
HOSTILE = '<script>alert("x")</script>'
EVIL_PARAM = "</code><img src=x onerror=alert(1)>"
ARTIFACTS = REPO / "tests" / "artifacts"
NODES = ("clean", "align", "count", "summarise")
STATUSES = ("completed", "cached", "completed", "failed", "cancelled")


def _hash(n: int) -> str:
    return f"blake3:{n:064x}"


def _run(i: int, node: str, sample: str, status: str, **kw: Any) -> RunRecord:
    start = T0 + timedelta(seconds=i)
    fields: dict[str, Any] = {
        "id": f"r-{i:026d}",
        "pipeline_run_id": "p-synthetic",
        "node_id": node,
        "sample": sample,
        "variant": None,
        "members": None,
        "module": "m",
        "method": node,
        "code_hash": _hash(1),
        "contract_hash": _hash(2),
        "params": {"k": i % 3},
        "env_name": "python",
        "env_digest": "sha256:" + "e" * 64,
        "key": _hash(10_000 + i),
        "status": status,
        "started_at": start,
        "ended_at": start + timedelta(seconds=5),
        "reason": "new: no earlier run of this step" if status != "cached" else None,
        "cache_source_id": f"r-{0:026d}" if status == "cached" else None,
        "error": "exit code 3" if status == "failed" else None,
        "error_tail": "ValueError: bad\n" if status == "failed" else None,
        "resources": {"wall_s": 5.0, "cpu_s": 4.5, "peak_memory_bytes": 3 << 20}
        if status == "completed"
        else None,
        **kw,
    }
    return RunRecord(**fields)


def synthetic(path: Path, steps: int, *, hostile: bool = False) -> str:
    """A pipeline run of ``steps`` steps (four nodes in a chain, over ``steps / 4`` samples) written
    in one transaction; returns the database URL."""
    url = f"sqlite:///{path}"
    samples = [f"s{n:04d}" for n in range(steps // len(NODES))]
    source = HOSTILE if hostile else "data"  # the input node's id
    if hostile:
        samples[0] = HOSTILE
    document = {
        "version": 1,
        "name": "synthetic",
        "nodes": [{"id": source, "samples": samples}, *({"id": n, "method": f"m/{n}"} for n in NODES)],
        "links": [{"from": a, "to": f"{b}.data"} for a, b in zip((source, *NODES), NODES, strict=False)],
    }
    runs, inputs, outputs = [], [], []
    for i in range(steps):
        node, sample = NODES[i % len(NODES)], samples[i // len(NODES)]
        extra: dict[str, Any] = {}
        if hostile and i < len(NODES):
            extra = {"params": {"note": EVIL_PARAM}, "error_tail": f"<b>{HOSTILE}</b>", "reason": HOSTILE}
        run = _run(i, node, sample, STATUSES[i % len(STATUSES)], **extra)
        runs.append(run)
        if i % len(NODES):
            inputs.append(InputRecord(run.id, "data", 0, _hash(i), "file", runs[-2].id, "out"))
        outputs.append(OutputRecord(run.id, "out", f"{node}.txt", _hash(50_000 + i), 1234 + i, "file"))
    with database(url) as db, db.session() as s, s.begin():
        pr = PipelineRunRecord(
            "p-synthetic", EVIL_PARAM if hostile else "synthetic", _hash(3), json.dumps(document), "failed",
            T0, "0.test",
            git_commit="c0ffee" * 6 + "abcd",
        )  # fmt: skip
        s.add(PipelineRun(**asdict(pr)))
        s.flush()
        s.add_all(Run(**asdict(r)) for r in runs)
        s.flush()
        s.add_all(RunInput(**asdict(i)) for i in inputs)
        s.add_all(RunOutput(**asdict(o)) for o in outputs)
    return url


class Tags(HTMLParser):
    """Every start tag of a page and its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(page)
    return parser.tags


def test_a_run_of_1000_steps_gives_a_small_report_with_every_step(tmp_path: Path) -> None:
    url = synthetic(tmp_path / "wfc.db", 1000)
    with database(url, read_only=True) as db:
        report = gather(db, "p-syn")
    page = render(report)
    size = len(page.encode())
    print(f"1000-step report: {size} bytes")
    assert size < 2_000_000
    assert len(report.steps) == 1000
    assert page.count("<tr data-status=") == 1000
    assert page.count('<tr data-status="cached">') == 200
    assert "clean[s0000]" in page and "summarise[s0249]" in page
    assert "c0ffee" * 6 + "abcd" in page  # the git commit
    assert 'data-node-id="count" data-status="failed"' in page  # a node shows its worst status
    assert "clean (m/clean): 50 failed · 50 cancelled · 100 completed · 50 cached" in page
    assert page.count("<g data-node-id=") == 5  # one box per node id (and the input), not per step
    assert "sha256:" + "e" * 64 in page  # the environment's digest, whole
    assert f'title="{_hash(50_000)}"' in page  # an output hash, shortened, whole in its title
    assert "4.5s" in page and "3.0 MiB" in page  # CPU and peak memory


def test_hostile_names_params_and_stderr_stay_text(tmp_path: Path) -> None:
    url = synthetic(tmp_path / "wfc.db", 8, hostile=True)
    with database(url, read_only=True) as db:
        page = render(gather(db, "p-synthetic"))
    tags = tags_of(page)
    assert [t for t, _a in tags].count("script") == 1  # the table sorter, nothing else
    assert "img" not in {t for t, _a in tags}
    assert not [a for _t, attrs in tags for a in attrs if a.startswith("on")]
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "&lt;/code&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;b&gt;&lt;script&gt;" in page  # the stderr tail
    assert 'data-node-id="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" data-status="input"' in page


def test_the_page_forbids_every_fetch(tmp_path: Path) -> None:
    url = synthetic(tmp_path / "wfc.db", 4)
    with database(url, read_only=True) as db:
        page = render(gather(db, "p-synthetic"))
    assert "default-src 'none'" in page
    assert not re.search(r"(src|href)=\"?(https?:)?//", page)


def _project_with_synthetic_run(proj: Proj) -> Project:
    project = Project.load(str(proj.root), {})
    synthetic(project.root / ".wfc" / "wfc.db", 8)
    return project


def test_write_report_refuses_to_overwrite_without_force(project: Proj, tmp_path: Path) -> None:
    loaded = _project_with_synthetic_run(project)
    (tmp_path / "out").mkdir()
    dest = tmp_path / "out" / "report.html"
    dest.write_text("mine")
    proc = project.wfc("report", "p-synthetic", "-o", str(dest))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"error: {dest} already exists: not overwriting it",
        "hint: choose another file, or pass --force to replace it",
    ]
    assert dest.read_text() == "mine"
    done = write_report(loaded, "p-synthetic", dest, force=True)
    assert done.bytes == dest.stat().st_size and done.steps == 8
    assert [p.name for p in dest.parent.iterdir()] == ["report.html"]  # no temporary file left
    again = project.wfc("report", "p-synth", "-o", str(dest), "--force", check=True)
    size = dest.stat().st_size
    assert again.stderr == f"wrote the report of pipeline run p-synthetic to {dest} (8 steps, {size} bytes)\n"


def test_report_errors_say_what_to_do(project: Proj, tmp_path: Path) -> None:
    _project_with_synthetic_run(project)
    unknown = project.wfc("report", "p-nope")
    assert unknown.returncode == 2
    assert unknown.stderr.splitlines() == [
        "error: no pipeline run 'p-nope'",
        "hint: list pipeline runs with `wfc runs`; their ids start with p-",
    ]
    folder = project.wfc("report", "p-synthetic", "-o", str(tmp_path))
    assert folder.stderr.splitlines() == [
        f"error: {tmp_path} is a directory",
        "hint: give the report a file name, e.g. -o report.html",
    ]
    nowhere = project.wfc("report", "p-synthetic", "-o", str(tmp_path / "no" / "r.html"))
    assert nowhere.stderr.splitlines() == [
        f"error: no directory {tmp_path / 'no'} for the report",
        "hint: create it, or choose another path",
    ]
    helped = project.wfc("report", "--help", check=True)
    assert "Example: wfc report p-01JD2 -o report.html" in helped.stdout


def _state(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns, p.read_bytes()) for p in folder.glob("wfc.db*")}


def test_report_json_names_the_file_and_the_database_is_only_read(project: Proj, tmp_path: Path) -> None:
    _project_with_synthetic_run(project)
    before = _state(project.root / ".wfc")
    dest = tmp_path / "r.html"
    proc = project.wfc("report", "p-synthetic", "-o", str(dest), "--json", check=True)
    assert _state(project.root / ".wfc") == before
    doc = json.loads(proc.stdout)
    assert doc == {
        "schema": "wfc.report/1",
        "pipeline_run": "p-synthetic",
        "path": str(dest),
        "bytes": dest.stat().st_size,
        "steps": 8,
    }


# --- a real run, in a real browser -------------------------------------------------------------


def _git_commit(root: Path) -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True)
        return done.stdout.strip()

    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "pipeline")
    return git("rev-parse", "HEAD")


def test_a_real_report_opens_from_a_file_without_the_network(chained: Proj) -> None:
    from playwright.sync_api import expect, sync_playwright

    from tests.canvas_server import CHROMIUM, CHROMIUM_ARGS

    one = chain()
    one["nodes"][0]["samples"] = ["s1"]
    chained.write_pipeline(one)
    run_pipeline(chained)  # a[s1], b[s1] completed
    again = chain()  # another name, so Snakemake's own files do not skip a[s1]: wfc serves it
    again["name"] = "chain-again"
    again["nodes"][2]["overrides"] = {"s2": {"mode": "fail"}}
    chained.write_pipeline(again)
    commit = _git_commit(chained.root)
    proc = chained.wfc("run-pipeline", "pipeline.json", "--keep-going", "--json", timeout=600)
    assert proc.returncode == 1, proc.stderr
    second = json.loads(proc.stdout)
    statuses = {s["name"]: s["status"] for s in second["steps"]}
    assert statuses == {"a[s1]": "cached", "a[s2]": "completed", "b[s1]": "cached", "b[s2]": "failed"}
    dest = chained.root / "report.html"
    chained.wfc("report", second["pipeline_run"], "-o", "report.html", check=True)
    output_hash = chained.rows("SELECT content_hash FROM run_outputs LIMIT 1")[0][0]

    assert CHROMIUM.exists(), "no Chromium at /usr/lib/chromium/chromium: apt-get install chromium"
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.route("**/*", lambda route: _only_files(route, requests))
            page.goto(dest.as_uri())
            expect(page.locator("h1")).to_have_text("chain-again")
            for step, status in statuses.items():
                row = page.locator(f'tr[data-status="{status}"]', has=page.get_by_text(step, exact=True))
                expect(row).to_have_count(1)
            expect(page.locator('[data-node-id="b"][data-status="failed"]')).to_be_visible()
            expect(page.locator('[data-node-id="a"][data-status="completed"]')).to_be_visible()
            expect(page.get_by_text(commit)).to_be_visible()
            expect(page.locator(f'code[title="{output_hash}"]').first).to_be_visible()
            expect(page.get_by_text("ValueError: the input is bad").first).to_be_visible()
            rows = page.locator("table.sort").first.locator("tbody tr")
            page.get_by_role("columnheader", name="Status").click()  # the tables sort by a column
            expect(rows.last).to_have_attribute("data-status", "failed")
            page.get_by_role("columnheader", name="Status").click()
            expect(rows.first).to_have_attribute("data-status", "failed")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report-run.png"), full_page=True)
        finally:
            browser.close()
    assert [u for u in requests if not u.startswith("file://")] == []


def _only_files(route: Any, seen: list[str]) -> None:
    seen.append(route.request.url)
    if route.request.url.startswith("file://"):
        route.continue_()
    else:
        route.abort()


def test_the_canvas_serves_the_report_sandboxed(project: Proj) -> None:
    from fastapi.testclient import TestClient

    from wfc.canvas.app import create_app

    loaded = _project_with_synthetic_run(project)
    with TestClient(create_app(loaded, "t0ken", ["testserver"])) as browser:
        assert browser.get("/api/pipeline-runs/p-synthetic/report").status_code == 403  # no token
        auth = {"Authorization": "Bearer t0ken"}
        page = browser.get("/api/pipeline-runs/p-synthetic/report", headers=auth)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.headers["content-security-policy"].startswith(
            "sandbox allow-scripts; default-src 'none';"
        )
        assert "<h1>synthetic</h1>" in page.text and page.text.count("<tr data-status=") == 8
        missing = browser.get("/api/pipeline-runs/p-nope/report", headers=auth)
        assert missing.status_code == 404
        assert missing.json()["error"] == "no pipeline run 'p-nope'"
