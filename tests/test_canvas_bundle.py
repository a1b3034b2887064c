"""The committed canvas bundle (``wfc/canvas/static/``) is what its sources build, and it loads
nothing from the network.

``pip install wfc`` users get the page without Node, so the built bundle is committed; this test
keeps it in step with ``canvas/`` (ADR 0023): it installs the locked packages with ``npm ci`` in a
copy of ``canvas/``, builds into a temporary folder and compares the two trees byte for byte.
"""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SOURCES = REPO / "canvas"
STATIC = REPO / "wfc" / "canvas" / "static"
URL = re.compile(r"https?://([^/\s\"'`)<>?#]*)")
# URLs inside the libraries' code that no browser fetches: XML namespace names and the help links
# of error messages (svelte.dev/e/…, svelteflow.dev/error#…, the hidden attribution link).
NOT_FETCHED = {"www.w3.org", "svelte.dev", "svelteflow.dev", "${e}flow.dev"}
# What would make the browser fetch from elsewhere: a script, style, import or url() off-site.
LOADS = re.compile(
    r"""(?:src|href)\s*=\s*["']?https?://|@import\s+(?:url\()?["']?https?://|url\(\s*["']?https?://"""
    r"""|import\s*\(\s*["'`]https?://|from\s*["'`]https?://|fetch\(\s*["'`]https?://|EventSource\(\s*["'`]https?://"""
)


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("node and npm are not installed: the canvas bundle cannot be rebuilt here")
    return npm


def test_bundle_is_built_from_the_sources(tmp_path: Path) -> None:
    npm = _npm()
    work = tmp_path / "canvas"
    shutil.copytree(SOURCES, work, ignore=shutil.ignore_patterns("node_modules"))
    env = {**os.environ, "WFC_CANVAS_OUT_DIR": str(tmp_path / "out"), "npm_config_audit": "false"}
    install = [npm, "ci", "--no-fund", "--no-audit", "--prefer-offline"]
    subprocess.run(install, cwd=work, env=env, check=True, capture_output=True, timeout=600)
    build = subprocess.run(
        [npm, "run", "build"], cwd=work, env=env, capture_output=True, text=True, timeout=600
    )
    assert build.returncode == 0, build.stdout + build.stderr
    built = tmp_path / "out"
    assert _tree(built) == _tree(STATIC), (
        "wfc/canvas/static/ is not what canvas/ builds: run `npm run build` in canvas/ and commit the result"
    )
    _, mismatch, errors = filecmp.cmpfiles(built, STATIC, _tree(built), shallow=False)
    assert mismatch == [] and errors == [], (
        f"rebuild differs in {mismatch + errors}: run `npm run build` in canvas/"
    )


def test_bundle_has_an_index_and_hashed_assets() -> None:
    files = _tree(STATIC)
    assert "index.html" in files
    assets = [f for f in files if f.startswith("assets/")]
    assert any(re.fullmatch(r"assets/index-[\w-]{8}\.js", f) for f in assets), assets
    assert any(re.fullmatch(r"assets/index-[\w-]{8}\.css", f) for f in assets), assets
    html = (STATIC / "index.html").read_text()
    for asset in assets:
        assert f"./{asset}" in html, f"index.html does not load {asset} relative to itself"


def test_bundle_loads_nothing_from_another_host() -> None:
    for name in _tree(STATIC):
        text = (STATIC / name).read_text(errors="replace")
        assert not LOADS.search(text), f"{name} loads something from the network: {LOADS.search(text)}"
        hosts = set(URL.findall(text))
        if name.endswith((".html", ".css")):
            assert hosts == set(), f"{name} names other hosts: {sorted(hosts)}"
        else:
            assert hosts <= NOT_FETCHED, (
                f"{name} names hosts beyond the known message links: {sorted(hosts - NOT_FETCHED)}"
            )
