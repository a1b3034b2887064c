"""Image tags are scoped to their project and images are labelled with it; the test session removes
the images its projects built, and only those."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Proj, remove_session_images
from wfc.environments.build import workflow_image
from wfc.environments.images import image_labels, image_repository, image_tag, wfc_image_tag
from wfc.project import Project

# a Docker reference without a registry: lower-case path components joined by "/", then a tag
REFERENCE = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*:\w+$"
)


def _project(root: Path) -> Project:
    root.parent.mkdir(parents=True, exist_ok=True)
    Proj(root).wfc("init", str(root), "--no-git", check=True)
    return Project.load(root)


def test_two_projects_with_one_name_get_their_own_tags(tmp_path: Path) -> None:
    one, two = _project(tmp_path / "a" / "My Project"), _project(tmp_path / "b" / "My Project")
    assert re.fullmatch(r"wfc-env-my-project-[0-9a-f]{8}", image_repository(one))
    assert image_tag(one, "python") != image_tag(two, "python")
    assert image_tag(one, "python") == f"{image_repository(one)}/python:latest"
    assert wfc_image_tag(one, "python") == f"{image_repository(one)}/python-wfc:latest"
    assert image_tag(one, "python") == image_tag(
        Project.load(tmp_path / "a" / "My Project"), "python"
    )  # stable
    assert image_labels(one, "python") == {"wfc.project": str(one.root), "wfc.env": "python"}


@pytest.mark.parametrize("env", ["python", "R", "my_env", "py3.11", "-odd-", "x" * 80])
def test_every_environment_name_makes_a_valid_reference(tmp_path: Path, env: str) -> None:
    project = _project(tmp_path / "Ünïcode project!")
    for tag in (image_tag(project, env), wfc_image_tag(project, env)):
        assert REFERENCE.match(tag), tag
        assert len(tag) < 255
    if env != env.lower() or "_" in env:  # changed names carry a digest of the original: none meet
        assert image_tag(project, env) != image_tag(project, env.lower().replace("_", "-"))


def test_a_workflow_names_the_image_built_with_wfc_else_a_stand_in(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    env = project.environments_dir / "python"
    env.mkdir()
    (env / "Dockerfile").write_text("FROM scratch\n")
    assert workflow_image(project, "python") == "wfc-env-python-wfc:latest"
    assert workflow_image(project, "missing") == "wfc-env-missing-wfc:latest"
    lock = {
        "name": "python",
        "image_id": "sha256:" + "ab" * 32,
        "tag": image_tag(project, "python"),
        "base_image": "scratch",
        "built_at": "2026-01-01T00:00:00+00:00",
        "dockerfile_hash": "blake3:" + "00" * 32,
    }
    (env / "env.lock.json").write_text(json.dumps(lock))
    assert workflow_image(project, "python") == "wfc-env-python-wfc:latest"  # not built --with-wfc
    (env / "env.lock.json").write_text(json.dumps({**lock, "wfc_tag": wfc_image_tag(project, "python")}))
    assert workflow_image(project, "python") == wfc_image_tag(project, "python")


def _inspect(ref: str) -> Any:
    out = subprocess.run(["docker", "image", "inspect", ref], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)[0]


def _tiny(root: Path) -> Proj:
    root.parent.mkdir(parents=True, exist_ok=True)
    proj = Proj(root)
    proj.wfc("init", str(root), "--no-git", check=True)
    env = root / "environments" / "tiny"
    env.mkdir(parents=True)
    (env / "Dockerfile").write_text("ARG WFC_BASE_IMAGE\nFROM ${WFC_BASE_IMAGE}\nRUN echo tiny > /tiny\n")
    proj.wfc("env", "build", "tiny", "-q", check=True)
    return proj


def _lock(proj: Proj) -> dict[str, str]:
    return dict(json.loads((proj.root / "environments" / "tiny" / "env.lock.json").read_text()))


@pytest.mark.usefixtures("docker_engine")
def test_builds_are_tagged_per_project_and_labelled(tmp_path: Path) -> None:
    one, two = _tiny(tmp_path / "a" / "proj"), _tiny(tmp_path / "b" / "proj")
    lock_one, lock_two = _lock(one), _lock(two)
    assert lock_one["tag"] == image_tag(Project.load(one.root), "tiny")
    assert lock_one["tag"] != lock_two["tag"]
    for proj, lock in ((one, lock_one), (two, lock_two)):
        image = _inspect(lock["tag"])
        assert image["Id"] == lock["image_id"]  # each tag still names its own project's build
        labels = image["Config"]["Labels"]
        assert (labels["wfc.project"], labels["wfc.env"]) == (str(proj.root), "tiny")


@pytest.mark.usefixtures("docker_engine")
def test_the_session_cleanup_removes_only_images_of_projects_under_its_directory(tmp_path: Path) -> None:
    inside, outside = _tiny(tmp_path / "inside" / "proj"), _tiny(tmp_path / "outside" / "proj")
    removed = remove_session_images(tmp_path / "inside")
    assert removed == [_lock(inside)["image_id"]]
    gone = subprocess.run(["docker", "image", "inspect", _lock(inside)["tag"]], capture_output=True)
    assert gone.returncode != 0
    assert _inspect(_lock(outside)["tag"])["Id"] == _lock(outside)["image_id"]
    assert _inspect("wfc-base:bookworm")  # never the base image
