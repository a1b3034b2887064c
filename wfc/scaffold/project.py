"""``wfc init``: create a project skeleton (BRIEF §3). Idempotent: it only adds what is missing.

Besides ``wfc.toml`` and the folders, it makes sure ``.gitignore`` ignores wfc's state and the
usual Python litter (keeping every line already there), and runs ``git init`` unless the directory
already lies inside a git work tree (or ``--no-git``, or git is not installed): runs record the
commit they ran at.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from wfc.errors import UsageError
from wfc.project import PROJECT_FILE

WFC_TOML = """\
# wfc project settings. Every setting can be overridden by its environment variable
# (shown in `wfc config`); command-line options override both.
[project]
name = "{name}"

# store = ".wfc/store"              # WFC_STORE
# database_url = ""                 # WFC_DATABASE_URL (default: SQLite .wfc/wfc.db)
# base_image = "wfc-base:bookworm"  # WFC_BASE_IMAGE
# ca_bundle = ""                    # WFC_CA_BUNDLE
# store_link = "auto"               # WFC_STORE_LINK: auto|reflink|hardlink|copy
"""
IGNORED = (".wfc/", "__pycache__/", ".venv/")  # what .gitignore must list


class GitInit(StrEnum):
    """What ``wfc init`` did about git."""

    INITIALISED = "initialised"  # ran `git init`
    EXISTING = "existing"  # the directory is already inside a git work tree
    SKIPPED = "skipped"  # --no-git
    UNAVAILABLE = "unavailable"  # git is not on PATH


@dataclass(frozen=True)
class InitResult:
    """What ``wfc init`` created (project-relative names, in order) and what it did about git."""

    created: list[str]
    git: GitInit


def init_project(directory: Path, *, git: bool = True) -> InitResult:
    """Create the project files and folders that are missing; with ``git``, run ``git init``
    unless the directory is already inside a git work tree.

    Raises:
        UsageError: ``git init`` failed.
    """
    directory.mkdir(parents=True, exist_ok=True)
    created: list[str] = []
    toml = directory / PROJECT_FILE
    if not toml.exists():
        toml.write_text(WFC_TOML.format(name=directory.resolve().name), encoding="utf-8")
        created.append(PROJECT_FILE)
    for sub in ("methods", "environments", "pipelines", ".wfc"):
        if not (directory / sub).is_dir():
            (directory / sub).mkdir()
            created.append(sub + "/")
    added = _ignore(directory / ".gitignore")
    if added:
        created.append(f".gitignore ({', '.join(added)})")
    status = _git_init(directory) if git else GitInit.SKIPPED
    if status is GitInit.INITIALISED:
        created.append(".git/ (git init)")
    return InitResult(created, status)


def _ignore(path: Path) -> list[str]:
    """Append the lines of :data:`IGNORED` that ``path`` lacks; return them."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    present = {line.strip() for line in text.splitlines()}
    missing = [line for line in IGNORED if line not in present and line.rstrip("/") not in present]
    if missing:
        head = text if not text or text.endswith("\n") else text + "\n"
        path.write_text(head + "".join(f"{line}\n" for line in missing), encoding="utf-8")
    return missing


def _git_init(directory: Path) -> GitInit:
    root = directory.resolve()
    if any((d / ".git").exists() for d in (root, *root.parents)):
        return GitInit.EXISTING
    git = shutil.which("git")
    if git is None:
        return GitInit.UNAVAILABLE
    proc = subprocess.run([git, "init", "-q", str(root)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        raise UsageError(
            f"`git init -q {root}` failed: {lines[-1] if lines else f'exit {proc.returncode}'}",
            "fix it, or skip git with `wfc init --no-git`",
        )
    return GitInit.INITIALISED
