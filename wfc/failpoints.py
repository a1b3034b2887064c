"""Named fail points for crash and race tests: ``WFC_FAILPOINT=name`` makes the process kill itself
there; ``WFC_PAUSEPOINT=name`` with ``WFC_PAUSE_FILE=path`` makes it create that file there and wait
(at most two minutes) until the test removes it.

Integrity claims ("a kill at any point leaves no wrong object and no false ``completed``", "gc
never deletes what a step is about to record") are only worth what a test can show, and a SIGKILL
or a pause at an exact point is the honest way to show them. The check is one environment lookup;
production never sets the variables.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

PAUSE_LIMIT_S = 120


def failpoint(name: str) -> None:
    """Kill this process with SIGKILL when ``$WFC_FAILPOINT`` equals ``name``; pause it when
    ``$WFC_PAUSEPOINT`` does."""
    if os.environ.get("WFC_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get("WFC_PAUSEPOINT") == name:
        marker = Path(os.environ["WFC_PAUSE_FILE"])
        marker.touch()
        deadline = time.monotonic() + PAUSE_LIMIT_S
        while marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
