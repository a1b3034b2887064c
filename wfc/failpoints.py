"""Named fail points for crash tests: ``WFC_FAILPOINT=name`` makes the process kill itself there.

Integrity claims ("a kill at any point leaves no wrong object and no false ``completed``") are only
worth what a test can show, and a SIGKILL at an exact point is the honest way to show them. The
check is one environment lookup; production never sets the variable.
"""

from __future__ import annotations

import os
import signal


def failpoint(name: str) -> None:
    """Kill this process with SIGKILL when ``$WFC_FAILPOINT`` equals ``name``."""
    if os.environ.get("WFC_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
