"""``wfc canvas`` in a real browser: Debian's headless Chromium, driven by Playwright (BRIEF §20).

One Chromium per module; each test has its own project and its own ``wfc canvas --port 0
--no-open`` server (``tests/canvas_server.py``), stopped by its PID at the end. The tests touch the
page only through the stable hooks of the contract: ``[data-node-id][data-status]`` graph nodes,
``[data-step][data-status]`` step rows, ``[data-method]`` palette items, ``[data-handle]`` slots, and
buttons by their accessible names (Run, Cancel, Save, Validate). They wait with ``expect`` (polling),
never with fixed sleeps; Docker steps get generous timeouts.

Every scenario saves screenshots as ``tests/artifacts/canvas-<scenario>-<state>.png`` (ignored by
git). With ``WFC_UPDATE_SCREENSHOTS=1`` the tour's images in ``docs/canvas/`` are written as well.

No browser is ever downloaded (no ``playwright install``): the system ``chromium`` is launched,
which ``scripts/install.sh`` installs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from tests.canvas_server import CHROMIUM, CHROMIUM_ARGS, start_canvas, stop_canvas
from tests.conftest import REPO, Proj, add_examples, probe_pipeline, project_containers

VIEWPORT = {"width": 1440, "height": 900}
ARTIFACTS = REPO / "tests" / "artifacts"
DOCS_IMAGES = REPO / "docs" / "canvas"
UPDATE_SCREENSHOTS = os.environ.get("WFC_UPDATE_SCREENSHOTS") == "1"
QUICKSTART = "examples/pipelines/quickstart.json"
QUICKSTART_STEPS = ["clean[east]", "clean[north]", "clean[south]", "summarise", "report"]
UI = 15_000  # ms: the page reacting to a click
DOCKER = 180_000  # ms: steps in containers, on a shared 2-core machine


expect.set_options(timeout=UI)

# --- the browser, the server, the page ---------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless system Chromium for the module; a missing browser is an error, not a skip."""
    assert CHROMIUM.exists(), "no Chromium at /usr/lib/chromium/chromium: apt-get install chromium"
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


Serve = Callable[..., str]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """``serve(proj, *args)`` starts ``wfc canvas --port 0 --no-open [args]`` in the project and
    returns the URL it printed (token included); every server started is stopped by its PID."""
    procs: list[subprocess.Popen[Any]] = []

    def start(proj: Proj, *args: str) -> str:
        url, _token, proc = start_canvas(proj.root, *args)
        procs.append(proc)
        return str(url)

    yield start
    for proc in procs:
        stop_canvas(proc)  # SIGTERM by PID (the server cancels its jobs), SIGKILL if it lingers


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context (no cookies) at 1440x900; uncaught page errors fail the test, and
    every test leaves a screenshot of where it stopped (``canvas-<test>-last.png``)."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    context.set_default_timeout(UI)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    if not page.is_closed():
        shot(page, request.node.name.removeprefix("test_"), "last")
    context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


