"""The step cache key: a tagged, versioned BLAKE3 digest over a step's identity (BRIEF §7).

:class:`StepIdentity` holds exactly what feeds the key and nothing else: node ids, variant names,
pipeline and run ids, times and host paths are record fields, not identity, so renaming a node or
a variant reuses the same work. Changing what goes in here is a key-format change: bump
``KEY_VERSION`` and write an ADR.
"""

from __future__ import annotations

from typing import Any

from wfc.cache.hashing import hash_json
from wfc.model.base import Frozen

KEY_TAG = "wfc.step-key"
KEY_VERSION = 1


class StepIdentity(Frozen):
    """Every component of a step's cache key."""

    module: str
    method: str
    code: str  # digest of the method's code tree
    contract: str  # digest of method.yaml's computation-bearing fields
    params: dict[str, Any]  # resolved, typed
    env_digest: str  # the image ID that runs the method
    inputs: dict[str, list[str]]  # slot -> content digests in slot order (gathers by sample name)
    sample: str | None = None  # the sample of a per-sample step (methods may read WFC_SAMPLE)
    members: list[str] | None = None  # the gathered sample names of a gather step, in order

    def components(self) -> dict[str, Any]:
        """The named components, as compared by ``wfc why``."""
        return self.model_dump(mode="json")


def step_key(identity: StepIdentity) -> str:
    """Return the cache key ``blake3:<hex>`` of a step."""
    return hash_json([KEY_TAG, KEY_VERSION, identity.components()])
