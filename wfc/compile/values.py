"""Loading values files: deep merge in order, validation naming the file and key path, defaults.

Maps merge recursively; lists and scalars replace; ``null`` removes the key so its default comes
back. Every error is one line naming the file, the key path and, for an unknown key, the closest
known one.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from wfc.errors import UsageError
from wfc.model.bounds import parse_yaml
from wfc.model.values import Values

Provenance = dict[tuple[str, ...], str]


def load_values(paths: list[Path]) -> Values:
    """Merge and validate values files (in order; later wins).

    Raises:
        UsageError: A missing file, invalid YAML, a non-mapping top level, an unknown key or a
            value of the wrong type (naming the file and key path).
    """
    merged: dict[str, Any] = {}
    provenance: Provenance = {}
    for path in paths:
        name = str(path)
        data = _read(path, name)
        _check_keys(data, Values, (), name)
        merged = _merge(merged, data, (), name, provenance)
    try:
        return Values.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(str(p) for p in err["loc"])
        where = _origin(loc, provenance)
        raise UsageError(
            f"{where}: {'.'.join(loc)}: {err['msg'].removeprefix('Value error, ')}",
            "see the values reference in docs/ (or `wfc compile --show-values`) for each key's type",
        ) from None


def _read(path: Path, name: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{name}: cannot read values file: {exc.strerror}", "check the -f path") from None
    try:
        data = parse_yaml(text, name)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UsageError(f"{name}: invalid YAML{where}", "fix the YAML syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(
            f"{name}: the top level must be a mapping of sections, not a {type(data).__name__}",
            "write sections such as `argo:` and `dvc:` at the top level",
        )
    return data


def _merge(
    base: dict[str, Any], over: dict[str, Any], at: tuple[str, ...], name: str, prov: Provenance
) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        path = (*at, str(key))
        if value is None:
            out.pop(key, None)
            prov[path] = name
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value, path, name, prov)
        else:
            out[key] = value
            prov[path] = name
    return out


def _origin(loc: tuple[str, ...], prov: Provenance) -> str:
    for n in range(len(loc), 0, -1):
        if loc[:n] in prov:
            return prov[loc[:n]]
    return "values"


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model class inside ``Model | None``, or None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        for arg in typing.get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def _dict_values_model(annotation: Any) -> type[BaseModel] | None:
    """The model of ``dict[str, Model]`` values, or None."""
    if typing.get_origin(annotation) is dict:
        return _model_of(typing.get_args(annotation)[1])
    return None


def _check_keys(data: Any, model: type[BaseModel], at: tuple[str, ...], name: str) -> None:
    """Unknown keys of one file, reported with the file, the key path and a hint."""
    if not isinstance(data, dict):
        return
    fields = model.model_fields
    for key, value in data.items():
        path = (*at, str(key))
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f" (did you mean '{'.'.join((*at, close[0]))}'?)" if close else ""
            raise UsageError(
                f"{name}: unknown key '{'.'.join(path)}'{hint}",
                f"keys of {'.'.join(at) or 'the top level'}: {', '.join(fields)}",
            )
        annotation = fields[key].annotation
        sub = _model_of(annotation)
        if sub is not None:
            _check_keys(value, sub, path, name)
        elif (inner := _dict_values_model(annotation)) is not None and isinstance(value, dict):
            for item_key, item in value.items():
                _check_keys(item, inner, (*path, str(item_key)), name)


def values_reference(model: type[BaseModel], prefix: str) -> list[tuple[str, str, str, str]]:
    """Every key of a section as ``(key path, type, default, meaning)``, for the docs."""
    rows: list[tuple[str, str, str, str]] = []
    for key, field in model.model_fields.items():
        path = f"{prefix}.{key}"
        sub = _model_of(field.annotation)
        default = None if field.is_required() else field.get_default(call_default_factory=True)
        shown = "(required)" if field.is_required() else _default_text(default)
        rows.append((path, _type_name(field.annotation), shown, field.description or ""))
        if sub is not None:
            rows += values_reference(sub, path)
        elif (inner := _dict_values_model(field.annotation)) is not None:
            rows += values_reference(inner, f"{path}.NAME")
    return rows


def _default_text(default: Any) -> str:
    if isinstance(default, BaseModel):
        return "(see below)"
    return yaml.safe_dump(default, default_flow_style=True, width=1000).strip().removesuffix("...").strip()


def _type_name(annotation: Any) -> str:
    text = str(annotation).replace("typing.", "").replace("wfc.model.values.", "")
    for name in ("<class '", "'>"):
        text = text.replace(name, "")
    text = re.sub(r"Literal\[(.*?)\]", lambda m: m[1].replace("'", "").replace(", ", " | "), text)
    return text.replace("NoneType", "null").replace("None", "null").replace("Any", "any")


def reference_markdown(section: str) -> str:
    """The docs' values reference of one section: a table generated from the models."""
    from wfc.model.values import Values

    model = _model_of(Values.model_fields[section].annotation)
    assert model is not None
    rows = ["| key | type | default | effect |", "|---|---|---|---|"]
    for key, kind, default, meaning in values_reference(model, section):
        cells = [f"`{key}`", kind, f"`{default}`" if default else "", meaning]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"
