"""Choosing a runtime by name (the ``runtime`` setting): ``docker`` (the default) or ``process``.

A new runtime (Podman, Apptainer) is one module implementing :class:`~wfc.runtime.base.Runtime`
plus one entry here. The Docker SDK is imported only when the Docker runtime is chosen.
"""

from __future__ import annotations

from wfc.errors import UsageError
from wfc.runtime.base import Runtime

RUNTIMES = ("docker", "process")


def make_runtime(name: str, env: str, image_id: str) -> Runtime:
    """A connected runtime that can run ``image_id`` (environment ``env``), checked before
    anything runs.

    Raises:
        UsageError: Unknown runtime name, or the environment's image is not in Docker.
        InfraError: Docker is not reachable.
    """
    if name == "process":
        from wfc.runtime.process import ProcessRuntime

        return ProcessRuntime()  # wfc runs inside the environment's image already
    if name != "docker":
        raise UsageError(f"unknown runtime '{name}'", "set WFC_RUNTIME / runtime to " + " or ".join(RUNTIMES))
    from wfc.runtime.docker import DockerRuntime, require_image

    runtime = DockerRuntime()
    require_image(runtime.client, env, image_id)
    return runtime
