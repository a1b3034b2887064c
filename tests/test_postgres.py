"""The lineage database on a real PostgreSQL server (WFC_DATABASE_URL), started by the test."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Proj
from tests.test_lineage import _scenario
from wfc.lineage import open_lineage
from wfc.lineage.db import open_database
from wfc.lineage.sqla import SqlAlchemyLineage


def _as_owner(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster listening on a unix socket only."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed: .ci/run must install it (apt-get install postgresql)")
        pytest.skip("PostgreSQL server binaries are not installed (apt-get install postgresql)")
    bin_dir = Path(found[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="wfc-pg-"))  # not under pytest's 0700 tree: postgres must reach it
    root.chmod(0o755)
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    (root / "postgres.log").touch()
    if os.geteuid() == 0:
        shutil.chown(root / "postgres.log", "postgres")
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    run = lambda *a: subprocess.run(_as_owner([str(a[0]), *a[1:]]), check=True, capture_output=True)  # noqa: E731
    run(bin_dir / "initdb", "-D", str(data), "-U", "postgres", "--auth=trust")
    log = root / "postgres.log"  # the server must not inherit our pipes
    run(
        bin_dir / "pg_ctl",
        "-D",
        str(data),
        "-l",
        str(log),
        "-w",
        "-o",
        f"-k {sock} -c listen_addresses=''",
        "start",
    )
    try:
        run(bin_dir / "createdb", "-h", str(sock), "-U", "postgres", "wfc")
        yield f"postgresql+psycopg://postgres@/wfc?host={sock}"
    finally:
        run(bin_dir / "pg_ctl", "-D", str(data), "-w", "-m", "fast", "stop")
        shutil.rmtree(root, ignore_errors=True)


def test_lineage_protocol_on_postgresql(postgres_url: str) -> None:
    lineage = open_lineage(postgres_url)
    assert isinstance(lineage, SqlAlchemyLineage)
    _scenario(lineage)
    lineage.close()
    open_database(postgres_url).engine.dispose()  # reopening an up-to-date schema migrates nothing


@pytest.mark.docker
def test_run_step_records_into_postgresql(probe_project: Proj, postgres_url: str) -> None:
    env = {"WFC_DATABASE_URL": postgres_url}
    probe_project.wfc("sample", "add", "s2", "s2.txt", env=env, check=True)
    first = probe_project.run_step("probe", "--sample", "s2", env=env)
    second = probe_project.run_step("probe", "--sample", "s2", env=env)
    assert (first["status"], second["status"]) == ("completed", "cached")
    assert second["cache_source"] == first["run_id"]
    assert probe_project.rows("SELECT count(*) FROM runs") == [
        (0,)
    ]  # nothing went to the default SQLite file
