"""``wfc init``: create a project skeleton (BRIEF §3). Idempotent: it only adds what is missing."""

from __future__ import annotations

from pathlib import Path

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


def init_project(directory: Path) -> list[str]:
    """Create the project files and folders that are missing; return what was created."""
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
    ignore = directory / ".gitignore"
    lines = ignore.read_text(encoding="utf-8").splitlines() if ignore.exists() else []
    if ".wfc/" not in lines:
        ignore.write_text("\n".join([*lines, ".wfc/"]) + "\n", encoding="utf-8")
        created.append(".gitignore (.wfc/)")
    return created
