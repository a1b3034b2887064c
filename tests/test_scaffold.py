"""Scaffolding: ``wfc init`` (.gitignore, git) and ``wfc method new`` (methods that run as generated)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import Proj

IGNORED = ".wfc/\n__pycache__/\n.venv/\n"


def _err(proc: subprocess.CompletedProcess[str]) -> tuple[int, str, str]:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2, proc.stderr  # one error line and one hint line, no traceback
    return proc.returncode, lines[0], lines[1]


# --- wfc init ------------------------------------------------------------------------------------


def test_init_writes_gitignore_runs_git_init_and_is_idempotent(tmp_path: Path) -> None:
    proj = Proj(tmp_path / "p")
    first = proj.wfc("init", str(proj.root), check=True)
    assert first.stderr == (
        f"initialised wfc project in {proj.root}: created wfc.toml, methods/, environments/, "
        "pipelines/, .wfc/, .gitignore (.wfc/, __pycache__/, .venv/), .git/ (git init)\n"
    )
    assert (proj.root / ".gitignore").read_text() == IGNORED
    inside = subprocess.run(
        ["git", "-C", str(proj.root), "rev-parse", "--show-toplevel"], capture_output=True, text=True
    )
    assert inside.stdout.strip() == str(proj.root)
    snapshot = sorted(p.relative_to(proj.root) for p in proj.root.rglob("*"))
    again = proj.wfc("init", str(proj.root), check=True)
    assert again.stderr == f"{proj.root} is already a wfc project: nothing changed\n"
    assert sorted(p.relative_to(proj.root) for p in proj.root.rglob("*")) == snapshot
    doc = json.loads(proj.wfc("init", str(proj.root), "--json", check=True).stdout)
    assert doc == {"schema": "wfc.init/1", "project": str(proj.root), "created": [], "git": "existing"}


def test_init_keeps_existing_gitignore_lines_and_adds_only_the_missing(tmp_path: Path) -> None:
    proj = Proj(tmp_path / "p")
    proj.root.mkdir()
    (proj.root / ".gitignore").write_text("*.log\n.venv\nresults/")  # no final newline
    doc = json.loads(proj.wfc("init", str(proj.root), "--no-git", "--json", check=True).stdout)
    assert doc["created"][-1] == ".gitignore (.wfc/, __pycache__/)"
    assert doc["git"] == "skipped"
    assert (proj.root / ".gitignore").read_text() == "*.log\n.venv\nresults/\n.wfc/\n__pycache__/\n"
    assert not (proj.root / ".git").exists()


def test_init_inside_a_git_work_tree_does_not_nest_a_repository(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    proj = Proj(tmp_path / "repo" / "analysis")
    doc = json.loads(proj.wfc("init", str(proj.root), "--json", check=True).stdout)
    assert doc["git"] == "existing"
    assert ".git/ (git init)" not in doc["created"]
    assert not (proj.root / ".git").exists()


def test_init_without_git_on_path_says_so(tmp_path: Path) -> None:
    proj = Proj(tmp_path / "p")
    empty = tmp_path / "bin"
    empty.mkdir()
    proc = proj.wfc("init", str(proj.root), "--verbose", env={"PATH": str(empty)}, check=True)
    lines = proc.stderr.splitlines()
    assert lines[0].endswith(".gitignore (.wfc/, __pycache__/, .venv/)")
    assert lines[1] == (
        "git is not on PATH: no git repository was created (runs record their commit when there is one)"
    )
    doc = json.loads(proj.wfc("init", str(proj.root), "--json", env={"PATH": str(empty)}).stdout)
    assert doc["git"] == "unavailable"


# --- wfc method new: files and mistakes -----------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "code", "command"),
    [("python", "main.py", ["python3", "main.py"]), ("shell", "main.sh", ["bash", "main.sh"]),
     ("r", "main.R", ["Rscript", "main.R"])],
)  # fmt: skip
def test_method_new_writes_a_valid_method_its_env_and_a_try_pipeline(
    project: Proj, lang: str, code: str, command: list[str]
) -> None:
    doc = json.loads(project.wfc("method", "new", "text/upper", "--lang", lang, "--json", check=True).stdout)
    assert doc == {
        "schema": "wfc.method-new/1",
        "ref": "text/upper",
        "directory": "methods/text/upper",
        "files": [
            "methods/text/upper/method.yaml",
            f"methods/text/upper/{code}",
            "methods/text/upper/README.md",
            f"environments/{lang}/Dockerfile",
            "pipelines/try-text-upper.json",
        ],
        "env": lang,
        "env_created": True,
        "pipeline": "pipelines/try-text-upper.json",
    }
    from wfc.methods import load_method
    from wfc.project import Project

    method = load_method(Project.load(project.root), "text/upper")
    assert method.spec.env == lang and method.spec.argv == command
    assert list(method.spec.inputs) == ["text"] and list(method.spec.outputs) == ["out"]
    assert method.spec.params["prefix"].default == "> "
    dockerfile = (project.root / "environments" / lang / "Dockerfile").read_text()
    assert (
        dockerfile.startswith("# ")
        and "ARG WFC_BASE_IMAGE=wfc-base:bookworm\nFROM ${WFC_BASE_IMAGE}\n" in dockerfile
    )
    if lang == "r":
        assert "r-base-core r-cran-jsonlite" in dockerfile
    if lang == "shell":
        assert (project.root / "methods/text/upper/main.sh").stat().st_mode & 0o111
    readme = (project.root / "methods/text/upper/README.md").read_text()
    assert "$ wfc run-step pipelines/try-text-upper.json --node upper --sample example" in readme
    # validate accepts the try pipeline (the environment is not built: a warning, not an error)
    (project.root / "example.txt").write_text("hello\n")
    project.wfc("sample", "add", "example", "example.txt", check=True)
    proc = project.wfc("validate", "pipelines/try-text-upper.json", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    problems = json.loads(proc.stdout)["problems"]
    assert [p["severity"] for p in problems] == ["warning"]
    assert f"environment '{lang}'" in problems[0]["message"]


def test_method_new_keeps_an_existing_environment(project: Proj) -> None:
    env = project.root / "environments" / "python"
    env.mkdir()
    (env / "Dockerfile").write_text("FROM mine\n")
    proc = project.wfc("method", "new", "a/b", check=True)
    assert proc.stderr == (
        "created method a/b: methods/a/b/method.yaml, methods/a/b/main.py, methods/a/b/README.md, "
        "pipelines/try-a-b.json\nto try it, follow methods/a/b/README.md\n"
    )
    assert (env / "Dockerfile").read_text() == "FROM mine\n"
    other = project.wfc("method", "new", "a/c", "--lang", "shell", "--env", "python", check=True)
    assert "environment" not in other.stderr
    assert "env: python" in (project.root / "methods/a/c/method.yaml").read_text()


def test_method_new_refuses_to_overwrite(project: Proj) -> None:
    project.wfc("method", "new", "a/b", "--lang", "shell", check=True)
    before = (project.root / "methods/a/b/main.sh").read_text()
    assert _err(project.wfc("method", "new", "a/b")) == (
        2,
        "error: method 'a/b' already exists: methods/a/b/method.yaml",
        "hint: pick another name, or edit the existing method",
    )
    assert (project.root / "methods/a/b/main.sh").read_text() == before
    (project.root / "methods/a/c").mkdir()
    (project.root / "methods/a/c/notes.txt").write_text("mine")
    assert _err(project.wfc("method", "new", "a/c")) == (
        2,
        "error: methods/a/c/ already exists and is not empty",
        "hint: pick another name, or move that directory away: `wfc method new` never overwrites",
    )


@pytest.mark.parametrize("ref", ["nomodule", "a/b/c", "../x", "a/.hidden", "a/", "a b/c"])
def test_method_new_refuses_a_malformed_name(project: Proj, ref: str) -> None:
    assert _err(project.wfc("method", "new", ref)) == (
        2,
        f"error: invalid method name '{ref}': expected MODULE/NAME, e.g. text/count_lines",
        "hint: use letters, digits, '_', '.' and '-' in each part, starting with a letter or digit",
    )
    assert list((project.root / "methods").iterdir()) == []


def test_method_new_refuses_an_unknown_language_or_a_bad_environment_name(project: Proj) -> None:
    assert _err(project.wfc("method", "new", "a/b", "--lang", "julia")) == (
        2,
        "error: unknown language 'julia'",
        "hint: choose one of: python, shell, r",
    )
    assert _err(project.wfc("method", "new", "a/b", "--env", "../up")) == (
        2,
        "error: invalid environment name '../up'",
        "hint: use letters, digits, '_', '.' and '-', starting with a letter or digit",
    )


def test_method_new_help_has_an_example(project: Proj) -> None:
    for argv in (["method", "new"], ["env", "shell"], ["init"]):
        assert "Example: wfc " in project.wfc(*argv, "--help", check=True).stdout


# --- generated methods run as generated ----------------------------------------------------------


def _readme_commands(readme: Path) -> list[str]:
    """The ``$`` commands of the README's first console block (how to try the method)."""
    block = re.search(r"```console\n(.*?)```", readme.read_text(), flags=re.S)
    assert block
    return [line[2:] for line in block[1].splitlines() if line.startswith("$ ")]


