"""Pushing a step's metrics to a Prometheus Pushgateway (BRIEF §16), and removing them again.

Each step pushes one group keyed by ``job=wfc``, pipeline run, node, sample and variant, so steps
and concurrent pipeline runs never replace each other's series. Every grouping value is sent
base64url-encoded, so slashes, spaces and empty values are safe. A push that fails gives one
warning per process and never fails the step. Standard library only (no client package).
"""

from __future__ import annotations

import base64
import json
import math
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from wfc.model.status import Status

JOB = "wfc"
TIMEOUT_S = 3.0
GROUP_LABELS = ("pipeline_run", "node", "sample", "variant")


def group_path(labels: dict[str, str]) -> str:
    """The URL path of a group: ``/metrics/job/wfc/<label>@base64/<value>...``."""
    parts = [f"/metrics/job@base64/{_b64(JOB)}"]
    for name in GROUP_LABELS:
        parts.append(f"/{name}@base64/{_b64(labels.get(name, ''))}")
    return "".join(parts)


def _b64(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode() or "="


# resource trace field -> gauge (what a step's execution used; a cache hit pushes none)
USED = {
    "cpu_s": "wfc_step_cpu_seconds",
    "peak_memory_bytes": "wfc_step_peak_memory_bytes",
    "read_bytes": "wfc_step_read_bytes",
    "written_bytes": "wfc_step_written_bytes",
}


def exposition(
    *,
    status: str,
    method: str,
    phases: dict[str, float],
    output_bytes: int,
    metrics: dict[str, Any] | None,
    resources: dict[str, Any] | None = None,
) -> str:
    """The text exposition of one step's metrics (``resources``: what its execution used)."""
    esc = _label
    lines = [
        "# TYPE wfc_step_duration_seconds gauge",
        *(
            f'wfc_step_duration_seconds{{phase="{esc(p)}",method="{esc(method)}"}} {s:.6f}'
            for p, s in phases.items()
        ),
        "# TYPE wfc_step_status gauge",
        *(
            f'wfc_step_status{{status="{s}",method="{esc(method)}"}} {1 if s == status else 0}'
            for s in (Status.COMPLETED, Status.CACHED, Status.FAILED, Status.CANCELLED)
        ),
        "# TYPE wfc_step_cache_hit gauge",
        f'wfc_step_cache_hit{{method="{esc(method)}"}} {1 if status == Status.CACHED else 0}',
        "# TYPE wfc_step_output_bytes gauge",
        f'wfc_step_output_bytes{{method="{esc(method)}"}} {output_bytes}',
    ]
    for key, name in USED.items():
        if (value := _number((resources or {}).get(key))) is not None:
            lines.append(f"# TYPE {name} gauge")
            lines.append(f'{name}{{method="{esc(method)}"}} {value}')
    values = [(k, v) for k, v in sorted((metrics or {}).items()) if _number(v) is not None]
    if values:
        lines.append("# TYPE wfc_method_metric gauge")
        lines += [
            f'wfc_method_metric{{name="{esc(k)}",method="{esc(method)}"}} {_number(v)}' for k, v in values
        ]
    return "\n".join(lines) + "\n"


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def push(url: str, labels: dict[str, str], body: str, warn: Callable[[str], None]) -> bool:
    """PUT one group; on any failure call ``warn`` with one line and return False."""
    request = urllib.request.Request(
        url.rstrip("/") + group_path(labels),
        data=body.encode(),
        method="PUT",
        headers={"Content-Type": "text/plain; version=0.0.4"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S):
            return True
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        warn(f"warning: could not push metrics to {url}: {reason} (steps go on; check WFC_PUSHGATEWAY)")
        return False


def groups(url: str) -> list[dict[str, str]]:
    """The grouping labels of every wfc group on the gateway.

    Raises:
        OSError: The gateway cannot be reached.
    """
    with urllib.request.urlopen(url.rstrip("/") + "/api/v1/metrics", timeout=TIMEOUT_S) as response:
        data = json.loads(response.read())
    found = []
    for group in data.get("data", []):
        labels = {k: str(v) for k, v in group.get("labels", {}).items()}
        if labels.get("job") == JOB:
            found.append(labels)
    return found


def delete(url: str, labels: dict[str, str]) -> None:
    """Delete one group.

    Raises:
        OSError: The gateway cannot be reached.
    """
    request = urllib.request.Request(url.rstrip("/") + group_path(labels), method="DELETE")
    with urllib.request.urlopen(request, timeout=TIMEOUT_S):
        pass
