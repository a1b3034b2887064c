"""A throwaway PostgreSQL cluster for tests, on a unix socket and a free TCP port of 127.0.0.1 (for
containers on the host network), that a test can stop and start again (the database going away
mid-run). Started and stopped by the fixture that made it; nothing else on the machine is touched."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def _as_owner(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def server_binaries() -> Path | None:
    """The directory of the newest installed PostgreSQL server's programs, if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@dataclass
class PgServer:
    """One cluster: ``start()``, ``stop()``, ``url(database)``; ``remove()`` deletes it."""

    bin_dir: Path
    root: Path
    port: int

    @classmethod
    def create(cls, bin_dir: Path) -> PgServer:
        root = Path(
            tempfile.mkdtemp(prefix="wfc-pg-")
        )  # not under pytest's 0700 tree: postgres must reach it
        root.chmod(0o755)
        (root / "sock").mkdir()
        (root / "postgres.log").touch()
        if os.geteuid() == 0:
            for path in (root / "postgres.log", root, root / "sock"):
                shutil.chown(path, "postgres")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = cls(bin_dir, root, port)
        server._run("initdb", "-D", str(root / "data"), "-U", "postgres", "--auth=trust")
        server.start()
        server._run("createdb", "-h", str(root / "sock"), "-p", str(port), "-U", "postgres", "wfc")
        return server

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(_as_owner([str(self.bin_dir / tool), *args]), check=True, capture_output=True)

    def start(self) -> None:
        log, sock = self.root / "postgres.log", self.root / "sock"  # the server must not inherit our pipes
        # a team's server: every executing step holds its lease connection besides its pool (ADR 0027)
        options = f"-k {sock} -p {self.port} -c listen_addresses=127.0.0.1 -c max_connections=300"
        self._run("pg_ctl", "-D", str(self.root / "data"), "-l", str(log), "-w", "-o", options, "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.root / "data"), "-w", "-m", "fast", "stop")

    def fresh(self, name: str) -> str:
        """Create the database ``name`` (a test's own) and return its URL."""
        self._run("createdb", "-h", str(self.root / "sock"), "-p", str(self.port), "-U", "postgres", name)
        return self.url(name)

    def url(self, database: str = "wfc") -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.root / 'sock'}&port={self.port}"

    def tcp_url(self, database: str = "wfc") -> str:
        """The URL over TCP on 127.0.0.1 (for a container on the host network)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
