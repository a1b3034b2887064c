"""The base class of every wfc document model, and how validation errors become one line."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails


class Frozen(BaseModel):
    """Immutable, strict-keyed model: unknown fields are errors, instances are hashable values."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def first_error(exc: ValidationError) -> str:
    """Render a pydantic error as ``path: message`` (the first problem, and how many more)."""
    errors = exc.errors()
    path, msg = describe(errors[0])
    extra = len(errors) - 1
    more = f" (and {extra} more problem{'s' if extra > 1 else ''})" if extra else ""
    return f"{path}: {msg}{more}" if path else f"{msg}{more}"


def describe(err: ErrorDetails) -> tuple[str, str]:
    """One pydantic error as ``(JSON path, message)``."""
    parts: list[str] = []
    for part in err["loc"]:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif not part.startswith(("function-", "tagged-union")) and " " not in part:  # skip union tags
            parts.append(("." if parts else "") + part)
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    elif err["type"] == "missing":
        msg = "required field is missing"
    return "".join(parts), msg
