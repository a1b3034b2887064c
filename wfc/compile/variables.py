"""Pipeline variables (BRIEF §10): ``{"$var": "name"}`` in params, valued by precedence
default < ``$WFC_VAR_<NAME>`` < ``--var name=value``. The resolved values are what keys see."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from wfc.errors import UsageError, did_you_mean
from wfc.model.pipeline import Pipeline, Variable

VAR_KEY = "$var"


def env_name(name: str) -> str:
    """The environment variable of a pipeline variable."""
    return "WFC_VAR_" + name.upper().replace("-", "_")


def resolve_variables(
    pipeline: Pipeline, environ: Mapping[str, str], given: Mapping[str, str]
) -> dict[str, Any]:
    """The typed value of every variable that has one.

    Raises:
        UsageError: ``--var`` names an unknown variable, or a value does not parse as its type.
    """
    for name in given:
        if name not in pipeline.variables:
            raise UsageError(
                f"--var {name}: unknown variable{did_you_mean(name, list(pipeline.variables))}",
                "variables: " + (", ".join(pipeline.variables) or "none declared"),
            )
    values: dict[str, Any] = {}
    for name, var in pipeline.variables.items():
        if name in given:
            values[name] = _parse(name, var, given[name], f"--var {name}")
        elif env_name(name) in environ:
            values[name] = _parse(name, var, environ[env_name(name)], env_name(name))
        elif var.default is not None:
            values[name] = var.default
    return values


def substitute(
    params: dict[str, Any], values: Mapping[str, Any], pipeline: Pipeline, where: str
) -> dict[str, Any]:
    """Replace ``{"$var": name}`` param values by the variables' values.

    Raises:
        UsageError: An undeclared variable, or one with no value.
    """
    out = dict(params)
    for key, value in params.items():
        if isinstance(value, dict) and set(value) == {VAR_KEY}:
            name = str(value[VAR_KEY])
            if name not in pipeline.variables:
                raise UsageError(
                    f"{where}.{key}: unknown variable '{name}'{did_you_mean(name, list(pipeline.variables))}",
                    'declare it under "variables" in the pipeline document',
                )
            if name not in values:
                raise UsageError(
                    f"{where}.{key}: variable '{name}' has no value",
                    f"set {env_name(name)} or pass --var {name}=VALUE",
                )
            out[key] = values[name]
    return out


def _parse(name: str, var: Variable, text: str, source: str) -> Any:
    try:
        if var.type == "str":
            return text
        if var.type == "bool":
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        value = (
            json.loads(text) if var.type in ("list", "dict") else {"int": int, "float": float}[var.type](text)
        )
        if var.type in ("list", "dict") and not isinstance(value, list if var.type == "list" else dict):
            raise ValueError(text)
        return value
    except (ValueError, json.JSONDecodeError):
        raise UsageError(
            f"{source}: {text!r} is not a valid {var.type} for variable '{name}'",
            f"give {name} a {var.type} value",
        ) from None
