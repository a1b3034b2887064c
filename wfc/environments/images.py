"""What a project's environment images are called and labelled in Docker.

Tags are conveniences (the image ID is an environment's identity), but a shared engine holds the
images of many projects: two projects that both have an environment ``python`` must not take each
other's tag. Every tag is therefore scoped to its project::

    wfc-env-<project slug>-<8 hex>/<env>:latest        the environment
    wfc-env-<project slug>-<8 hex>/<env>-wfc:latest    the same with wfc inside (``--with-wfc``)

where the slug is the project directory's name and the 8 hex digits are a digest of the project
root, so that two checkouts named alike stay apart. Every image wfc builds carries the labels
``wfc.project=<root>`` and ``wfc.env=<env>``, like the containers ``run-step`` starts, so a
project's images can be listed and removed
(``docker images --filter label=wfc.project=$PWD``).
"""

from __future__ import annotations

import re

from wfc.cache.hashing import hash_json
from wfc.project import Project

PROJECT_LABEL = "wfc.project"
ENV_LABEL = "wfc.env"
# The image a generated workflow names for an environment never built with --with-wfc here:
# a stand-in to map onto a registry image with `images:` in a values file.
PLACEHOLDER = "wfc-env-{env}-wfc:latest"
_MAX_SLUG = 40


def image_repository(project: Project) -> str:
    """``wfc-env-<slug>-<8 hex>``: the first path component of every image tag of the project."""
    digest = hash_json(["wfc.project-images", 1, str(project.root)]).split(":", 1)[1]
    return f"wfc-env-{_slug(project.root.name, _MAX_SLUG) or 'project'}-{digest[:8]}"


def image_tag(project: Project, env: str) -> str:
    """The tag of an environment's image (``wfc env build NAME``)."""
    return f"{image_repository(project)}/{_env_component(env)}:latest"


def wfc_image_tag(project: Project, env: str) -> str:
    """The tag of an environment's image with wfc inside (``wfc env build NAME --with-wfc``)."""
    return f"{image_repository(project)}/{_env_component(env)}-wfc:latest"


def image_labels(project: Project, env: str) -> dict[str, str]:
    """The labels of every image built for an environment of the project."""
    return {PROJECT_LABEL: str(project.root), ENV_LABEL: env}


def _env_component(env: str) -> str:
    """An environment name as a path component of a Docker reference (lower case, ``[a-z0-9-]``);
    a name that had to change gets a short digest of the original, so two names never meet."""
    slug = _slug(env, 60)
    if slug == env:
        return slug
    return f"{slug or 'env'}-{hash_json(['wfc.env-name', env]).split(':', 1)[1][:6]}"


def _slug(text: str, limit: int) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower())[:limit].strip("-")
