"""The process runtime: run a method directly, for when wfc already runs inside the method's
environment image (an Argo task, a DVC stage in a container).

The step lifecycle describes an execution with container paths (``/wfc/run``, ``/wfc/inputs``…);
this runtime maps each mount point back to its host directory in argv, working directory and
environment, so the method sees the same contract with real paths. Limits: the timeout is
enforced here; cpus, memory, network and user are the container's (the pod's) to enforce.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from typing import IO, Any

from wfc.runtime.base import ExecResult, ExecSpec, OutputSink, Resources
from wfc_client import contract

# What a method inherits from the process (in a pod: the image's toolchain settings); everything
# else, wfc's settings and every credential, stays out unless the method lists it in ``pass_env``.
INHERITED = frozenset(
    {
        "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TERM",
        "LD_LIBRARY_PATH", "PYTHONPATH", "VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV",
        "JAVA_HOME", "R_HOME", "R_LIBS", "R_LIBS_SITE", "R_LIBS_USER", "JULIA_DEPOT_PATH",
        "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
    }
)  # fmt: skip


class ProcessRuntime:
    """Runs a method as a child process of wfc (no container)."""

    isolated = False  # no mount namespace: read-only inputs rest on file modes (copies for root)

    def close(self) -> None:
        """Nothing to release."""

    def reap(self, run_ids: list[str]) -> int:
        """Nothing outlives this runtime's runs."""
        return 0

    def run(self, spec: ExecSpec) -> ExecResult:
        """Run to completion, writing stdout and stderr to the spec's log files."""
        base = _inherited()
        table = sorted(((m.container, str(m.host)) for m in spec.mounts), key=lambda p: -len(p[0]))
        client = next((m for m in spec.mounts if m.container.endswith("/wfc_client")), None)

        def local(text: str) -> str:
            for inside, outside in table:
                text = text.replace(inside, outside)
            return text

        # host paths are longer than the container's: re-check what still fits in a variable
        env = contract.fitting({**base, **{k: local(v) for k, v in spec.env.items()}})
        if client is not None:  # the contract's PYTHONPATH names the parent of the client package
            parts = [str(client.host.parent), base.get("PYTHONPATH")]
            env["PYTHONPATH"] = os.pathsep.join(p for p in parts if p)
        argv = [local(a) for a in spec.argv]
        with spec.stdout_path.open("ab") as out, spec.stderr_path.open("ab") as err:
            proc = subprocess.Popen(
                argv,
                cwd=local(spec.workdir),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            pumps = [
                _pump(proc.stdout, out, "stdout", spec.output),
                _pump(proc.stderr, err, "stderr", spec.output),
            ]
            started = time.monotonic()
            exited = _Exit(proc.pid)
            timed_out = False
            try:
                if not exited.done.wait(spec.timeout):
                    timed_out = True
                    _kill(proc)
                    exited.done.wait()
            except BaseException:
                _kill(proc)
                exited.done.wait()
                raise
            finally:  # also when interrupted: the pumps finish before their logs and pipes close
                for pump in pumps:
                    pump.join()
                for pipe in (proc.stdout, proc.stderr):
                    if pipe is not None:
                        pipe.close()
                code, usage = _reap(proc)
        wall = time.monotonic() - started
        resources = (
            Resources(wall)
            if usage is None
            else Resources(
                wall,
                cpu_s=usage.ru_utime + usage.ru_stime,
                peak_memory_bytes=usage.ru_maxrss * 1024,  # Linux counts it in KiB
                read_bytes=usage.ru_inblock * 512,  # and block I/O in 512-byte blocks
                written_bytes=usage.ru_oublock * 512,
                source="rusage",
            )
        )
        # a SIGKILL wfc did not send is, in a pod, the kernel's OOM killer at the memory limit
        oom = code == -signal.SIGKILL and not timed_out
        return ExecResult(code, oom_killed=oom, timed_out=timed_out, resources=resources)


class _Exit:
    """Waits in a thread for the method's process to exit, without reaping it (``waitid`` with
    ``WNOWAIT``): until :func:`_reap`, after any kill, its pid and process group stay its own, so
    a kill can never reach a process that took over the number."""

    def __init__(self, pid: int) -> None:
        self.done = threading.Event()
        threading.Thread(target=self._wait, args=(pid,), daemon=True).start()

    def _wait(self, pid: int) -> None:
        try:
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:  # reaped elsewhere (SIGCHLD ignored): it has exited all the same
            pass
        finally:
            self.done.set()


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the method's process group (its leader not reaped yet, the group is still its)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _reap(proc: subprocess.Popen[bytes]) -> tuple[int, Any]:
    """Reap the exited process with ``wait4``: its exit code and what it alone used (steps side
    by side in one wfc process must not see each other's usage, as ``RUSAGE_CHILDREN`` would)."""
    try:
        _pid, status, usage = os.wait4(proc.pid, 0)
    except ChildProcessError:  # reaped by someone else: no usage to tell
        return proc.wait(), None
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    return proc.returncode, usage


def _inherited() -> Mapping[str, str]:
    """The variables under the method's own: the process's toolchain settings (:data:`INHERITED`,
    and the locale's ``LC_*``), never wfc's settings or a credential a container would not see."""
    return {k: v for k, v in os.environ.items() if k in INHERITED or k.startswith("LC_")}


def _pump(stream: IO[bytes] | None, log: IO[bytes], name: str, output: OutputSink | None) -> threading.Thread:
    def copy() -> None:
        assert stream is not None
        while chunk := stream.read1(1 << 16):  # type: ignore[attr-defined]
            log.write(chunk)
            log.flush()
            if output is not None:
                output(name, chunk)

    thread = threading.Thread(target=copy, daemon=True)
    thread.start()
    return thread
