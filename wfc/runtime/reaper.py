"""What must not outlive a run: the watchdog that removes a container when the wfc process that
started it dies (even by SIGKILL), and the reaper that removes a project's containers left by runs
that are over (issue 13). Docker is reached through the SDK, imported only when needed.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

# The watchdog: a process of its own session that removes the container unless told "done", so a
# container never outlives a wfc killed with SIGKILL (its pipe closes when it dies, however it dies).
# It starts with `python -S` (no site-packages start-up: a quarter of the CPU of a plain start, which
# a busy machine's steps compete for) and loads site-packages only when it must reach Docker.
_WATCHDOG = """
import sys
if sys.stdin.readline().strip() != "done":
    import site
    site.main()
    import docker, glob, os
    try:
        docker.from_env(version=sys.argv[2]).containers.get(sys.argv[1]).remove(force=True)
    except Exception:
        pass
    # and the container's cgroup parent (wfc.runtime.cgroup), empty now
    for parent in glob.glob("/sys/fs/cgroup/wfc/" + sys.argv[1]) + glob.glob(
        "/sys/fs/cgroup/*/wfc/" + sys.argv[1]
    ):
        try:
            os.rmdir(parent)
        except OSError:
            pass
"""


def start_watchdog(name: str, api_version: str) -> subprocess.Popen[bytes]:
    """Start the watchdog of the container ``name`` (created, not yet started)."""
    return subprocess.Popen(
        [sys.executable, "-S", "-c", _WATCHDOG, name, api_version],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a signal to wfc's process group does not reach it
    )


def release(watchdog: subprocess.Popen[bytes]) -> None:
    """Tell the watchdog the container is gone (wfc removed it) and let it exit; it is reaped in
    the background (waiting for its interpreter to end cost each step 13 ms)."""
    assert watchdog.stdin is not None
    with contextlib.suppress(OSError):
        watchdog.stdin.write(b"done\n")
        watchdog.stdin.close()
    threading.Thread(target=watchdog.wait, daemon=True).start()


def reap_orphans(client: Any, project_root: Path, over: Callable[[str], bool]) -> int:
    """Remove this project's containers whose run (its ``wfc.run`` label) is ``over``: recorded as
    ended, unknown, or running in a process that died (one killed together with its watchdog).
    Return how many went."""

    def alive(container: Any) -> bool:
        return not over(container.labels.get("wfc.run", ""))

    return remove_labelled(client, f"wfc.project={project_root}", keep=alive)


def remove_labelled(client: Any, label: str, keep: Callable[[Any], bool] = lambda _c: False) -> int:
    """Force-remove the containers labelled ``label`` (``key=value``) unless ``keep`` says to
    keep one; return how many went (one gone already, or refusing, does not count)."""
    from docker.errors import APIError

    removed = 0
    for container in client.containers.list(all=True, filters={"label": label}):
        if keep(container):
            continue
        with contextlib.suppress(APIError):
            container.remove(force=True)
            removed += 1
    return removed


def pid_alive(pid: int | None) -> bool:
    """Whether a process of this machine still exists (an unknown pid counts as alive)."""
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