def shot(page: Page, scenario: str, state: str, doc: str | None = None) -> None:
    """Save ``tests/artifacts/canvas-<scenario>-<state>.png``; with WFC_UPDATE_SCREENSHOTS=1 and a
    ``doc`` name, also ``docs/canvas/<doc>.png`` (the viewport only: 1440x900)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"canvas-{scenario}-{state}.png"))
    if doc and UPDATE_SCREENSHOTS:
        DOCS_IMAGES.mkdir(exist_ok=True)
        page.screenshot(path=str(DOCS_IMAGES / f"{doc}.png"))


def node(page: Page, node_id: str, status: str | None = None) -> Locator:
    """The graph node ``node_id`` (with ``status``, when given)."""
    where = f'[data-node-id="{node_id}"]'
    return page.locator(where + (f'[data-status="{status}"]' if status else ""))


def step_row(page: Page, step: str, status: str | None = None) -> Locator:
    where = f'[data-step="{step}"]'
    return page.locator(where + (f'[data-status="{status}"]' if status else ""))


def button(page: Page, name: str) -> Locator:
    return page.get_by_role("button", name=name, exact=True)


def wait_for_statuses(page: Page, nodes: list[str], status: str, timeout: int = DOCKER) -> None:
    for node_id in nodes:
        expect(node(page, node_id, status)).to_have_count(1, timeout=timeout)


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``check`` (for state outside the page, like containers) until it holds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.2)


# --- projects ----------------------------------------------------------------------------------


@pytest.fixture
def examples(project: Proj, built_envs: Path) -> Proj:
    """A project with the shipped methods, example pipelines, built environments and samples."""
    shutil.copytree(built_envs, project.root / "environments", dirs_exist_ok=True)
    return add_examples(project)


def probe_document(proj: Proj, name: str, **params: Any) -> str:
    """``pipelines/<name>.json``: samples s1, s2 -> t/probe with ``params``; its project path."""
    path = proj.root / "pipelines" / f"{name}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({**probe_pipeline(params), "name": name}, indent=2) + "\n")
    return f"pipelines/{name}.json"


# --- (a) draw, save, run from the CLI ----------------------------------------------------------


def test_draw_connect_set_param_and_save_a_pipeline_the_cli_runs(
    chained: Proj, serve: Serve, page: Page
) -> None:
    proj = chained  # has t/probe, t/copy and samples s1, s2
    page.goto(serve(proj))
    expect(page.locator('[data-method="t/probe"]')).to_be_visible()
    inspector(page).get_by_label("Name", exact=True).fill("drawn")  # nothing selected: the pipeline
    inspector(page).get_by_label("Name", exact=True).press("Tab")
    shot(page, "draw", "empty")

    drop(page, page.locator('[data-palette="samples"]'), x=20, y=30)
    dialog = page.get_by_role("dialog", name="Add samples")
    for name in ("s1", "s2"):
        dialog.get_by_role("checkbox", name=name, exact=True).check()
    dialog.get_by_role("button", name="Add input node", exact=True).click()
    drop(page, page.locator('[data-method="t/probe"]'), x=260, y=90)
    drop(page, page.locator('[data-method="t/copy"]'), x=500, y=150)
    expect(page.locator("[data-node-id]")).to_have_count(3)
    assert node_ids(page) == ["samples", "probe", "copy"]  # named after the method, unique
    button(page, "Auto-layout").click()  # wherever they were dropped: apart, in view
    settled(page)

    connect(page, "samples:out:data", "probe:in:data")
    connect(page, "probe:out:out", "copy:in:data")
    expect(page.locator(".svelte-flow__edge")).to_have_count(2)

    node(page, "probe").click()
    k = inspector(page).get_by_label("k", exact=True)
    k.fill("5")
    k.press("Tab")  # the form commits on change
    button(page, "Validate").click()
    expect(page.get_by_text("valid", exact=True)).to_be_visible()
    expect(page.get_by_role("tab", name="Problems (0)")).to_be_visible()
    shot(page, "draw", "drawn")

    button(page, "Save").click()
    dialog = page.get_by_role("dialog", name="Save the pipeline as")
    dialog.get_by_role("textbox").fill("drawn")
    dialog.get_by_role("button", name="Write file", exact=True).click()
    saved = proj.root / "pipelines" / "drawn.json"
    wait_until(saved.exists, 15, "pipelines/drawn.json to be written")
    expect(dialog).to_have_count(0)
    shot(page, "draw", "saved")

    document = json.loads(saved.read_text())
    layout = document.pop("layout")
    assert set(layout["nodes"]) == {"samples", "probe", "copy"}
    assert all(set(xy) == {"x", "y"} for xy in layout["nodes"].values())
    assert document == {
        "version": 1,
        "name": "drawn",
        "nodes": [
            {"id": "samples", "samples": ["s1", "s2"], "mode": "each"},
            {"id": "probe", "method": "t/probe", "params": {"k": 5}},
            {"id": "copy", "method": "t/copy"},
        ],
        "links": [{"from": "samples", "to": "probe.data"}, {"from": "probe.out", "to": "copy.data"}],
    }
    run = proj.wfc("run-pipeline", "pipelines/drawn.json", "--cores", "2", timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr


def inspector(page: Page) -> Locator:
    return page.get_by_role("complementary", name="Inspector")


def node_ids(page: Page) -> list[str]:
    ids = page.locator("[data-node-id]").evaluate_all("els => els.map(e => e.dataset.nodeId)")
    return [str(x) for x in ids]


def drop(page: Page, item: Locator, x: int, y: int) -> None:
    """Drag a palette item onto the canvas at (x, y) from its top left corner (HTML5 drag and drop)."""
    item.drag_to(page.get_by_role("application", name="Pipeline canvas"), target_position={"x": x, "y": y})


def settled(page: Page) -> None:
    """Wait until the canvas stops moving (a fit or a layout animates the viewport)."""
    page.wait_for_function(
        """() => {
            const now = document.querySelector('.svelte-flow__viewport')?.style.transform;
            const same = now !== undefined && now === window.__wfcViewport;
            window.__wfcViewport = now;
            return same;
        }""",
        polling=300,
    )


def connect(page: Page, source: str, target: str) -> None:
    """Draw a link with the mouse from the handle ``source`` to the handle ``target``."""
    start = page.locator(f'[data-handle="{source}"]').bounding_box()
    end = page.locator(f'[data-handle="{target}"]').bounding_box()
    assert start is not None and end is not None, (source, target)
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=12)
    page.mouse.up()


# --- (b) run the quick start, then again: all cached -------------------------------------------


def test_quickstart_runs_then_every_node_is_cached(examples: Proj, serve: Serve, page: Page) -> None:
    page.goto(serve(examples, QUICKSTART))
    nodes = ["regions", "clean", "summarise", "report"]
    methods = ["clean", "summarise", "report"]
    for node_id in nodes:
        expect(node(page, node_id)).to_be_visible()
    shot(page, "quickstart", "opened", doc="editor")

    button(page, "Run").click()
    expect(button(page, "Cancel")).to_be_enabled()  # a job is going
    shot(page, "quickstart", "started")
    wait_for_statuses(page, methods, "completed")
    for step in QUICKSTART_STEPS:
        expect(step_row(page, step, "completed")).to_have_count(1)
    expect(button(page, "Cancel")).to_be_disabled()  # the job is over, not only its steps
    shot(page, "quickstart", "completed", doc="run-finished")

    button(page, "Run").click()
    wait_for_statuses(page, methods, "cached")
    for step in QUICKSTART_STEPS:
        expect(step_row(page, step, "cached")).to_have_count(1)
    expect(button(page, "Cancel")).to_be_disabled()
    shot(page, "quickstart", "cached")


# --- (c) a failing step ------------------------------------------------------------------------


def test_a_failing_step_shows_its_error_and_stderr_tail(
    probe_project: Proj, serve: Serve, page: Page
) -> None:
    path = probe_document(probe_project, "fails", mode="fail")
    page.goto(serve(probe_project, path))
    button(page, "Run").click()
    expect(node(page, "probe", "failed")).to_have_count(1, timeout=DOCKER)
    failed = step_row(page, "probe[s1]", "failed")
    expect(failed).to_contain_text(ERROR)  # the steps list says why: the error
    shot(page, "fail", "failed")

    failed.click()  # the editor's log panel: the stderr tail, then the log
    expect(page.get_by_text(TAIL_START).first).to_be_visible()
    shot(page, "fail", "logs")

    page.get_by_role("tab", name="Runs", exact=True).click()
    page.locator("[data-pipeline-run]").filter(has_text="fails").click()
    step_row(page, "probe[s1]", "failed").click()
    panel = step_panel(page)
    expect(panel).to_contain_text(ERROR)
    expect(panel).to_contain_text(TAIL_START)
    shot(page, "fail", "step-panel")


ERROR = "ValueError: the input is bad"  # the probe's stderr ends with it
TAIL_START = "Traceback (most recent call last):"


def step_panel(page: Page) -> Locator:
    """The Runs view's panel of one step run (everything ``wfc show`` shows)."""
    return page.get_by_role("region", name="Step run")


