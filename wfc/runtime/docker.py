"""The Docker runtime, through the Docker SDK (imported only when a method really runs).

Each execution is a container named ``wfc-<run id>`` and labelled with the run, node and pipeline
run, so that ``run-pipeline`` can find and stop its own containers. Containers run as a non-root
user, with ``--network none`` unless the method declares network, read-only mounts for everything
but the run directory, and the method's cpu and memory limits. :func:`run_argv` spells the same
container for the docker CLI (``wfc env shell`` needs its terminal handling).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from wfc.errors import InfraError, UsageError
from wfc.runtime.base import ExecResult, ExecSpec, OutputSink, Resources, container_name
from wfc.runtime.cgroup import cgroup_parent, collect, remove_container_parent
from wfc.runtime.reaper import release, remove_labelled, start_watchdog

DOCKER_HINT = "start the Docker engine (e.g. `dockerd &`) or point DOCKER_HOST at a running one"
# A fixed API version spares a version round trip per process; every engine since 20.10 speaks it.
API_VERSION = "1.41"


def docker_client() -> Any:
    """Return a connected Docker SDK client.

    Raises:
        InfraError: The engine is not reachable.
    """
    import docker
    from docker.errors import DockerException
    from requests.exceptions import RequestException

    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    _probe_socket(host)
    client = None
    try:
        client = docker.from_env(timeout=300, version=os.environ.get("DOCKER_API_VERSION", API_VERSION))
        if host.startswith("unix://"):  # no proxy or .netrc applies to a local socket: spare requests
            client.api.trust_env = False  # their lookup on every call (a fifth of a step's own CPU)
        client.ping()
    except (DockerException, RequestException) as exc:
        if client is not None:
            client.close()  # no socket left open behind the error
        raise InfraError(f"Docker is not reachable: {_first_line(exc)}", DOCKER_HINT) from None
    return client


def _probe_socket(host: str) -> None:
    """Refuse an engine socket nobody listens on before the SDK opens one (the SDK leaks the
    socket of a failed connect)."""
    import socket

    if not host.startswith("unix://"):
        return
    path = host.removeprefix("unix://")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(10)
        try:
            probe.connect(path)
        except OSError as exc:
            raise InfraError(f"Docker is not reachable: {path}: {exc.strerror or exc}", DOCKER_HINT) from None


def require_image(client: Any, env: str, image_id: str) -> None:
    """Refuse, before anything runs, an environment whose built image Docker no longer has.

    Raises:
        UsageError: The image is missing (the hint says how to rebuild it).
    """
    if not image_present(client, image_id):
        raise UsageError(
            f"the image of environment '{env}' ({image_id[:19]}…) is not in Docker",
            f"rebuild it with `wfc env build {env}`",
        )


def image_present(client: Any, image_id: str) -> bool:
    """Whether Docker has the image."""
    from docker.errors import ImageNotFound

    try:
        client.images.get(image_id)
    except ImageNotFound:
        return False
    return True


class DockerRuntime:
    """Runs methods in Docker containers."""

    isolated = True  # inputs are mounted read-only

    def __init__(self, client: Any | None = None) -> None:
        self._client = client
        # only a local engine's cgroups are ours to read; False once it refused a cgroup parent
        self._cgroups: bool = (os.environ.get("DOCKER_HOST") or "unix://").startswith("unix://")

    @property
    def client(self) -> Any:
        """The Docker SDK client, connected on first use."""
        if self._client is None:
            self._client = docker_client()
        return self._client

    def close(self) -> None:
        """Close the connection to the engine, if one was made."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def reap(self, run_ids: list[str]) -> int:
        """Remove the containers of runs whose wfc process died (found by their ``wfc.run`` label)."""
        removed = sum(remove_labelled(self.client, f"wfc.run={run_id}") for run_id in run_ids)
        for run_id in run_ids:  # and the cgroup parents their containers left
            remove_container_parent(container_name(run_id))
        return removed

    def run(self, spec: ExecSpec) -> ExecResult:
        """Create, start and wait for the container; always remove it afterwards. Its resources are
        read from its cgroup parent when the engine allows one (:mod:`wfc.runtime.cgroup`)."""
        from docker.errors import APIError

        parent = cgroup_parent(spec.name) if self._cgroups else None
        try:
            container = self._create(spec, parent)
        except APIError:  # refused the cgroup parent (the systemd driver takes only slices)
            self._cgroups, parent = False, None  # so wall time only, from now on
            container = self._create(spec, None)
        watchdog = start_watchdog(spec.name, API_VERSION)
        started = time.monotonic()
        try:
            result = self._attend(container, spec)
        finally:
            with contextlib.suppress(APIError):
                container.remove(force=True)
            release(watchdog)
            wall = time.monotonic() - started
            measured = collect(parent, wall) if parent is not None else None
            if parent is not None and measured is None:
                self._cgroups = False  # not readable from here: wall time only, from now on
        return replace(result, resources=measured or Resources(wall))

    def _attend(self, container: Any, spec: ExecSpec) -> ExecResult:
        """Start the created container and wait for it (killed at the timeout)."""
        from docker.errors import APIError
        from requests.exceptions import ConnectionError as RequestsConnectionError
        from requests.exceptions import ReadTimeout

        # attached before start, so that no output is missed
        pump = _pump(container, spec.stdout_path, spec.stderr_path, spec.output)
        try:
            container.start()
        except APIError as exc:
            raise InfraError(
                f"Docker could not start the container: {_first_line(exc)}", DOCKER_HINT
            ) from None
        timed_out = False
        try:
            status = container.wait(timeout=spec.timeout) if spec.timeout else container.wait()
            exit_code = int(status.get("StatusCode", 1))
        except (ReadTimeout, RequestsConnectionError):
            timed_out = True
            container.kill()
            exit_code = 137
        pump.join(timeout=30)
        oom = False
        if exit_code != 0 and not timed_out:
            container.reload()
            oom = bool(container.attrs.get("State", {}).get("OOMKilled"))
        return ExecResult(exit_code=exit_code, oom_killed=oom, timed_out=timed_out)

    def _create(self, spec: ExecSpec, parent: str | None) -> Any:
        """Create the container (under ``parent``, a cgroup parent, when given)."""
        from docker.errors import APIError, ImageNotFound

        try:
            return self.client.containers.create(
                **_create_kwargs(spec), **({"cgroup_parent": parent} if parent else {})
            )
        except ImageNotFound:
            raise UsageError(
                f"image {spec.image} is not present in Docker",
                "rebuild the environment with `wfc env build NAME`",
            ) from None
        except APIError as exc:
            if parent is not None and "cgroup-parent" in str(exc):
                raise  # the caller creates it again without one
            raise InfraError(
                f"Docker could not create the container: {_first_line(exc)}", DOCKER_HINT
            ) from None


