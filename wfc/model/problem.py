"""A problem found in a document: where it is (a JSON path), what is wrong, how to fix it.

``wfc validate`` reports every problem of a pipeline; the resolver raises the first error among
those that concern the step it resolves, with the same words. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One finding: where (a JSON path such as ``links[2].to``), what, and how to fix it."""

    path: str
    message: str
    hint: str
    severity: Severity = "error"
