"""A throwaway one-node SLURM cluster for tests, started without systemd as root: its own ``munged``
(a generated key, its own socket), ``slurmctld`` and ``slurmd`` with a generated ``slurm.conf``
(one node ``localhost`` with this machine's CPUs and memory, one partition ``debug``, free ports,
no accounting, no cgroups), every file in one temporary directory. The client tools (``sbatch``,
``squeue``...) find it through ``SLURM_CONF`` (``env()``). Stopped, by the PIDs it started, by
whoever made it; nothing else on the machine is touched (Debian's own munge and slurm services,
if any, keep running on their default socket and ports)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PROGRAMS = ("munged", "slurmctld", "slurmd", "sinfo", "squeue", "scontrol", "scancel", "sbatch", "srun")
START_TIMEOUT_S = 60.0
FINISHED = (
    "COMPLETED",
    "CANCELLED",
    "FAILED",
    "TIMEOUT",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "BOOT_FAIL",
    "DEADLINE",
)
MIN_JOB_AGE_S = 600  # finished jobs stay visible to `squeue --states=all` this long: the test reads them


class SlurmUnavailable(RuntimeError):
    """A program is missing or a daemon did not start; the text says which and why."""


def missing_programs() -> list[str]:
    """The SLURM and munge programs that are not installed (``/usr/sbin`` is searched too)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return [name for name in PROGRAMS if shutil.which(name, path=path) is None]


def _program(name: str) -> str:
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    found = shutil.which(name, path=path)
    if found is None:
        raise SlurmUnavailable(f"{name} is not installed")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def node_hardware() -> dict[str, str]:
    """``CPUs``, ``Boards``, ``SocketsPerBoard``, ``CoresPerSocket``, ``ThreadsPerCore`` and
    ``RealMemory`` as ``slurmd -C`` finds them on this machine (a node configured with more than
    it has is drained)."""
    out = subprocess.run([_program("slurmd"), "-C"], capture_output=True, text=True, check=True).stdout
    found = dict(item.split("=", 1) for item in out.split() if "=" in item)
    keys = ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore", "RealMemory")
    return {key: found[key] for key in keys if key in found}


