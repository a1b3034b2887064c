"""The runtime protocol: what the step lifecycle asks of anything that runs a method.

A runtime receives a fully described :class:`ExecSpec` (image, argv, env, mounts, limits, log
files) and returns an :class:`ExecResult`. Docker is the default; Podman, Apptainer or a plain
process runtime implement the same protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

# Receives the method's output as it is written: ("stdout" or "stderr", a chunk of bytes).
OutputSink = Callable[[str, bytes], None]


def container_name(run_id: str) -> str:
    """The name of a run's container (and of its cgroup parent): ``wfc-<run id>``, lower case."""
    return f"wfc-{run_id.lower()}"


@dataclass(frozen=True)
class Mount:
    """A host path bound into the container."""

    host: Path
    container: str
    read_only: bool = True


@dataclass(frozen=True)
class ExecSpec:
    """Everything needed to run one method execution."""

    name: str
    image: str
    argv: list[str]
    workdir: str
    env: dict[str, str]
    mounts: list[Mount]
    stdout_path: Path
    stderr_path: Path
    labels: dict[str, str] = field(default_factory=dict)
    user: str = "1000:1000"
    network: bool = False
    cpus: float | None = None
    memory: str | None = None
    timeout: float | None = None
    pids: int = 512  # the container's process limit
    tmp: str = "1g"  # the size of its writable /tmp (everything else is read-only but the mounts)
    output: OutputSink | None = None  # also hand the output, as it comes, to this callable


@dataclass(frozen=True)
class Resources:
    """What an execution used, as its runtime measured it (None: this runtime cannot tell).

    Attributes:
        wall_s: Seconds from start to exit.
        cpu_s: CPU seconds, user and system, of every process of the execution.
        peak_memory_bytes: The most memory it held at once (a container's cgroup counts page cache).
        read_bytes: Bytes read from block devices.
        written_bytes: Bytes written to block devices.
        source: Where the figures come from: ``cgroup``, ``rusage`` or ``clock`` (wall time only).
    """

    wall_s: float
    cpu_s: float | None = None
    peak_memory_bytes: int | None = None
    read_bytes: int | None = None
    written_bytes: int | None = None
    source: str = "clock"

    def as_record(self) -> dict[str, Any]:
        """The JSON object the lineage records (``runs.resources``)."""
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class ExecResult:
    """How an execution ended, and what it used."""

    exit_code: int
    oom_killed: bool = False
    timed_out: bool = False
    resources: Resources | None = None


class Runtime(Protocol):
    """Runs a method and reports how it ended.

    Attributes:
        isolated: Whether the method runs in its own mount namespace, where read-only mounts
            protect staged inputs whoever it runs as (False: file modes are all there is).
    """

    isolated: bool

    def run(self, spec: ExecSpec) -> ExecResult:
        """Run to completion, writing stdout and stderr to the spec's log files."""
        ...

    def close(self) -> None:
        """Release connections (a long-lived process runs many pipelines)."""
        ...

    def reap(self, run_ids: list[str]) -> int:
        """Remove what is left of these runs' executions (their process died); return how many."""
        ...
