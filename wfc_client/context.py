"""The method-side context: inputs, params, the run directory, outputs and metrics."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from wfc_client import contract


def inputs_from_file(path: Path) -> tuple[dict[str, list[str]], list[str]]:
    """The input paths by slot (made absolute) and gathered sample names of ``WFC_INPUTS_FILE``."""
    data = json.loads(path.read_text(encoding="utf-8"))
    base = path.parent
    paths = {slot: [str(base / p) for p in found] for slot, found in data["input_paths"].items()}
    return paths, list(data["samples"])


class Context:
    """What a running method knows about its step, read from the ``WFC_*`` variables."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = dict(os.environ if environ is None else environ)
        if contract.RUN_DIR not in env:
            raise RuntimeError(f"{contract.RUN_DIR} is not set: this must run as a wfc step")
        self.run_dir = Path(env[contract.RUN_DIR])
        self.params: dict[str, Any] = json.loads(env.get(contract.PARAMS) or "{}")
        self._inputs: dict[str, list[str]] = json.loads(env.get(contract.INPUT_PATHS) or "{}")
        self._declared: dict[str, str] = json.loads(env.get(contract.OUTPUTS) or "{}")
        self.sample: str = env.get(contract.SAMPLE, "")
        self.samples: list[str] = json.loads(env.get(contract.SAMPLES) or "[]")
        if env.get(contract.INPUTS_FILE) and contract.INPUT_PATHS not in env:  # too many for a variable
            self._inputs, self.samples = inputs_from_file(Path(env[contract.INPUTS_FILE]))
        self.run_id = env.get(contract.RUN_ID, "")
        self.node_id = env.get(contract.NODE_ID, "")
        self.outputs: dict[str, str] = {}
        self.metrics: dict[str, float] = {}

    def input(self, slot: str) -> list[Path]:
        """Every path given to an input slot (empty for an unfed optional slot)."""
        return [Path(p) for p in self._inputs.get(slot, [])]

    def input_one(self, slot: str) -> Path:
        """The single path of an input slot; an error unless exactly one was given."""
        paths = self.input(slot)
        if len(paths) != 1:
            raise ValueError(f"input slot '{slot}' has {len(paths)} paths, expected exactly one")
        return paths[0]

    def output_path(self, slot: str) -> Path:
        """Where the declared file of an output slot goes inside the run directory."""
        name = self._declared.get(slot, slot)
        path = self.run_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def save_artifact(self, slot: str, path: str | os.PathLike[str]) -> None:
        """Record a file or directory as the output of ``slot``; it must be inside the run dir."""
        resolved = (self.run_dir / path).resolve()
        root = self.run_dir.resolve()
        if resolved != root and root not in resolved.parents:
            raise ValueError(f"artifact {path} is outside the run directory {self.run_dir}")
        self.outputs[slot] = resolved.relative_to(root).as_posix()

    def log_metric(self, name: str, value: float) -> None:
        """Record a numeric metric of this step."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"metric {name} must be a number, got {value!r}")
        self.metrics[name] = value

    def write_results(self, error: str | None = None) -> Path:
        """Write ``_wfc_results.json`` (atomically) and return its path."""
        data = {
            "version": contract.RESULTS_VERSION,
            "outputs": self.outputs,
            "metrics": self.metrics,
            "error": error,
        }
        path = self.run_dir / contract.RESULTS_FILE
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
        return path
