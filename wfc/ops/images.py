"""``wfc env save``: an environment's image kept in the store (a ``docker save`` archive), and
put back into Docker when a reproduction needs the image and Docker has lost it.

An image is named by its ID (the digest every cache key holds). A rebuild from the same
Dockerfile gives another ID (new layers, new timestamps), so the saved archive is the only way
back to the very image a result was made in, without a registry. ``saved_images`` in the lineage
database maps the ID to the archive; ``cache gc`` keeps it, ``cache verify`` checks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import select

from wfc.environments.build import read_lock
from wfc.errors import InfraError, UsageError
from wfc.lineage.db import Database, database
from wfc.lineage.records import now
from wfc.lineage.schema import SavedImage
from wfc.project import Project
from wfc.runtime.docker import DOCKER_HINT, docker_client, image_present
from wfc.store.local import ObjectStore

CHUNK = 1 << 20


@dataclass(frozen=True)
class SavedEnvironment:
    """An environment image kept in the store; ``already``: it was saved before (nothing moved)."""

    SCHEMA: ClassVar[str] = "wfc.env-save/1"

    env: str
    image_id: str
    object: str
    size: int
    already: bool


def save_environment(project: Project, name: str) -> SavedEnvironment:
    """Keep the built image of environment ``name`` in the store.

    Raises:
        UsageError: Unknown or unbuilt environment, or its image is no longer in Docker.
        InfraError: Docker is not reachable.
    """
    from docker.errors import DockerException
    from requests.exceptions import RequestException

    image_id = read_lock(project, name).image_id
    store = project.object_store()
    with database(project.database_url) as db:
        known = _saved(db, image_id)
        if known is not None and store.has(known.object):
            return SavedEnvironment(name, image_id, known.object, known.size, already=True)
        client = docker_client()
        try:
            if not image_present(client, image_id):
                raise UsageError(
                    f"the image of environment '{name}' ({image_id}) is not in Docker",
                    f"rebuild it with `wfc env build {name}`, then save it",
                )
            try:
                stream = client.images.get(image_id).save(chunk_size=CHUNK, named=False)
                digest, size = store.put_stream(stream)
            except (DockerException, RequestException) as exc:  # the engine failed mid-stream
                raise InfraError(f"Docker could not save image {image_id}: {exc}", DOCKER_HINT) from None
        finally:
            client.close()
        with db.session() as s, s.begin():
            s.merge(SavedImage(image_id=image_id, env_name=name, object=digest, size=size, saved_at=now()))
    return SavedEnvironment(name, image_id, digest, size, already=False)


def restore_image(db: Database, store: ObjectStore, client: Any, image_id: str) -> bool:
    """Load a saved image back into Docker; False when none was saved (or its archive is gone).

    Raises:
        InfraError: Docker refused the archive, or it held another image.
    """
    from docker.errors import DockerException
    from requests.exceptions import RequestException

    known = _saved(db, image_id)
    if known is None or not store.has(known.object):
        return False
    store.verify(known.object)
    try:
        with store.path(known.object).open("rb") as archive:
            client.images.load(archive)
    except (DockerException, RequestException) as exc:
        raise InfraError(f"Docker could not load the saved image {image_id}: {exc}", DOCKER_HINT) from None
    if not image_present(client, image_id):
        raise InfraError(
            f"the saved archive {known.object} did not give image {image_id}",
            "run `wfc cache verify`; save the environment again with `wfc env save`",
        )
    return True


def _saved(db: Database, image_id: str) -> SavedImage | None:
    with db.session() as s:
        row = s.execute(select(SavedImage).where(SavedImage.image_id == image_id)).scalar()
        if row is not None:
            s.expunge(row)
        return row
