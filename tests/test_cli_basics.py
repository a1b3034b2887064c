"""init, config and samples through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Proj


def test_init_creates_the_layout_and_is_idempotent(tmp_path: Path) -> None:
    proj = Proj(tmp_path / "p")
    first = proj.wfc("init", str(proj.root), check=True)
    created = ".wfc/, .gitignore (.wfc/, __pycache__/, .venv/), .git/ (git init)"
    assert f"created wfc.toml, methods/, environments/, pipelines/, {created}" in first.stderr
    assert (proj.root / ".gitignore").read_text() == ".wfc/\n__pycache__/\n.venv/\n"
    snapshot = sorted(p.relative_to(proj.root) for p in proj.root.rglob("*"))
    again = proj.wfc("init", str(proj.root), check=True)
    assert f"{proj.root} is already a wfc project: nothing changed" in again.stderr
    assert sorted(p.relative_to(proj.root) for p in proj.root.rglob("*")) == snapshot
    doc = json.loads(proj.wfc("init", str(proj.root), "--json", check=True).stdout)
    assert doc["created"] == [] and doc["schema"] == "wfc.init/1"


def test_config_shows_values_and_their_sources(project: Proj) -> None:
    toml = project.root / "wfc.toml"
    toml.write_text('store = "elsewhere"\nbase_image = "file-base"\n' + toml.read_text())
    out = project.wfc("config", "--json", env={"WFC_BASE_IMAGE": "env-base"}, check=True)
    settings = {s["key"]: s for s in json.loads(out.stdout)["settings"]}
    assert (settings["store"]["value"], settings["store"]["source"]) == ("elsewhere", "wfc.toml")
    assert (settings["base_image"]["value"], settings["base_image"]["source"]) == ("env-base", "env")
    assert (settings["store_link"]["value"], settings["store_link"]["source"]) == ("auto", "default")
    assert settings["database_url"]["env"] == "WFC_DATABASE_URL"


def test_samples_are_versioned_by_content_and_locked(project: Proj) -> None:
    data = project.root / "data"
    data.mkdir()
    (data / "a.csv").write_text("x\n1\n")
    project.wfc("sample", "add", "a", "data/a.csv", check=True)
    same = project.wfc("sample", "add", "a", "data/a.csv", check=True)
    assert "sample a@1 already has this content: nothing changed" in same.stderr
    (data / "a.csv").write_text("x\n2\n")
    project.wfc("sample", "add", "a", "data/a.csv", check=True)
    (data / "dir").mkdir()
    (data / "dir" / "f.txt").write_text("f")
    added = json.loads(project.wfc("sample", "add", "d", "data/dir", "--json", check=True).stdout)
    assert (added["kind"], added["version"], added["created"]) == ("dir", 1, True)
    listed = json.loads(project.wfc("sample", "list", "--json", check=True).stdout)["samples"]
    assert [(s["name"], s["version"]) for s in listed] == [("a", 1), ("a", 2), ("d", 1)]
    assert listed[0]["hash"] != listed[1]["hash"]
    lock = json.loads((project.root / "samples.lock.json").read_text())
    assert [(e["name"], e["version"], e["source"]) for e in lock["samples"]] == [
        ("a", 1, "data/a.csv"),
        ("a", 2, "data/a.csv"),
        ("d", 1, "data/dir"),
    ]


def test_every_command_has_help_with_an_example(project: Proj) -> None:
    for argv in (
        ["init"],
        ["config"],
        ["env", "build"],
        ["env", "list"],
        ["env", "show"],
        ["env", "save"],
        ["sample", "add"],
        ["sample", "list"],
        ["run-step"],
        ["runs"],
        ["show"],
        ["logs"],
        ["lineage"],
        ["why"],
        ["export"],
        ["reproduce"],
        ["report"],
        ["cache", "verify"],
        ["cache", "gc"],
        ["cache", "stats"],
        ["cache", "pin"],
        ["doctor"],
        ["inspect"],
        ["metrics", "clean"],
        ["plan"],
        ["validate"],
        ["compile"],
        ["run-pipeline"],
        ["schema"],
    ):
        out = project.wfc(*argv, "--help", check=True).stdout
        assert "xample" in out, argv


def test_version(tmp_path: Path) -> None:
    from wfc import __version__

    proc = Proj(tmp_path).wfc("--version", check=True)
    assert proc.stdout == f"wfc {__version__}\n"