def _follow_readme(proj: Proj, ref: str) -> str:
    """Run the README's commands verbatim in the project; return what the last one printed."""
    env = {k: v for k, v in proj.env().items() if k != "WFC_PROJECT"}
    out = ""
    for command in _readme_commands(proj.root / "methods" / ref / "README.md"):
        proc = subprocess.run(
            ["bash", "-c", command], cwd=proj.root, env=env, capture_output=True, text=True, timeout=900
        )
        assert proc.returncode == 0, f"$ {command}\n{proc.stdout}\n{proc.stderr}"
        out = proc.stdout
    return out


@pytest.mark.parametrize("lang", ["python", "shell"])
def test_generated_method_runs_as_generated(project: Proj, built_envs: Path, lang: str) -> None:
    shutil.copytree(built_envs, project.root / "environments", dirs_exist_ok=True)
    project.wfc("method", "new", "text/upper", "--lang", lang, check=True)
    assert _follow_readme(project, "text/upper") == "> hello\n> world\n"
    (run,) = project.rows("SELECT status, node_id, sample FROM runs WHERE node_id = 'upper'")
    assert run == ("completed", "upper", "example")
    doc = project.run_step("upper", "--sample", "example", pipeline="pipelines/try-text-upper.json")
    assert doc["status"] == "cached"


def test_generated_r_method_builds_and_runs(project: Proj, docker_engine: None) -> None:
    """The R environment is built for real: about 20 s here (Debian's r-base-core)."""
    project.wfc("method", "new", "stats/upper", "--lang", "r", check=True)
    assert _follow_readme(project, "stats/upper") == "> hello\n> world\n"
    spec = yaml.safe_load((project.root / "methods/stats/upper/method.yaml").read_text())
    assert spec["command"] == ["Rscript", "main.R"]