# --- (d) cancel a long step --------------------------------------------------------------------


def test_cancel_during_a_long_step_leaves_no_container(probe_project: Proj, serve: Serve, page: Page) -> None:
    path = probe_document(probe_project, "long", sleep=60)  # the probe's timeout is 20 s: cancel first
    page.goto(serve(probe_project, path))
    button(page, "Run").click()
    expect(node(page, "probe", "running")).to_have_count(1, timeout=DOCKER)
    shot(page, "cancel", "running")

    button(page, "Cancel").click()
    expect(node(page, "probe", "cancelled")).to_have_count(1, timeout=60_000)
    for step in ("probe[s1]", "probe[s2]"):
        expect(step_row(page, step, "cancelled")).to_have_count(1)
    shot(page, "cancel", "cancelled")
    wait_until(lambda: project_containers(probe_project) == [], 30, "the run's containers to be removed")


# --- (e) lineage of a past run -----------------------------------------------------------------


def test_lineage_of_the_report_shows_its_ancestors(examples: Proj, serve: Serve, page: Page) -> None:
    run = examples.wfc("run-pipeline", QUICKSTART, "--cores", "2", timeout=600)
    assert run.returncode == 0, run.stderr
    page.goto(serve(examples))

    page.get_by_role("tab", name="Runs", exact=True).click()
    page.locator("[data-pipeline-run]").filter(has_text="quickstart").click()
    for step in QUICKSTART_STEPS:
        expect(step_row(page, step, "completed")).to_have_count(1)
    step_row(page, "report").click()
    panel = step_panel(page)
    expect(panel).to_contain_text("Sales by product")  # the report's title param
    shot(page, "lineage", "step-panel", doc="runs-step-panel")

    panel.get_by_role("tab", name="Lineage", exact=True).click()
    expect(panel.locator("[data-run-id]")).to_have_count(5)  # report, summarise, clean x 3
    for ancestor in ["summarise", "clean[east]", "clean[north]", "clean[south]"]:
        expect(panel.locator("[data-run-id]").filter(has_text=ancestor)).to_have_count(1)
    for sample in ["east@1", "north@1", "south@1"]:  # the sample versions at the roots
        expect(panel.get_by_text(sample)).to_be_visible()
    panel.locator(".lineage").scroll_into_view_if_needed()  # the detail column scrolls to it
    shot(page, "lineage", "drawn", doc="lineage")


