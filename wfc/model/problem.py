"""A problem found in a document: where it is (a JSON path), what is wrong, how to fix it.

``wfc validate`` reports every problem of a pipeline; the resolver raises the first error among
those that concern the step it resolves, with the same words. A command that cannot go on because
its document has problems (``run-pipeline``, ``run-step``, ``plan``) raises :class:`DocumentInvalid`,
whose message lists them as ``validate`` words them. No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from wfc.errors import UsageError

Severity = Literal["error", "warning"]

SHOWN = 10  # the problems an error message lists; the rest are counted


@dataclass(frozen=True)
class Problem:
    """One finding: where (a JSON path such as ``links[2].to``), what, and how to fix it."""

    path: str
    message: str
    hint: str
    severity: Severity = "error"


class DocumentInvalid(UsageError):
    """A document with problems (exit 2). ``problems`` holds every one.

    One problem reads as ``validate`` prints it (``pipeline.json: nodes[0].samples: unknown sample
    's5'``, its fix as the hint); several are listed, each with its fix, at most :data:`SHOWN` and
    then how many more, under ``pipeline.json has 3 problems:``.
    """

    def __init__(self, document: str, problems: Sequence[Problem]) -> None:
        self.document = document
        self.problems = tuple(problems)
        first = self.problems[0]
        if len(self.problems) == 1:
            super().__init__(f"{document}: {_line(first)}", first.hint)
            return
        lines = [f"{document} has {len(self.problems)} problems:"]
        for p in self.problems[:SHOWN]:
            lines.append(f"  {_line(p)}")
            if p.hint:
                lines.append(f"    hint: {p.hint}")
        rest = len(self.problems) - SHOWN
        if rest > 0:
            lines.append(f"  and {rest} more problem{'s' if rest > 1 else ''}")
        hint = f"`wfc validate {document}` lists every problem" if rest > 0 else ""
        super().__init__("\n".join(lines), hint)


def _line(problem: Problem) -> str:
    return f"{problem.path}: {problem.message}" if problem.path else problem.message
