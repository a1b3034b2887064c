"""wfc_client: write wfc methods in Python with a decorator. Standard library only.

Example::

    import wfc_client as wfc

    @wfc.method
    def count(ctx):
        n = sum(1 for _ in ctx.input_one("data").open())
        ctx.output_path("count").write_text(str(n))
        ctx.log_metric("lines", n)

    if __name__ == "__main__":
        wfc.run()

The method itself never needs wfc: this package only reads the ``WFC_*`` variables of the
contract (:mod:`wfc_client.contract`) and writes ``_wfc_results.json``, also when it fails.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import Any

from wfc_client.context import Context

__all__ = ["Context", "method", "run"]
__version__ = "0.1.0"

MethodFunc = Callable[[Context], Any]
_registered: list[MethodFunc] = []


def method(func: MethodFunc) -> MethodFunc:
    """Mark ``func(ctx)`` as this file's method; :func:`run` calls it."""
    _registered.append(func)
    return func


def run(func: MethodFunc | None = None, environ: dict[str, str] | None = None) -> int:
    """Run the method with a :class:`Context`, write the results file, and exit.

    The results file is written on success and on an exception (with the error message); the
    process exits 0 or 1 accordingly. Pass ``func`` to run a function that was not decorated.
    """
    if func is None:
        if len(_registered) != 1:
            sys.stderr.write(f"wfc_client: expected exactly one @wfc.method, found {len(_registered)}\n")
            sys.exit(2)
        func = _registered[0]
    ctx = Context(environ)
    try:
        func(ctx)
    except Exception as exc:
        traceback.print_exc()
        ctx.write_results(error=f"{type(exc).__name__}: {exc}")
        sys.stderr.write(f"{type(exc).__name__}: {exc}\n")
        sys.exit(1)
    ctx.write_results()
    sys.exit(0)
