"""``env.lock.json``: the record of an environment's last build on this machine (BRIEF §5)."""

from __future__ import annotations

from pydantic import Field

from wfc.model.base import Frozen

LOCK_SCHEMA = 1


class EnvLock(Frozen):
    """What was built: the image ID digest is the environment's identity in every cache key."""

    schema_: int = Field(default=LOCK_SCHEMA, alias="schema")
    name: str
    image_id: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    tag: str
    base_image: str
    build_args: dict[str, str] = {}
    ca_bundle: str = ""
    built_at: str
    dockerfile_hash: str
    wfc_tag: str | None = None  # the image with wfc inside (`--with-wfc`), for Argo and containers
    wfc_image_id: str | None = None
