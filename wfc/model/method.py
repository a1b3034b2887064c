"""``method.yaml``: the method contract (BRIEF §4), param validation and the contract fingerprint."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any, cast

from pydantic import Field, StringConstraints, field_validator, model_validator

from wfc.errors import UsageError, did_you_mean
from wfc.model.base import Frozen

SLOT_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"


class ParamType(StrEnum):
    """The types a method param may declare."""

    STR = "str"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    LIST = "list"
    DICT = "dict"


class ParamSpec(Frozen):
    """One declared param."""

    type: ParamType = ParamType.STR
    default: Any = None
    required: bool = False
    description: str = ""
    choices: list[Any] | None = None
    min: float | None = None
    max: float | None = None


class InputSlot(Frozen):
    """One input slot."""

    type: str = ""
    required: bool = True
    multiple: bool = False
    description: str = ""


class OutputSlot(Frozen):
    """One output slot: a file name, or a directory name ending in ``/``."""

    file: str
    required: bool = True
    description: str = ""

    @field_validator("file")
    @classmethod
    def _relative(cls, value: str) -> str:
        if not value or value.startswith("/") or ".." in value.split("/"):
            raise ValueError("must be a relative name inside the run directory")
        return value

    @property
    def is_dir(self) -> bool:
        """Whether the output is a directory."""
        return self.file.endswith("/")


class Resources(Frozen):
    """Runtime limits; not part of the cache key."""

    cpus: float | None = Field(default=None, gt=0)
    memory: str | None = Field(default=None, pattern=r"^\d+(\.\d+)?[bkmgBKMG]?$")
    gpus: int = Field(default=0, ge=0)
    timeout: float | None = Field(default=None, gt=0)
    pids: int = Field(default=512, ge=16)  # processes and threads of a container: a fork bomb stops there
    tmp: str = Field(default="1g", pattern=r"^\d+(\.\d+)?[bkmgBKMG]?$")  # the size of its /tmp (RAM)


# WFC_PARAMS is one environment variable: Linux caps one at 128 KiB (MAX_ARG_STRLEN), with room
# left here for the other variables.
MAX_PARAMS_BYTES = 64 << 10


class MethodSpec(Frozen):
    """The parsed ``method.yaml``."""

    description: str = ""
    env: str
    entry: str = "main.py"
    command: list[str] | None = None
    inputs: dict[str, InputSlot] = {}
    outputs: dict[str, OutputSlot] = {}
    params: dict[str, ParamSpec] = {}
    resources: Resources = Resources()
    network: bool = False
    # Host variables the method may read (proxies, thread counts, tokens): passed in every runtime
    # when set; their values are not part of the key, so they must not change what it computes.
    pass_env: list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]] = []
    retries: int = Field(default=0, ge=0)
    cache: bool = True

    @field_validator("pass_env")
    @classmethod
    def _not_ours(cls, names: list[str]) -> list[str]:
        ours = [n for n in names if n.startswith("WFC_")]
        if ours:
            raise ValueError(f"pass_env may not name wfc's own variables: {', '.join(ours)}")
        return names

    @model_validator(mode="after")
    def _check(self) -> MethodSpec:
        for kind, names in (("inputs", self.inputs), ("outputs", self.outputs), ("params", self.params)):
            for name in names:
                if not _is_slot_name(name):
                    raise ValueError(f"{kind}.{name}: names use letters, digits, '_' and '-'")
        for name, param in self.params.items():
            if param.default is not None:
                try:
                    check_param(name, param, param.default)
                except ValueError as exc:
                    raise ValueError(f"params.{name}.default: {exc}") from None
        return self

    @property
    def argv(self) -> list[str]:
        """The command that runs the method inside its container."""
        return list(self.command) if self.command else ["python3", self.entry]

    def contract(self) -> dict[str, Any]:
        """The computation-bearing fields (BRIEF §7): slots, output names, params schema, command.

        Descriptions, resources, retries and the ``cache`` flag do not change what the method
        computes, so they are left out and editing them reuses earlier results.
        """
        return {
            "inputs": {k: {"required": v.required, "multiple": v.multiple} for k, v in self.inputs.items()},
            "outputs": {k: {"file": v.file, "required": v.required} for k, v in self.outputs.items()},
            "params": {k: p.model_dump(mode="json", exclude={"description"}) for k, p in self.params.items()},
            "command": self.argv,
            "network": self.network,
        }

    def resolve_params(self, given: dict[str, Any], where: str) -> dict[str, Any]:
        """Validate ``given`` params and merge defaults; the result is what the key sees.

        Args:
            given: Param values from the pipeline (node params, then variant).
            where: A location prefix for messages, such as ``nodes[clean].params``.

        Raises:
            UsageError: An unknown, missing or mistyped param.
        """
        resolved: dict[str, Any] = {}
        for name, value in given.items():
            if name not in self.params:
                known = ", ".join(sorted(self.params)) or "none"
                raise UsageError(
                    f"{where}.{name}: unknown param{did_you_mean(name, set(self.params))}",
                    f"this method's params are: {known}",
                )
            try:
                resolved[name] = check_param(name, self.params[name], value)
            except ValueError as exc:
                raise UsageError(f"{where}.{name}: {exc}", "fix the value in the pipeline document") from None
        for name, spec in self.params.items():
            if name in resolved:
                continue
            if spec.default is None and spec.required:
                raise UsageError(f"{where}.{name}: required param is missing", f"set params.{name}")
            resolved[name] = check_param(name, spec, spec.default) if spec.default is not None else None
        size = len(json.dumps(resolved, sort_keys=True).encode())
        if size > MAX_PARAMS_BYTES:
            largest = max(resolved, key=lambda n: len(json.dumps(resolved[n]).encode()))
            raise UsageError(
                f"{where}: the params are {size:,} bytes as JSON (largest: {largest}); the limit is "
                f"{MAX_PARAMS_BYTES >> 10} KiB, as they reach the method in an environment variable",
                f"pass large data as an input (a sample or an upstream output), not as params.{largest}",
            )
        return dict(sorted(resolved.items()))


def check_param(name: str, spec: ParamSpec, value: Any) -> Any:
    """Check one value against its spec and return it typed (an int is accepted for a float).

    Raises:
        ValueError: The message names the expected and the actual value.
    """
    expected = _PYTHON_TYPES[spec.type]
    is_bool = isinstance(value, bool)
    if not isinstance(value, expected) or (is_bool and spec.type in (ParamType.INT, ParamType.FLOAT)):
        raise ValueError(f"expected {spec.type.value}, got {_show(value)}")
    if spec.type is ParamType.FLOAT:
        value = float(cast(float, value))
    if spec.choices is not None and value not in spec.choices:
        raise ValueError(f"{_show(value)} is not one of {spec.choices}")
    if spec.min is not None and isinstance(value, int | float) and value < spec.min:
        raise ValueError(f"{value} is below the minimum {spec.min:g}")
    if spec.max is not None and isinstance(value, int | float) and value > spec.max:
        raise ValueError(f"{value} is above the maximum {spec.max:g}")
    return value


_PYTHON_TYPES: dict[ParamType, type | tuple[type, ...]] = {
    ParamType.STR: str,
    ParamType.INT: int,
    ParamType.FLOAT: (int, float),
    ParamType.BOOL: bool,
    ParamType.LIST: list,
    ParamType.DICT: dict,
}


def _show(value: Any) -> str:
    import json

    return json.dumps(value) if not isinstance(value, str) else f'"{value}"'


def _is_slot_name(name: str) -> bool:
    import re

    return re.match(SLOT_PATTERN, name) is not None
