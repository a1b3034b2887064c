"""The fake runtime: a method as a plain host process with a container's environment, for fast
tests of the step lifecycle without Docker or a built image.

It owns one thing beyond :class:`~wfc.runtime.process.ProcessRuntime`, whose mapping of container
paths to host directories, log pumping, timeout and cancellation it reuses: the method's
environment is sealed, as in a container. The method sees the contract's variables and ``PATH``
(to find its interpreter), never wfc's own (``WFC_DATABASE_URL``, ``WFC_PROJECT``, the test's),
so a method or a lifecycle change that leans on the host's environment fails here as it would in
Docker.

Why a child process and not ``runpy`` in a thread: a method's environment variables, working
directory and standard streams are process-wide, so two methods in one process would see each
other's; a thread cannot be stopped, so neither ``resources.timeout`` nor a cancellation could end
a method that sleeps or loops; and a method is any program (the ``shell`` environment runs bash).
A child process group honours all of that for one interpreter start-up (tens of milliseconds).
Like the process runtime it is not isolated: as root, inputs are staged as copies.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from wfc.runtime.process import ProcessRuntime


class FakeRuntime(ProcessRuntime):
    """Runs a method as a child process of wfc with only the contract's environment."""

    isolated = False

    def base_environment(self) -> Mapping[str, str]:
        """Only ``PATH`` under the method's own variables, as an image's environment would be."""
        return {"PATH": os.environ.get("PATH", os.defpath)}
