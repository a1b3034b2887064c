"""``wfc doctor``: is this machine ready to run the project? Docker, database, store,
environments, Snakemake, git and the metrics gateway, each ``ok``, ``warn`` or ``fail`` with the
fix for anything that is not ok."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from wfc.environments.build import list_environments, read_lock
from wfc.errors import WfcError
from wfc.lineage.db import database
from wfc.lineage.records import SCHEMA_VERSION
from wfc.output import plural
from wfc.project import Project
from wfc.runtime.docker import image_present

MIN_FREE_BYTES = 1 << 30


@dataclass(frozen=True)
class Check:
    """One line of the doctor's table."""

    name: str
    status: str  # ok, warn or fail
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Health:
    """The doctor's checks; ``ok`` when none failed (``wfc doctor``)."""

    SCHEMA: ClassVar[str] = "wfc.doctor/1"

    ok: bool
    checks: tuple[Check, ...]


def doctor(project: Project) -> Health:
    """Run every check; none raises."""
    checks: list[Check] = []
    client = _guard(checks, "docker", _docker)
    _guard(checks, "database", lambda: _database(project))
    _guard(checks, "store", lambda: _store(project))
    checks += _environments(project, client)
    if client is not None:
        client.close()
    _guard(checks, "snakemake", _snakemake)
    _guard(checks, "git", lambda: _git(project))
    if project.get("pushgateway"):
        _guard(checks, "pushgateway", lambda: _pushgateway(project.get("pushgateway")))
    return Health(not any(c.status == "fail" for c in checks), tuple(checks))


def _guard(checks: list[Check], name: str, probe: Callable[[], Any]) -> Any:
    """Run a probe that returns ``(Check, value)``; an error becomes a failed check."""
    try:
        check, value = probe()
    except WfcError as exc:
        checks.append(Check(name, "fail", exc.message, exc.hint))
        return None
    checks.append(check)
    return value


def _docker() -> tuple[Check, Any]:
    from wfc.runtime.docker import docker_client

    client = docker_client()
    version = client.version().get("Version", "?")
    return Check("docker", "ok", f"engine {version} reachable"), client


def _database(project: Project) -> tuple[Check, None]:
    with database(project.database_url) as db, db.engine.connect() as conn:  # creates, migrates
        version = conn.exec_driver_sql("SELECT value FROM wfc_meta WHERE key = 'schema_version'").scalar()
    url = db.engine.url.render_as_string(hide_password=True)
    return Check("database", "ok", f"{url}: schema version {version} (this wfc: {SCHEMA_VERSION})"), None


def _store(project: Project) -> tuple[Check, None]:
    root = project.store_dir
    try:
        (root / "tmp").mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root / "tmp", prefix="doctor-") as f:
            f.write(b"wfc")
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        fix = "make it writable, or point WFC_STORE at a writable directory"
        return Check("store", "fail", f"{root} is not writable: {exc.strerror}", fix), None
    free = shutil.disk_usage(root).free
    detail = f"{project.relative(root)} writable, {free / (1 << 30):.1f} GiB free"
    if free < MIN_FREE_BYTES:
        return Check("store", "warn", detail, "free space, or run `wfc cache gc`"), None
    return Check("store", "ok", detail), None


def _environments(project: Project, client: Any) -> list[Check]:
    checks = []
    names = list_environments(project)
    if not names:
        return [Check("environments", "warn", "none found", "create environments/NAME/Dockerfile")]
    for name in names:
        label = f"env {name}"
        try:
            lock = read_lock(project, name)
        except WfcError as exc:
            checks.append(Check(label, "fail", "not built", exc.hint))
            continue
        if client is None:
            checks.append(
                Check(label, "warn", f"built as {lock.image_id[:19]}; Docker not reachable to check")
            )
        elif not image_present(client, lock.image_id):
            fix = f"rebuild it: wfc env build {name}"
            checks.append(Check(label, "fail", f"image {lock.image_id[:19]} is not in Docker", fix))
        else:
            checks.append(Check(label, "ok", f"image {lock.image_id[:19]} present"))
    return checks


def _snakemake() -> tuple[Check, None]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("snakemake")
    except PackageNotFoundError:
        return Check("snakemake", "fail", "not installed", "pip install snakemake"), None
    return Check("snakemake", "ok", f"{found} ({sys.executable})"), None


def _git(project: Project) -> tuple[Check, None]:
    git = shutil.which("git")
    if git is None:
        return Check("git", "warn", "git not installed: runs record no commit", "install git"), None
    proc = subprocess.run(
        [git, "-C", str(project.root), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        fix = "run `git init` and commit, so runs record the commit"
        return Check("git", "warn", "not a git repository: runs record no commit", fix), None
    changed = [line for line in proc.stdout.splitlines() if line.strip()]
    if changed:
        detail = f"{plural(len(changed), 'uncommitted change')}: the recorded commit will not match the code"
        return Check("git", "warn", detail, "commit your changes before runs you want to cite"), None
    return Check("git", "ok", "clean working tree"), None


def _pushgateway(url: str) -> tuple[Check, None]:
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/-/ready", timeout=3):
            pass
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Check(
            "pushgateway", "warn", f"{url} unreachable: {reason}", "start it, or unset WFC_PUSHGATEWAY"
        ), None
    return Check("pushgateway", "ok", f"{url} ready"), None
