"""Resource traces of a container, read from a cgroup that outlives it.

A container's own cgroup disappears the moment it exits, taking its counters with it. So each
container is started under a parent cgroup of its own, ``/wfc/<container name>``
(``--cgroup-parent``): the kernel charges every child to its parents, and the parent's counters
(CPU time, peak memory, block I/O) are still there after the container is gone. They are read
once the container is removed, then the parent is deleted.

This needs a local engine with the ``cgroupfs`` cgroup driver and a writable ``/sys/fs/cgroup``
(root on the engine's host). Elsewhere a run records its wall time only: :func:`cgroup_parent`
answers None for a remote engine or without the rights, and an engine with the ``systemd`` driver
refuses the parent at create (once per runtime; nothing is asked up front, which would cost an
``/info`` round trip per process). Both cgroup v1 and v2 are read.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from wfc.runtime.base import Resources

ROOT = Path("/sys/fs/cgroup")
PARENT = "wfc"  # every per-container parent lives under this cgroup


def cgroup_parent(name: str) -> str | None:
    """The ``cgroup_parent`` to start container ``name`` under, or None when this process cannot
    read and delete cgroups (not root on the engine's host, no cgroup filesystem). An engine with
    the ``systemd`` driver refuses it at create; the runtime then goes on without one."""
    if not os.access(ROOT, os.W_OK | os.X_OK):
        return None
    if (ROOT / "cgroup.controllers").exists():  # cgroup v2
        return f"/{PARENT}/{name}"
    usable = all(os.access(ROOT / c, os.W_OK) for c in ("memory", "cpuacct"))
    return f"/{PARENT}/{name}" if usable else None


def collect(parent: str, wall_s: float) -> Resources | None:
    """Read the counters of ``parent`` (its container gone), then delete it. None when it is not
    to be found here: the engine made it in another cgroup namespace (an engine in a VM, or wfc
    in a container beside the engine's socket), where this process can neither read nor delete it."""
    rel = parent.lstrip("/")
    v2 = (ROOT / "cgroup.controllers").exists()
    try:
        if not (ROOT / rel if v2 else ROOT / "memory" / rel).is_dir():
            return None
        return _v2(ROOT / rel, wall_s) if v2 else _v1(rel, wall_s)
    except (OSError, ValueError):  # a measurement never fails a finished step
        return None
    finally:
        remove(parent)


def remove(parent: str) -> None:
    """Delete ``parent`` in every hierarchy it was made in (it holds no process any more)."""
    rel = parent.lstrip("/")
    for path in (ROOT / rel, *ROOT.glob(f"*/{rel}")):
        with contextlib.suppress(OSError):
            path.rmdir()


def remove_container_parent(name: str) -> None:
    """Delete the cgroup parent of container ``name``, if one is left (its process was killed)."""
    remove(f"/{PARENT}/{name}")


def _v1(rel: str, wall_s: float) -> Resources:
    cpu_ns = _number(ROOT / "cpuacct" / rel / "cpuacct.usage")
    peak = _number(ROOT / "memory" / rel / "memory.max_usage_in_bytes")
    read = written = None
    text = _read(ROOT / "blkio" / rel / "blkio.throttle.io_service_bytes_recursive")
    if text is not None:
        read = written = 0
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in ("Read", "Write"):
                if parts[1] == "Read":
                    read += int(parts[2])
                else:
                    written += int(parts[2])
    cpu = cpu_ns / 1e9 if cpu_ns is not None else None
    return Resources(wall_s, cpu, peak, read, written, source="cgroup")


def _v2(path: Path, wall_s: float) -> Resources:
    cpu = None
    for line in (_read(path / "cpu.stat") or "").splitlines():
        key, _, value = line.partition(" ")
        if key == "usage_usec":
            cpu = int(value) / 1e6
    read = written = None
    text = _read(path / "io.stat")
    if text is not None:
        read = written = 0
        for line in text.splitlines():
            for field in line.split()[1:]:
                key, _, value = field.partition("=")
                if key == "rbytes":
                    read += int(value)
                elif key == "wbytes":
                    written += int(value)
    return Resources(wall_s, cpu, _number(path / "memory.peak"), read, written, source="cgroup")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii")
    except OSError:
        return None


def _number(path: Path) -> int | None:
    text = _read(path)
    try:
        return int(text.strip()) if text is not None else None
    except ValueError:
        return None
