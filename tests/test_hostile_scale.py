"""Hostile input at scale (issue 13): Hypothesis draws node ids, sample names, pipeline names,
params and variables, shell and template payloads among them, and pushes each document through
``validate`` and every backend; a sample of the valid ones through ``snakemake -n`` and a real
``wfc run-pipeline``. Found: 0 injections (every payload would create a marker file), 0 paths
outside the project, 0 internal errors, and compile never refuses what validate accepts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import FIXTURES, Proj, plain_snakemake
from tests.reliability import Tally, count, tallying
from wfc import api
from wfc.errors import WfcError
from wfc.samples.paths import is_name
from wfc.samples.register import register

pytestmark = pytest.mark.faults
MARKER = Path("/tmp/wfc-hostile-marker")  # what any successful injection below would create


def _payloads() -> list[str]:
    m = MARKER
    return [
        f"$(touch {m})", f"`touch {m}`", f"; touch {m}", f"' ; touch {m} ; '", f'" ; touch {m} ; "',
        f"\ntouch {m}", f"x && touch {m}", f"{{touch {m}}}", "${HOME}", "${{HOME}}", "{wildcard}",
        "{{workflow.name}}", f"../../../../{m}", f"/{m}", "-x", "--help", "%s%n", "\\", "'", '"',
        "é☃𝄞", "a" * 120, " lead", "trail ", "@1", "x@2", ".", "..", "\x00", "\x1b[31m",
    ]  # fmt: skip


PLAIN = st.from_regex(r"[a-zé][a-z0-9é_-]{0,12}", fullmatch=True)  # valid, so that documents get far
HOSTILE = st.one_of(st.sampled_from(_payloads()), st.text(min_size=1, max_size=30))
# One field in five hostile, so that a good share of documents validate and reach every backend.
NAME = st.integers(0, 4).flatmap(lambda i: HOSTILE if i == 0 else PLAIN)
VALUE = st.one_of(st.sampled_from(_payloads()), st.text(max_size=60))


@pytest.fixture(scope="module")
def tally() -> Iterator[Tally]:
    yield from tallying()


@pytest.fixture(scope="module")
def hostile_project(tmp_path_factory: pytest.TempPathFactory) -> Proj:
    root = tmp_path_factory.mktemp("hostile") / "proj"
    proj = Proj(root)
    proj.wfc("init", str(root), "--no-git", check=True)
    proj.add_method("t/probe", FIXTURES / "methods" / "t" / "probe")
    env = root / "environments" / "python"
    env.mkdir(parents=True)
    (env / "Dockerfile").write_text("FROM scratch\n")
    from tests.conftest import fake_lock

    fake_lock(env)
    (root / "data.txt").write_text("payload\n")
    return proj


def document(name: str, input_id: str, node_id: str, sample: str, token: str, var: str) -> dict[str, Any]:
    node_id = node_id + "2" if node_id == input_id else node_id  # two nodes, however the draw fell
    return {
        "version": 1,
        "name": name,
        "nodes": [
            {"id": input_id, "samples": [sample]},
            {"id": node_id, "method": "t/probe", "params": {"token": {"$var": "v"}, "mode": "ok"}},
        ],
        "links": [{"from": input_id, "to": f"{node_id}.data"}],
        "variables": {"v": {"type": "str", "default": token + var}},
    }


def outside(root: Path, before: set[Path]) -> list[str]:
    """Files that appeared where the project is not (its parent, /tmp's marker)."""
    found = [str(p) for p in root.parent.iterdir() if p not in before]
    return found + ([str(MARKER)] if MARKER.exists() else [])


@settings(
    max_examples=300, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
@given(name=NAME, input_id=NAME, node_id=NAME, sample=NAME, token=VALUE, var=VALUE)
def test_hostile_documents_never_inject_escape_or_crash(
    hostile_project: Proj,
    tally: Tally,
    name: str,
    input_id: str,
    node_id: str,
    sample: str,
    token: str,
    var: str,
) -> None:
    project = api.open_project(hostile_project.root)
    before = set(hostile_project.root.parent.iterdir())
    found: list[str] = []
    if is_name(sample):
        register(project, [(sample, hostile_project.root / "data.txt", {})], keep_metadata=True)
    doc = document(name, input_id, node_id, sample, token, var)
    try:
        problems = api.validate(project, doc)
    except WfcError as exc:  # a refusal is fine; an internal error is not
        problems = [exc]  # type: ignore[list-item]
    except Exception as exc:
        found.append(f"validate crashed: {exc!r}")
        problems = []
    valid = not found and not [p for p in problems if getattr(p, "severity", "error") == "error"]
    if valid:
        for backend in ("snakemake", "argo", "dvc"):
            try:
                files = api.compile(project, doc, backend)
            except Exception as exc:
                found.append(f"compile {backend} refused a valid document: {exc!r}")
                continue
            for file_name, text in files.items():
                if file_name.endswith(".yaml"):
                    yaml.safe_load(text)  # well-formed
                if "${" in text and file_name == "dvc.yaml":  # params.yaml is data, never interpolated
                    found.append("dvc.yaml holds a '${' DVC would substitute")
    found += outside(hostile_project.root, before)
    count(tally, "hostile:documents", fault=True, found=found)
    if valid:
        count(tally, "hostile:valid-documents-compiled", fault=True, found=[])
    assert not found, doc


@settings(
    max_examples=12, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
@given(name=NAME, node_id=NAME, sample=NAME, token=VALUE)
@pytest.mark.docker
def test_hostile_documents_that_validate_also_run(
    probe_project: Proj, tally: Tally, name: str, node_id: str, sample: str, token: str
) -> None:
    """``snakemake -n`` on the compiled file and a real run (the process runtime: no container per
    example) of documents that validate."""
    doc = document(name, "data", node_id, sample if is_name(sample) else "s1", token, "")
    if is_name(sample):
        probe_project.wfc("sample", "add", sample, "s1.txt", check=True)
    probe_project.write_pipeline(doc)
    before = set(probe_project.root.parent.iterdir())
    checked = probe_project.wfc("validate", "pipeline.json")
    found: list[str] = []
    if "Traceback" in checked.stderr or "internal error" in checked.stderr:
        found.append(f"validate: {checked.stderr.strip()}")
    if checked.returncode == 0:
        probe_project.wfc("compile", "pipeline.json", "-o", "Snakefile", check=True)
        dry = plain_snakemake(probe_project, "-n")
        if dry.returncode != 0:
            found.append(f"snakemake -n: {dry.stderr.strip()[-300:]}")
        ran = probe_project.wfc("run-pipeline", "pipeline.json", env={"WFC_RUNTIME": "process"}, timeout=300)
        if ran.returncode != 0 or "Traceback" in ran.stderr:
            found.append(f"run-pipeline: {ran.stderr.strip()[-300:]}")
    found += outside(probe_project.root, before)
    count(tally, "hostile:runs", fault=True, found=found)
    assert not found, doc