# --- (f) reload mid-run ------------------------------------------------------------------------


def test_a_reloaded_page_resumes_the_live_status(probe_project: Proj, serve: Serve, page: Page) -> None:
    path = probe_document(probe_project, "slow", sleep=8)
    page.goto(serve(probe_project, path))
    button(page, "Run").click()
    expect(node(page, "probe", "running")).to_have_count(1, timeout=DOCKER)
    shot(page, "reload", "before", doc="run-in-progress")

    page.reload()
    expect(node(page, "probe", "running")).to_have_count(1)  # resumed from the server's events
    shot(page, "reload", "after")
    expect(node(page, "probe", "completed")).to_have_count(1, timeout=DOCKER)
    page.get_by_role("tab", name=re.compile(r"^Steps")).click()  # the resumed job's steps too
    for step in ("probe[s1]", "probe[s2]"):
        expect(step_row(page, step, "completed")).to_have_count(1)
    shot(page, "reload", "completed")


# --- (g) the report of a past run --------------------------------------------------------------


@pytest.mark.docker  # no Docker needed, but like every browser test not one for the bare fresh-install check
def test_the_report_link_opens_the_runs_report_sandboxed(fake_env: Proj, serve: Serve, page: Page) -> None:
    proj = fake_env  # t/probe over s1, s2, run by the process runtime: seconds, no Docker
    (proj.root / "s2.txt").write_text("beta\n")
    proj.wfc("sample", "add", "s2", "s2.txt", check=True)
    proj.wfc("run-pipeline", "pipeline.json", env={"WFC_RUNTIME": "process"}, check=True, timeout=300)
    page.goto(serve(proj))

    page.get_by_role("tab", name="Runs", exact=True).click()
    page.locator("[data-pipeline-run]").filter(has_text="probe").click()
    for step in ("probe[s1]", "probe[s2]"):
        expect(step_row(page, step, "completed")).to_have_count(1)
    link = page.get_by_role("link", name="Report", exact=True)
    assert "token" not in (link.get_attribute("href") or "")  # the cookie authenticates it
    shot(page, "report", "runs-view")

    with page.context.expect_page() as opened:
        link.click()
    report = opened.value
    rows = report.locator("tr[data-status]")
    expect(rows).to_have_count(2)
    for step in ("probe[s1]", "probe[s2]"):
        expect(rows.filter(has_text=step)).to_have_attribute("data-status", "completed")
    expect(report.locator('[data-node-id="probe"]')).to_have_attribute("data-status", "completed")
    assert report.evaluate("window.origin") == "null"  # sandboxed: not the canvas's origin
    assert report.evaluate("document.referrer") == ""  # the canvas URL (with its ?token=) stays put
    report.screenshot(path=str(ARTIFACTS / "canvas-report-opened.png"))
    report.close()