@dataclass
class SlurmCluster:
    """One running cluster: ``env()`` for client tools, ``jobs()`` the jobs slurmctld knows,
    ``stop()`` ends its daemons, ``remove()`` deletes its directory."""

    root: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)  # by daemon, in start order

    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    @property
    def munge_socket(self) -> Path:
        return self.root / "munge" / "munge.socket"

    def env(self) -> dict[str, str]:
        """What a process needs to use this cluster: ``SLURM_CONF`` (``sbatch``, ``squeue``, the
        daemons' plugins and munge's socket are all named in it)."""
        return {"SLURM_CONF": str(self.conf)}

    @classmethod
    def start(cls) -> SlurmCluster:
        """Start munge, slurmctld and slurmd and wait until the node is idle; on any failure stop
        what was started and raise SlurmUnavailable with the daemons' logs."""
        missing = missing_programs()
        if missing:
            raise SlurmUnavailable(f"not installed: {', '.join(missing)}")
        if os.geteuid() != 0:
            raise SlurmUnavailable("slurmd must run as root to start jobs (run the tests as root)")
        # Not under pytest's tree: unix socket paths must stay short (108 bytes).
        cluster = cls(Path(tempfile.mkdtemp(prefix="wfc-slurm-")))
        cluster.root.chmod(0o755)  # munged: every client must reach its socket
        try:
            cluster._write_config()
            cluster._start_munge()
            cluster._spawn("slurmctld", [_program("slurmctld"), "-D", "-f", str(cluster.conf)])
            cluster._spawn("slurmd", [_program("slurmd"), "-D", "-N", "localhost", "-f", str(cluster.conf)])
            cluster._wait_idle()
        except BaseException:
            cluster.stop()
            cluster.remove()  # the error carries the daemons' output
            raise
        return cluster

    def _write_config(self) -> None:
        for sub in ("munge", "state", "spool", "log", "run"):
            (self.root / sub).mkdir()
        (self.root / "munge").chmod(0o755)
        hardware = " ".join(f"{k}={v}" for k, v in node_hardware().items())
        lines = [
            "ClusterName=wfc-test",
            "SlurmctldHost=localhost(127.0.0.1)",
            f"SlurmctldPort={free_port()}",
            f"SlurmdPort={free_port()}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={self.munge_socket}",
            f"StateSaveLocation={self.root / 'state'}",
            f"SlurmdSpoolDir={self.root / 'spool'}",
            f"SlurmctldLogFile={self.root / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={self.root / 'log' / 'slurmd.log'}",
            f"SlurmctldPidFile={self.root / 'run' / 'slurmctld.pid'}",
            f"SlurmdPidFile={self.root / 'run' / 'slurmd.pid'}",
            "SlurmctldDebug=info",
            "SlurmdDebug=info",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "MpiDefault=none",
            "SwitchType=switch/none",
            "ReturnToService=2",
            f"MinJobAge={MIN_JOB_AGE_S}",
            "SchedulerParameters=sched_interval=1",
            f"NodeName=localhost NodeAddr=127.0.0.1 {hardware} State=UNKNOWN",
            "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP",
        ]
        self.conf.write_text("\n".join(lines) + "\n")

    def _start_munge(self) -> None:
        munge = self.root / "munge"
        key = munge / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self._spawn(
            "munged",
            [
                _program("munged"),
                "--foreground",
                f"--socket={self.munge_socket}",
                f"--key-file={key}",
                f"--pid-file={munge / 'munged.pid'}",
                f"--log-file={self.root / 'log' / 'munged.log'}",
                f"--seed-file={munge / 'munged.seed'}",
            ],
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.munge_socket.exists():
            self._check_alive()
            if time.monotonic() > deadline:
                raise SlurmUnavailable(f"munged made no socket in {START_TIMEOUT_S:.0f}s{self._logs()}")
            time.sleep(0.1)

    def _spawn(self, name: str, argv: list[str]) -> None:
        with (self.root / "log" / f"{name}.out").open("wb") as out:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env()},
                start_new_session=True,
            )
        self.procs[name] = proc

    def _check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise SlurmUnavailable(f"{name} exited with code {proc.returncode}{self._logs()}")

    def _wait_idle(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        state = ""
        while time.monotonic() < deadline:
            self._check_alive()
            proc = subprocess.run(
                [_program("sinfo"), "--noheader", "--nodes=localhost", "--format=%T"],
                capture_output=True,
                text=True,
                env={**os.environ, **self.env()},
                check=False,
            )
            state = proc.stdout.strip() or proc.stderr.strip()
            if state == "idle":
                return
            time.sleep(0.5)
        raise SlurmUnavailable(f"the node is not idle after {START_TIMEOUT_S:.0f}s: {state}{self._logs()}")

    def _logs(self) -> str:
        texts = []
        for path in sorted((self.root / "log").glob("*.out")):  # each daemon's whole output
            text = path.read_text(errors="replace").strip()
            if text:
                texts.append(f"\n--- {path.name} (last lines)\n" + "\n".join(text.splitlines()[-20:]))
        return "".join(texts)

    def jobs(self) -> list[dict[str, str]]:
        """Every job slurmctld still knows (finished ones for ``MinJobAge``): ``id``, ``name``,
        ``comment`` (the Snakemake plugin puts the rule and wildcards there), ``state``, ``node``."""
        proc = subprocess.run(
            [_program("squeue"), "--states=all", "--noheader", "--format=%i|%j|%k|%T|%N"],
            capture_output=True,
            text=True,
            env={**os.environ, **self.env()},
            check=True,
        )
        keys = ("id", "name", "comment", "state", "node")
        return [dict(zip(keys, line.split("|"), strict=True)) for line in proc.stdout.splitlines() if line]

    def _cancel_jobs(self) -> None:
        """Cancel the jobs still pending or running and wait (30 s at most) until slurmd has ended
        them: once it is gone, nothing would."""
        unfinished = [job["id"] for job in self.jobs() if job["state"] not in FINISHED]
        if not unfinished:
            return
        env = {**os.environ, **self.env()}
        subprocess.run(
            [_program("scancel"), *unfinished], env=env, capture_output=True, timeout=30, check=False
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(job["state"] not in FINISHED for job in self.jobs()):
            time.sleep(0.5)

    def stop(self) -> None:
        """Cancel this cluster's unfinished jobs (a failed test may leave some), then SIGTERM each
        daemon this cluster started, by PID, slurmd first; SIGKILL after 15s."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            with contextlib.suppress(
                subprocess.SubprocessError, OSError
            ):  # stopping the daemons matters more
                self._cancel_jobs()
        for proc in reversed(self.procs.values()):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=15)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
