"""The fake runtime: a method as a Python function called in wfc's own process, for testing the
step lifecycle (hit, miss, failure, timeout, cancel, outputs, records) with neither Docker nor a
child process.

It owns the few things a runtime does around a method: mapping the spec's container paths to
their host directories (as :class:`~wfc.runtime.process.ProcessRuntime` does), writing the
method's output to the spec's log files and its output sink, the timeout and the cancellation.
The method itself is a :data:`FakeMethod` registered under the method's ``module/name``, the last
two parts of the directory mounted at :data:`~wfc_client.contract.MOUNT_METHOD`. It runs in a
worker thread named like the spec (the container's name) and receives a :class:`Call`; on a
timeout or an interrupt the runtime asks it to stop, which its :meth:`Call.sleep` obeys by
raising :class:`Stopped`, and joins the thread before returning or re-raising.

What it cannot do: it never runs ``spec.argv``, so it says nothing about real programs, images,
interpreters, working directories or limits; a thread cannot be killed, so a fake method must
wait with :meth:`Call.sleep`. The Docker and process runtimes pass the same contract suite for that.
"""

from __future__ import annotations

import io
import json
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from wfc.runtime.base import ExecResult, ExecSpec, OutputSink
from wfc_client import contract
from wfc_client.context import inputs_from_file

KILLED = 137  # the exit code of a container stopped by SIGKILL
GRACE = 5.0  # seconds a stopped fake method gets to return


class Stopped(BaseException):
    """Raised in a fake method by :meth:`Call.sleep` once its run timed out or was cancelled."""


class _Log(io.TextIOBase):
    """A text stream to one of the spec's log files and its output sink, as the method writes."""

    def __init__(self, log: IO[bytes], name: str, sink: OutputSink | None) -> None:
        self._log, self._name, self._sink = log, name, sink

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        data = text.encode()
        self._log.write(data)
        self._log.flush()
        if self._sink is not None:
            self._sink(self._name, data)
        return len(text)


@dataclass(frozen=True)
class Call:
    """What a fake method sees: its ``WFC_*`` variables with host paths, parsed."""

    env: Mapping[str, str]  # the spec's WFC_* variables (the contract's), container paths mapped
    run_dir: Path
    inputs: dict[str, list[Path]]
    params: dict[str, Any]
    stdout: io.TextIOBase
    stderr: io.TextIOBase
    _stop: threading.Event = field(repr=False)

    def sleep(self, seconds: float) -> None:
        """Wait, or raise :class:`Stopped` as soon as the run timed out or was cancelled."""
        if self._stop.wait(seconds):
            raise Stopped


FakeMethod = Callable[[Call], int]  # returns the exit code


class FakeRuntime:
    """Calls the registered function of each method in a worker thread (no process, no container)."""

    isolated = False

    def __init__(self, methods: Mapping[str, FakeMethod]) -> None:
        self.methods = dict(methods)

    def close(self) -> None:
        """Nothing to release."""

    def reap(self, run_ids: list[str]) -> int:
        """Nothing outlives this runtime's runs."""
        return 0

    def run(self, spec: ExecSpec) -> ExecResult:
        """Call the method's function, writing its stdout and stderr to the spec's log files."""
        table = sorted(((m.container, str(m.host)) for m in spec.mounts), key=lambda p: -len(p[0]))

        def local(text: str) -> str:
            for inside, outside in table:
                text = text.replace(inside, outside)
            return text

        method_dir = next(m.host for m in spec.mounts if m.container == contract.MOUNT_METHOD)
        key = "/".join(method_dir.parts[-2:])
        if key not in self.methods:
            raise LookupError(f"no fake method for '{key}'; registered: {', '.join(sorted(self.methods))}")
        env = {k: local(v) for k, v in spec.env.items() if k.startswith("WFC_")}
        if contract.INPUT_PATHS in env:
            paths = json.loads(env[contract.INPUT_PATHS])
        else:  # a gather too large for one variable
            paths = inputs_from_file(Path(env[contract.INPUTS_FILE]))[0]
        stop, done, codes = threading.Event(), threading.Event(), [KILLED]
        with spec.stdout_path.open("ab") as out, spec.stderr_path.open("ab") as err:
            call = Call(
                env=env,
                run_dir=Path(env[contract.RUN_DIR]),
                inputs={slot: [Path(p) for p in found] for slot, found in paths.items()},
                params=json.loads(env[contract.PARAMS]),
                stdout=_Log(out, "stdout", spec.output),
                stderr=_Log(err, "stderr", spec.output),
                _stop=stop,
            )

            def work() -> None:
                try:
                    codes[0] = self.methods[key](call)
                except Stopped:
                    pass
                except BaseException:  # a crashing interpreter prints the traceback and exits 1
                    call.stderr.write(traceback.format_exc())
                    codes[0] = 1
                finally:
                    done.set()

            # wait on an event, not in join(): Python 3.11's join, interrupted by KeyboardInterrupt,
            # marks a running thread as stopped (bpo-45274's fix)
            worker = threading.Thread(target=work, name=spec.name, daemon=True)
            worker.start()
            try:
                timed_out = not done.wait(spec.timeout)
            finally:  # also when interrupted: the method stops before its logs close
                if not done.is_set():
                    stop.set()
                    if not done.wait(GRACE):
                        raise RuntimeError(f"fake method '{key}' did not stop: wait with Call.sleep")
                worker.join()
        return ExecResult(KILLED if timed_out else codes[0], timed_out=timed_out)