def run_argv(spec: ExecSpec, *, tty: bool) -> list[str]:
    """The ``docker run`` command line of the container :meth:`DockerRuntime.run` would create for
    ``spec`` (same user, mounts, environment, labels, network and limits), attached to this
    process's stdin (and terminal with ``tty``) and removed when it exits: ``wfc env shell``.
    Both are spelled from :func:`_create_kwargs`, so they cannot drift apart."""
    kwargs = _create_kwargs(spec)
    argv = ["docker", "run", "--rm", "--interactive", *(["--tty"] if tty else [])]
    argv += ["--name", kwargs.pop("name"), "--user", kwargs.pop("user")]
    argv += ["--workdir", kwargs.pop("working_dir"), "--network", kwargs.pop("network_mode")]
    for key, value in kwargs.pop("labels").items():
        argv += ["--label", f"{key}={value}"]
    for key, value in kwargs.pop("environment").items():
        argv += ["--env", f"{key}={value}"]
    for host, bind in kwargs.pop("volumes").items():
        argv += ["--volume", f"{host}:{bind['bind']}:{bind['mode']}"]
    if "nano_cpus" in kwargs:
        argv += ["--cpus", f"{kwargs.pop('nano_cpus') / 1e9:g}"]
    if "mem_limit" in kwargs:
        argv += ["--memory", kwargs.pop("mem_limit"), "--memory-swap", kwargs.pop("memswap_limit")]
    argv += [f"--cap-drop={c}" for c in kwargs.pop("cap_drop")]
    argv += [f"--security-opt={o}" for o in kwargs.pop("security_opt")]
    argv += [f"--pids-limit={kwargs.pop('pids_limit')}"]
    argv += ["--read-only"] if kwargs.pop("read_only") else []
    argv += [f"--tmpfs={path}:{options}" for path, options in kwargs.pop("tmpfs").items()]
    kwargs.pop("detach")
    image, command = kwargs.pop("image"), kwargs.pop("command")
    if kwargs:
        raise AssertionError(f"run_argv: no docker CLI spelling for {sorted(kwargs)}")
    return [*argv, image, *command]


def _create_kwargs(spec: ExecSpec) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "image": spec.image,
        "command": spec.argv,
        "name": spec.name,
        "labels": spec.labels,
        "environment": spec.env,
        "working_dir": spec.workdir,
        "user": spec.user,
        "volumes": {
            str(m.host): {"bind": m.container, "mode": "ro" if m.read_only else "rw"} for m in spec.mounts
        },
        "network_mode": "bridge" if spec.network else "none",
        # Confinement: no capabilities, no privilege gain, a process limit, a read-only root
        # with a size-limited /tmp; the user is never root and only the run directory is writable.
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "pids_limit": spec.pids,
        "read_only": True,
        "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={spec.tmp},mode=1777"},
        "detach": True,
    }
    if spec.cpus:
        kwargs["nano_cpus"] = int(spec.cpus * 1e9)
    if spec.memory:
        kwargs["mem_limit"] = spec.memory
        kwargs["memswap_limit"] = spec.memory  # no swap beyond the limit: an overrun is an OOM
    return kwargs


def _pump(
    container: Any, stdout_path: Path, stderr_path: Path, output: OutputSink | None
) -> threading.Thread:
    """Attach to the container (before it starts, so nothing is missed) and copy its two streams to
    their log files, and to ``output`` when given, in a background thread."""
    frames = container.attach(stdout=True, stderr=True, stream=True, logs=True, demux=True)

    def copy() -> None:
        with stdout_path.open("ab") as out, stderr_path.open("ab") as err, _closing(frames):
            for chunk_out, chunk_err in frames:
                for chunk, log, name in ((chunk_out, out, "stdout"), (chunk_err, err, "stderr")):
                    if chunk:
                        log.write(chunk)
                        log.flush()  # `wfc logs --follow` reads the file while the step runs
                        if output is not None:
                            output(name, chunk)

    thread = threading.Thread(target=copy, daemon=True)
    thread.start()
    return thread


@contextlib.contextmanager
def _closing(frames: Any) -> Iterator[None]:
    """Close an attach stream and the HTTP response under it (the SDK closes only the former)."""
    try:
        yield
    finally:
        frames.close()
        response = getattr(frames, "_response", None)
        if response is not None:
            response.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
