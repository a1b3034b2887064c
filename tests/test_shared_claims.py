"""Single-flight across machines: with PostgreSQL, a key's claim is a lease in the database that
every process sharing it respects, released when its holder dies."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from wfc.errors import InfraError
from wfc.step.claim import claim, lease_id

KEY = "blake3:" + "ab" * 32
OTHER = "blake3:" + "cd" * 32

HOLDER = """
import sys, time
from pathlib import Path
from wfc.step.claim import claim
with claim(Path(sys.argv[1]), sys.argv[2], sys.argv[3]) as waited:
    print("waited" if waited else "held", flush=True)
    time.sleep(float(sys.argv[4]))
"""


@contextmanager
def _holder(tmp_path: Path, url: str, key: str, hold: float) -> Iterator[subprocess.Popen[str]]:
    """Another process ("machine") holding the claim on ``key`` for ``hold`` seconds."""
    argv = [sys.executable, "-c", HOLDER, str(tmp_path / "locks"), key, url, str(hold)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
            yield proc
        finally:
            proc.kill()


def test_a_lease_held_elsewhere_makes_the_next_claimant_wait(tmp_path: Path, postgres_url: str) -> None:
    with _holder(tmp_path / "machine-a", postgres_url, KEY, 1.5) as holder:
        with claim(tmp_path / "machine-b" / "locks", OTHER, postgres_url) as waited:
            assert not waited  # another key: no waiting
        started = time.monotonic()
        with claim(tmp_path / "machine-b" / "locks", KEY, postgres_url) as waited:
            assert waited and time.monotonic() - started > 0.5  # its own lock files are elsewhere
        assert holder.wait(10) == 0


def test_a_killed_holder_loses_its_lease_at_once(tmp_path: Path, postgres_url: str) -> None:
    with _holder(tmp_path, postgres_url, KEY, 600) as holder:
        holder.kill()
        holder.wait(10)
    started = time.monotonic()
    with claim(tmp_path / "locks", KEY, postgres_url):
        assert time.monotonic() - started < 30  # the server dropped the dead connection's lease


def test_lease_numbers_are_the_keys_first_64_bits_as_a_signed_bigint() -> None:
    assert lease_id("blake3:" + "7f" + "ff" * 7 + "00" * 24) == 2**63 - 1
    assert lease_id("blake3:" + "80" + "00" * 31) == -(2**63)


def test_an_unreachable_database_is_a_one_line_infra_error(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://nobody@/wfc?host={tmp_path}"  # no server on this socket directory
    with pytest.raises(InfraError) as err, claim(tmp_path / "locks", KEY, url):
        pass
    assert err.value.message.startswith("could not claim the step in the database: ")
    assert err.value.hint == "check WFC_DATABASE_URL and that the database server is running"
