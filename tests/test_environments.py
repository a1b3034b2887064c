"""Environment builds against real Docker: base image precedence, literal FROM, extra CA bundle."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Proj

pytestmark = pytest.mark.docker

HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


def _env(proj: Proj, name: str, dockerfile: str, env_toml: str | None = None) -> None:
    d = proj.root / "environments" / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "Dockerfile").write_text(dockerfile)
    if env_toml is not None:
        (d / "env.toml").write_text(env_toml)


def _lock(proj: Proj, name: str) -> dict[str, object]:
    return dict(json.loads((proj.root / "environments" / name / "env.lock.json").read_text()))


def test_base_image_precedence(project: Proj, docker_engine: None) -> None:
    for tag in ("wfc-test-base:toml", "wfc-test-base:envtoml", "wfc-test-base:var", "wfc-test-base:opt"):
        subprocess.run(["docker", "tag", "wfc-base:bookworm", tag], check=True)
    arg = "ARG WFC_BASE_IMAGE\nFROM ${WFC_BASE_IMAGE}\nRUN echo built > /built\n"
    toml = project.root / "wfc.toml"
    toml.write_text('base_image = "wfc-test-base:toml"\n' + toml.read_text())
    _env(project, "plain", arg)
    project.wfc("env", "build", "plain", "-q", check=True)
    assert _lock(project, "plain")["base_image"] == "wfc-test-base:toml"
    _env(project, "plain", arg, 'base_image = "wfc-test-base:envtoml"\n')
    project.wfc("env", "build", "plain", "-q", check=True)
    assert _lock(project, "plain")["base_image"] == "wfc-test-base:envtoml"
    project.wfc("env", "build", "plain", "-q", env={"WFC_BASE_IMAGE": "wfc-test-base:var"}, check=True)
    assert _lock(project, "plain")["base_image"] == "wfc-test-base:var"
    project.wfc(
        "env",
        "build",
        "plain",
        "-q",
        "--base-image",
        "wfc-test-base:opt",
        env={"WFC_BASE_IMAGE": "wfc-test-base:var"},
        check=True,
    )
    lock = _lock(project, "plain")
    assert lock["base_image"] == "wfc-test-base:opt"
    assert lock["build_args"] == {"WFC_BASE_IMAGE": "wfc-test-base:opt"}
    inspect = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", str(lock["image_id"])],
        capture_output=True,
        text=True,
        check=True,
    )
    assert inspect.stdout.strip() == lock["image_id"]  # identity is the image ID Docker reports
    shown = json.loads(project.wfc("env", "show", "plain", "--json", check=True).stdout)
    assert shown["image_id"] == lock["image_id"]


def test_literal_from_builds_as_written(project: Proj, docker_engine: None) -> None:
    _env(project, "literal", "FROM wfc-base:bookworm\nRUN true\n")
    project.wfc("env", "build", "literal", "-q", env={"WFC_BASE_IMAGE": "no-such-image:x"}, check=True)
    assert _lock(project, "literal")["build_args"] == {}


def test_missing_base_image_is_a_clear_failure(project: Proj, docker_engine: None) -> None:
    _env(project, "nobase", "ARG WFC_BASE_IMAGE\nFROM ${WFC_BASE_IMAGE}\n")
    proc = project.wfc("env", "build", "nobase", "-q", "--base-image", "wfc-no-such-base:1")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith(
        "error: building environment 'nobase' failed: base image wfc-no-such-base:1 is not "
        "in Docker and could not be pulled ("
    )
    assert lines[1] == (
        "hint: create it offline with `scripts/make-base-image.sh wfc-no-such-base:1`, or set WFC_BASE_IMAGE"
    )


def test_extra_ca_bundle_lets_pip_reach_the_index(project: Proj, built_envs: Path) -> None:
    https = (
        "ARG WFC_BASE_IMAGE\nFROM ${WFC_BASE_IMAGE}\n"
        'RUN python3 -c "import urllib.request as u; '
        "u.urlopen('https://pypi.org/simple/six/', timeout=60)\"\n"
    )
    _env(project, "ca", https)
    python_image = str(json.loads((built_envs / "python" / "env.lock.json").read_text())["image_id"])
    proc = project.wfc("env", "build", "ca", "-q", "--base-image", python_image, "--ca-bundle", str(HOST_CA))
    assert proc.returncode == 0, proc.stderr
    image = str(_lock(project, "ca")["image_id"])
    inside = subprocess.run(
        ["docker", "run", "--rm", image, "cat", "/usr/local/share/wfc/ca-bundle.crt"],
        capture_output=True,
        check=True,
    ).stdout
    assert inside == HOST_CA.read_bytes()
    # without a configured bundle nothing is injected
    _env(project, "noca", "ARG WFC_BASE_IMAGE\nFROM ${WFC_BASE_IMAGE}\nRUN test ! -e /usr/local/share/wfc\n")
    project.wfc("env", "build", "noca", "-q", check=True)
