"""Environments (BRIEF §5): building ``environments/<name>/Dockerfile`` and its ``env.lock.json``.

The identity of an environment is the image ID digest that Docker reports after the build; tags
are only conveniences, scoped to the project and labelled with it (``wfc.environments.images``).
The base image is a build argument (``ARG WFC_BASE_IMAGE``) chosen by the
precedence option > ``$WFC_BASE_IMAGE`` > ``env.toml`` > ``wfc.toml`` > default; a Dockerfile with
a literal ``FROM`` builds as written. An extra CA bundle, when configured, is copied into the build
context and trusted after every ``FROM`` (pip, requests and OpenSSL all honour it).
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from wfc.atomic import write_text_atomic
from wfc.cache.hashing import hash_file
from wfc.environments.images import PLACEHOLDER, image_labels, image_tag, wfc_image_tag
from wfc.errors import StepFailed, UsageError, did_you_mean
from wfc.model.base import first_error
from wfc.model.environment import EnvLock
from wfc.project import Project
from wfc.runtime.docker import image_present

LOCK_FILE = "env.lock.json"
CA_NAME = "wfc-ca-bundle.crt"
CA_PATH = "/usr/local/share/wfc/ca-bundle.crt"
_FROM = re.compile(r"^\s*FROM\s", re.IGNORECASE)
_ARG_BASE = re.compile(r"^\s*ARG\s+WFC_BASE_IMAGE\b", re.IGNORECASE | re.MULTILINE)


def workflow_image(project: Project, name: str) -> str:
    """The image a generated workflow (Argo) names for an environment: the one ``wfc env build
    NAME --with-wfc`` tagged, as its lock records it, else a stand-in to map onto a registry image
    with ``images:`` in a values file (never a tag of this machine that was not built)."""
    lock = project.environments_dir / name / LOCK_FILE
    if lock.is_file():
        try:
            tag = EnvLock.model_validate_json(lock.read_bytes()).wfc_tag
        except ValidationError:
            tag = None
        if tag:
            return tag
    return PLACEHOLDER.format(env=name)


def list_environments(project: Project) -> list[str]:
    """Names of the environments that have a Dockerfile."""
    root = project.environments_dir
    if not root.is_dir():
        return []
    return sorted(d.name for d in root.iterdir() if (d / "Dockerfile").is_file())


def environment_dir(project: Project, name: str) -> Path:
    """The directory of an environment.

    Raises:
        UsageError: No such environment.
    """
    path = project.environments_dir / name
    if not (path / "Dockerfile").is_file():
        known = list_environments(project)
        raise UsageError(
            f"unknown environment '{name}': no environments/{name}/Dockerfile{did_you_mean(name, known)}",
            "environments are: " + (", ".join(known) or "none yet (create environments/NAME/Dockerfile)"),
        )
    return path


def read_lock(project: Project, name: str) -> EnvLock:
    """The lock of a built environment.

    Raises:
        UsageError: The environment does not exist or has not been built.
    """
    path = environment_dir(project, name) / LOCK_FILE
    if not path.is_file():
        raise UsageError(f"environment '{name}' is not built", f"run `wfc env build {name}`")
    try:
        return EnvLock.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise UsageError(f"{path}: {first_error(exc)}", f"rebuild it with `wfc env build {name}`") from None


def base_image_for(project: Project, name: str, option: str | None = None) -> str:
    """The base image for an environment, by the documented precedence."""
    if option:
        return option
    setting = project.settings.get("base_image")
    if setting is not None and setting.source in ("option", "env"):
        return setting.value
    env_toml = environment_dir(project, name) / "env.toml"
    if env_toml.is_file():
        data = tomllib.loads(env_toml.read_text(encoding="utf-8"))
        if isinstance(data.get("base_image"), str):
            return str(data["base_image"])
    return project.get("base_image")


def build_environment(
    project: Project,
    name: str,
    *,
    base_image: str | None = None,
    ca_bundle: str | None = None,
    echo: bool = True,
    client: Any | None = None,
    with_wfc: bool = False,
    on_line: Callable[[str], None] | None = None,
) -> EnvLock:
    """Build an environment's image and write its lock; with ``with_wfc``, also the image with
    wfc inside (``wfc.environments.with_wfc``), recorded in the lock as ``wfc_tag``/``wfc_image_id``.
    ``on_line`` receives each line of Docker's build output (``wfc canvas`` streams them).

    Raises:
        UsageError: Unknown environment or unreadable CA bundle.
        StepFailed: The Docker build failed (the last build lines are in the message).
        InfraError: Docker is not reachable.
    """
    from wfc.runtime.docker import docker_client

    directory = environment_dir(project, name)
    base = base_image_for(project, name, base_image)
    ca = ca_bundle if ca_bundle is not None else project.get("ca_bundle")
    dockerfile = (directory / "Dockerfile").read_text(encoding="utf-8")
    buildargs = {"WFC_BASE_IMAGE": base} if _ARG_BASE.search(dockerfile) else {}
    tag = image_tag(project, name)
    labels = image_labels(project, name)
    ca_path = Path(ca).expanduser() if ca else None
    if ca_path is not None and not ca_path.is_file():
        raise UsageError(f"CA bundle not found: {ca}", "set WFC_CA_BUNDLE / ca_bundle to a PEM file")
    client = client or docker_client()
    with tempfile.TemporaryDirectory(prefix="wfc-build-") as tmp:
        context = Path(tmp) / "context"
        shutil.copytree(directory, context, ignore=shutil.ignore_patterns(LOCK_FILE, "__pycache__"))
        if ca_path is not None:
            shutil.copyfile(ca_path, context / CA_NAME)
            (context / "Dockerfile").write_text(_with_ca(dockerfile), encoding="utf-8")
        image_id = _docker_build(
            client, context, tag, buildargs, labels, echo=echo, base=base, name=name, on_line=on_line
        )
    wfc_layer: dict[str, str] = {}
    if with_wfc:
        from wfc.environments.with_wfc import prepare_context

        with tempfile.TemporaryDirectory(prefix="wfc-build-") as tmp:
            context = Path(tmp)
            prepare_context(context, image_id, project.get("container_user"))
            if ca_path is not None:
                shutil.copyfile(ca_path, context / CA_NAME)
                (context / "Dockerfile").write_text(_with_ca((context / "Dockerfile").read_text()))
            wfc_tag = wfc_image_tag(project, name)
            wfc_id = _docker_build(
                client, context, wfc_tag, {}, labels, echo=echo, base=image_id, name=name, on_line=on_line
            )
        wfc_layer = {"wfc_tag": wfc_tag, "wfc_image_id": wfc_id}
    lock = EnvLock(
        name=name,
        image_id=image_id,
        tag=tag,
        base_image=base,
        build_args=buildargs,
        ca_bundle=str(ca or ""),
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        dockerfile_hash=hash_file(directory / "Dockerfile")[0],
        **wfc_layer,
    )
    write_text_atomic(directory / LOCK_FILE, lock.model_dump_json(by_alias=True, indent=2) + "\n")
    return lock


def _with_ca(dockerfile: str) -> str:
    lines: list[str] = []
    for line in dockerfile.splitlines():
        lines.append(line)
        if _FROM.match(line):
            lines.append(f"COPY {CA_NAME} {CA_PATH}")
            lines.append(f"ENV SSL_CERT_FILE={CA_PATH} PIP_CERT={CA_PATH} REQUESTS_CA_BUNDLE={CA_PATH}")
    return "\n".join(lines) + "\n"


def _docker_build(
    client: Any,
    context: Path,
    tag: str,
    buildargs: dict[str, str],
    labels: dict[str, str],
    *,
    echo: bool,
    base: str,
    name: str,
    on_line: Callable[[str], None] | None = None,
) -> str:
    from docker.errors import APIError

    tail: list[str] = []
    try:
        events = client.api.build(
            path=str(context), tag=tag, buildargs=buildargs, labels=labels, rm=True, decode=True
        )
        for event in events:
            text = str(event.get("stream") or event.get("status") or "")
            if text and echo:
                sys.stderr.write(text if text.endswith("\n") else text + "\n")
            if text.strip() and on_line is not None:
                on_line(text.rstrip("\n"))
            tail = [*tail, text.strip()][-15:] if text.strip() else tail
            if "error" in event:
                error = str(event["error"]).strip()
                if buildargs and not image_present(client, base):
                    raise StepFailed(
                        f"building environment '{name}' failed: base image {base} is not in Docker "
                        f"and could not be pulled ({error.splitlines()[0]})",
                        f"create it offline with `scripts/make-base-image.sh {base}`, or set WFC_BASE_IMAGE",
                    )
                raise StepFailed(
                    f"building environment '{name}' failed: {error}", f"fix environments/{name}/Dockerfile"
                )
    except APIError as exc:
        raise StepFailed(
            f"building environment '{name}' failed: {exc.explanation or exc}",
            f"fix environments/{name}/Dockerfile",
        ) from None
    return str(client.images.get(tag).id)
