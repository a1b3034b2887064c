"""The base class of every wfc document model, and how validation errors become lines of text.

Unknown fields come first, with the closest known field (``envv: unknown field (did you mean
'env'?)``); a missing field that an unknown field's suggestion accounts for is not reported, as it
is only the consequence of the typo.
"""

from __future__ import annotations

import difflib
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails


class Frozen(BaseModel):
    """Immutable, strict-keyed model: unknown fields are errors, instances are hashable values."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def first_error(exc: ValidationError, model: type[BaseModel] | None = None) -> str:
    """Render a pydantic error as ``path: message`` (the first problem, and how many more)."""
    found = problems_of(exc, model)
    path, msg = found[0]
    extra = len(found) - 1
    more = f" (and {extra} more problem{'s' if extra > 1 else ''})" if extra else ""
    return f"{path}: {msg}{more}" if path else f"{msg}{more}"


def problems_of(exc: ValidationError, model: type[BaseModel] | None = None) -> list[tuple[str, str]]:
    """Every pydantic error as ``(JSON path, message)``: unknown fields first, each with a
    did-you-mean from ``model``'s fields at its place; a missing field that such a suggestion
    names is dropped (the typo is the problem, not its consequence)."""
    errors = exc.errors()
    unknown = [e for e in errors if e["type"] == "extra_forbidden"]
    suggested: set[tuple[Any, ...]] = set()
    found: list[tuple[str, str]] = []
    for err in unknown:
        path, msg = describe(err)
        if model is not None and isinstance(err["loc"][-1], str):
            known = fields_at(model, tuple(err["loc"][:-1]))
            close = difflib.get_close_matches(err["loc"][-1], known, n=1)
            if close:
                msg += f" (did you mean '{close[0]}'?)"
                suggested.add((*err["loc"][:-1], close[0]))
        found.append((path, msg))
    for err in errors:
        if err["type"] == "extra_forbidden" or (err["type"] == "missing" and tuple(err["loc"]) in suggested):
            continue
        found.append(describe(err))
    return found


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


def fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names (aliases where set) of the model(s) found at ``loc`` inside ``model``."""
    kinds: list[Any] = [model]
    for part in loc:
        kinds = [found for kind in kinds for found in _step(kind, part)]
    names: set[str] = set()
    for kind in kinds:
        for member in _members(kind):
            if isinstance(member, type) and issubclass(member, BaseModel):
                names |= {f.alias or name for name, f in member.model_fields.items()}
    return sorted(names)


def _members(kind: Any) -> list[Any]:
    """A type with its ``Annotated`` wrappers and unions unfolded into plain members."""
    if get_origin(kind) is Annotated:
        return _members(get_args(kind)[0])
    if get_origin(kind) in (Union, types.UnionType):
        return [m for arg in get_args(kind) for m in _members(arg)]
    return [kind]


def _tag(kind: Any) -> str | None:
    if get_origin(kind) is Annotated:
        for meta in get_args(kind)[1:]:
            if type(meta).__name__ == "Tag":
                return str(meta.tag)
        return _tag(get_args(kind)[0])
    return None


def _step(kind: Any, part: Any) -> list[Any]:
    """What lies one location part below ``kind``: a field, a list item, a dict value or the
    member of a tagged union that the part names."""
    inner = get_args(kind)[0] if get_origin(kind) is Annotated else kind
    if get_origin(inner) in (Union, types.UnionType) and isinstance(part, str):
        tagged = [arg for arg in get_args(inner) if _tag(arg) == part]
        if tagged:
            return tagged
    found: list[Any] = []
    for member in _members(kind):
        origin, args = get_origin(member), get_args(member)
        if isinstance(member, type) and issubclass(member, BaseModel) and isinstance(part, str):
            for name, f in member.model_fields.items():
                if part in (name, f.alias):
                    found.append(f.annotation)
        elif origin in (list, tuple, set, frozenset) and isinstance(part, int) and args:
            found.append(args[0])
        elif origin is dict and isinstance(part, str) and len(args) == 2:
            found.append(args[1])
    return found
