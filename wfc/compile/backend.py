"""What every generate-time backend receives: the concrete steps of a pipeline, ready to render.

The step layer (``wfc.pipeline.generate``) loads methods and environment locks and builds a
:class:`GenerateInput`; a backend is a pure function of it and the merged values, returning its
files by relative name. Adding a backend is one module plus one registry entry.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wfc.model.pipeline import Pipeline
from wfc.model.values import Values


@dataclass(frozen=True)
class StepPlan:
    """One concrete step as a backend renders it."""

    id: str  # short stable id (16 hex)
    name: str  # display name: node, node[sample], node[sample|variant]
    node: str
    sample: str | None
    variant: str | None
    argv: list[str]  # after `wfc run-step PIPELINE`
    after: list[str]  # ids of the steps it reads from
    env: str
    method: str  # module/name
    params: dict[str, Any]  # resolved params (variables at their defaults)


@dataclass(frozen=True)
class GenerateInput:
    """A pipeline, expanded and resolved as far as generate time allows."""

    pipeline: Pipeline
    document: str  # relative to the project root
    version: str
    steps: list[StepPlan]  # upstream before downstream
    method_dirs: dict[str, str] = field(default_factory=dict)  # module/name -> relative directory
    env_locks: dict[str, str] = field(default_factory=dict)  # env -> relative env.lock.json path
    images: dict[str, str] = field(default_factory=dict)  # env -> default image for container backends
    resources: dict[str, dict[str, int]] = field(default_factory=dict)  # node -> snakemake resources
    bundle: str | None = None  # digest of the archived document + methods (for remote engines)
    root: str = "."  # the project root, relative to where the generated files are written
    catalog: dict[str, dict[str, str]] = field(default_factory=dict)  # sample -> metadata, for select


MAX_NAME = 63


def dns_name(text: str, *, limit: int = MAX_NAME, force_hash: bool = False) -> str:
    """A DNS-1123 label for ``text``: lower case, ``[a-z0-9-]``, starting with a letter, at most
    ``limit`` characters; a 6-hex hash of the original is appended when anything was lost."""
    base = re.sub(r"[^a-z0-9-]+", "-", text.lower().replace("_", "-")).strip("-")
    if not base or not base[0].isalpha():
        base = "s-" + base
    base = re.sub(r"-{2,}", "-", base)
    lossless = base == text.lower().replace("_", "-") and len(base) <= limit  # only case and "_" changed
    if lossless and not force_hash:
        return base
    digest = hashlib.blake2b(text.encode(), digest_size=3).hexdigest()
    return f"{base[: limit - 7].rstrip('-')}-{digest}"


Render = Callable[[GenerateInput, Values], dict[str, str]]
