"""The method contract, the single source of its names (BRIEF §4).

Environment variables a method sees, the mount points inside the container, and the schema of
``_wfc_results.json``. The wfc engine imports this module; it never imports the engine.
"""

from __future__ import annotations

import json
import math
from typing import Any

# Environment variables set for every method execution.
RUN_DIR = "WFC_RUN_DIR"  # write outputs here (the only writable place)
INPUT_PATHS = "WFC_INPUT_PATHS"  # JSON {slot: [paths]}
PARAMS = "WFC_PARAMS"  # JSON {name: value}, resolved and typed
OUTPUTS = "WFC_OUTPUTS"  # JSON {slot: declared file name}
RUN_ID = "WFC_RUN_ID"  # label for logs only: not identity
PIPELINE_ID = "WFC_PIPELINE_ID"  # label for logs only
NODE_ID = "WFC_NODE_ID"  # label for logs only
VARIANT = "WFC_VARIANT"  # label for logs only
SAMPLE = "WFC_SAMPLE"  # the sample of a per-sample step: part of the cache key
SAMPLES = "WFC_SAMPLES"  # JSON list of gathered sample names (empty WFC_SAMPLE)
# The same inputs as a file, always set: {"input_paths": {slot: [paths relative to the file's
# directory]}, "samples": [names]}. A gather of thousands of inputs does not fit in one variable
# (the kernel limits each to 128 KiB): WFC_INPUT_PATHS and WFC_SAMPLES are then left unset.
INPUTS_FILE = "WFC_INPUTS_FILE"
INPUTS_FILE_NAME = "_wfc_inputs.json"  # in the staged inputs directory (a slot name has no dot)
VARIABLE_LIMIT = 64 * 1024  # bytes of JSON above which WFC_INPUT_PATHS / WFC_SAMPLES are unset
ALL_VARIABLES = (
    RUN_DIR,
    INPUT_PATHS,
    PARAMS,
    OUTPUTS,
    RUN_ID,
    PIPELINE_ID,
    NODE_ID,
    VARIANT,
    SAMPLE,
    SAMPLES,
    INPUTS_FILE,
)


def fitting(env: dict[str, str]) -> dict[str, str]:
    """``env`` without the listings (WFC_INPUT_PATHS, WFC_SAMPLES) too long for one variable:
    the method reads WFC_INPUTS_FILE instead."""
    return {k: v for k, v in env.items() if k not in (INPUT_PATHS, SAMPLES) or len(v) <= VARIABLE_LIMIT}


# Mount points inside the container.
MOUNT_METHOD = "/wfc/method"  # the method directory, read-only; the working directory
MOUNT_INPUTS = "/wfc/inputs"  # staged inputs, read-only
MOUNT_RUN = "/wfc/run"  # the run directory, writable
MOUNT_CLIENT = "/wfc/client"  # this package, read-only, on PYTHONPATH

RESULTS_FILE = "_wfc_results.json"
RESULTS_VERSION = 1


def parse_results(text: str) -> dict[str, Any]:
    """Validate the content of ``_wfc_results.json``.

    Returns:
        ``{"version": 1, "outputs": {slot: relative path}, "metrics": {name: number},
        "error": str | None}`` with missing keys filled in.

    Raises:
        ValueError: The file does not follow the schema; the message names the problem.
    """
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("the top level must be an object")
    unknown = set(data) - {"version", "outputs", "metrics", "error"}
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")
    if data.get("version") != RESULTS_VERSION:
        raise ValueError(f"version must be {RESULTS_VERSION}, got {data.get('version')!r}")
    outputs = data.get("outputs") or {}
    metrics = data.get("metrics") or {}
    error = data.get("error")
    if not isinstance(outputs, dict) or not all(isinstance(v, str) for v in outputs.values()):
        raise ValueError("outputs must map slot names to relative paths")
    if not isinstance(metrics, dict) or not all(_is_number(v) for v in metrics.values()):
        raise ValueError("metrics must map names to finite numbers")
    if error is not None and not isinstance(error, str):
        raise ValueError("error must be a string or null")
    return {"version": RESULTS_VERSION, "outputs": outputs, "metrics": metrics, "error": error}


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
