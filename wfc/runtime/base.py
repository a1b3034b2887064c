"""The runtime protocol: what the step lifecycle asks of anything that runs a method.

A runtime receives a fully described :class:`ExecSpec` (image, argv, env, mounts, limits, log
files) and returns an :class:`ExecResult`. Docker is the default; Podman, Apptainer or a plain
process runtime implement the same protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

# Receives the method's output as it is written: ("stdout" or "stderr", a chunk of bytes).
OutputSink = Callable[[str, bytes], None]


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
class ExecResult:
    """How an execution ended."""

    exit_code: int
    oom_killed: bool = False
    timed_out: bool = False


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
