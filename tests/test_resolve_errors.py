"""Every resolution error a pipeline document can cause: one message naming the problem, one hint."""

from __future__ import annotations

import shutil
from contextlib import closing
from typing import Any

import pytest

from tests.conftest import FIXTURES, Proj, probe_pipeline
from wfc.errors import UsageError
from wfc.lineage import open_lineage
from wfc.model.pipeline import Pipeline
from wfc.project import Project
from wfc.step.resolve import Resolver


def _error(
    proj: Proj,
    doc: dict[str, Any],
    node: str = "probe",
    sample: str | None = "s1",
    variant: str | None = None,
) -> tuple[str, str]:
    project = Project.load(proj.root)
    with closing(open_lineage(project.database_url)) as lineage, pytest.raises(UsageError) as exc:
        Resolver(project, Pipeline.model_validate(doc), lineage, "p.json").resolve(node, sample, variant)
    return exc.value.message, exc.value.hint


def _two_inputs(fake_env: Proj) -> Proj:
    """Give the probe method a second, required input slot."""
    spec = fake_env.root / "methods/t/probe/method.yaml"
    spec.write_text(
        spec.read_text().replace("  data: {required: false}", "  data: {required: false}\n  ref: {}")
    )
    return fake_env


def test_input_node_has_no_step(fake_env: Proj) -> None:
    assert _error(fake_env, probe_pipeline(), node="data") == (
        "node 'data' is an input node: it has no step to run",
        "run a method node that reads it",
    )


def test_sample_given_to_a_node_that_is_not_per_sample(fake_env: Proj) -> None:
    doc = probe_pipeline()
    doc["nodes"][0]["mode"] = "all"
    doc["nodes"][0]["samples"] = ["s1"]
    assert _error(fake_env, doc) == (
        "node 'probe' is not per-sample: it takes no --sample",
        "drop --sample for this node",
    )


def test_unknown_variant(fake_env: Proj) -> None:
    doc = probe_pipeline()
    doc["nodes"][1]["variants"] = {"deep": {"k": 5}}
    assert _error(fake_env, doc, variant="dep") == (
        "node 'probe' has no variant 'dep' (did you mean 'deep'?)",
        "variants: deep",
    )


def test_link_without_slot_to_a_method_with_several_inputs(fake_env: Proj) -> None:
    doc = probe_pipeline()
    doc["links"] = [{"from": "data", "to": "probe"}]
    assert _error(_two_inputs(fake_env), doc) == (
        "'probe' has no input slot (none)",
        'write "to": "probe.SLOT" with one of: data, ref',
    )


def test_link_to_an_unknown_input_slot(fake_env: Proj) -> None:
    doc = probe_pipeline()
    doc["links"] = [{"from": "data", "to": "probe.dta"}]
    assert _error(fake_env, doc) == (
        "'probe' has no input slot dta (did you mean 'data'?)",
        'write "to": "probe.SLOT" with one of: data',
    )


def test_required_slot_not_fed(fake_env: Proj) -> None:
    assert _error(_two_inputs(fake_env), probe_pipeline()) == (
        "required input slot 'ref' of 'probe' is not fed",
        'add a link {"from": "...", "to": "probe.ref"}',
    )


def test_several_inputs_into_a_slot_that_is_not_multiple(fake_env: Proj) -> None:
    doc = probe_pipeline(samples=["s1"])
    doc["nodes"].append({"id": "more", "samples": ["s1"], "mode": "all"})
    doc["links"].append({"from": "more", "to": "probe.data"})
    assert _error(fake_env, doc) == (
        "input slot 'data' of 'probe' receives several inputs but is not multiple",
        "declare inputs.data.multiple: true in method.yaml, or feed it one input",
    )


def test_input_node_slot_other_than_data(fake_env: Proj) -> None:
    doc = probe_pipeline()
    doc["links"] = [{"from": "data.table", "to": "probe.data"}]
    assert _error(fake_env, doc) == (
        "input node 'data' has one slot, 'data', not 'table'",
        'write "from": "data"',
    )


def test_upstream_output_slot_errors(fake_env: Proj) -> None:
    shutil.copytree(FIXTURES / "methods/t/tree", fake_env.root / "methods/t/tree")
    spec = fake_env.root / "methods/t/tree/method.yaml"
    doc = probe_pipeline()
    doc["nodes"].append({"id": "tree", "method": "t/tree"})
    doc["links"] = [{"from": "data", "to": "tree.data"}, {"from": "tree.tre", "to": "probe.data"}]
    assert _error(fake_env, doc) == (
        "'tree' has no output slot tre (did you mean 'tree'?)",
        'write "from": "tree.SLOT" with one of: tree',
    )
    spec.write_text(spec.read_text() + "  other: {file: other.txt}\n")
    doc["links"][1] = {"from": "tree", "to": "probe.data"}
    assert _error(fake_env, doc) == (
        "'tree' has no output slot (none)",
        'write "from": "tree.SLOT" with one of: tree, other',
    )


def test_per_sample_upstreams_with_different_samples(fake_env: Proj) -> None:
    doc = probe_pipeline(samples=["s1", "s2"])
    doc["nodes"].append({"id": "other", "samples": ["s1", "s3"]})
    doc["links"].append({"from": "other", "to": "probe.data"})
    assert _error(fake_env, doc) == (
        "node 'probe' joins per-sample upstreams with different samples: 'data' lacks s3; 'other' lacks s2",
        "give every per-sample upstream of a node the same samples",
    )


def test_bad_sample_reference(fake_env: Proj) -> None:
    doc = probe_pipeline(samples=["s1@latest"])
    assert _error(fake_env, doc) == (
        "bad sample reference 's1@latest': the version after @ must be a number",
        "write s1 or s1@2",
    )


def test_unknown_sample_version(fake_env: Proj) -> None:
    assert _error(fake_env, probe_pipeline(samples=["s1@7"])) == (
        "unknown sample 's1@7'",
        "register it with `wfc sample add s1 PATH`",
    )


def test_missing_entry_file(fake_env: Proj) -> None:
    (fake_env.root / "methods/t/probe/main.py").unlink()
    assert _error(fake_env, probe_pipeline()) == (
        "methods/t/probe/method.yaml: entry: file main.py does not exist in the method directory",
        "add the file, set entry: to the right file, or give an explicit command:",
    )


def test_method_file_that_is_not_a_mapping(fake_env: Proj) -> None:
    (fake_env.root / "methods/t/probe/method.yaml").write_text("- just\n- a list\n")
    assert _error(fake_env, probe_pipeline()) == (
        "methods/t/probe/method.yaml: expected a mapping of contract fields",
        "see docs/methods.md",
    )


def test_corrupt_env_lock(fake_env: Proj) -> None:
    lock = fake_env.root / "environments/python/env.lock.json"
    lock.write_text(lock.read_text().replace('"sha256:', '"md5:'))
    message, hint = _error(fake_env, probe_pipeline())
    assert message.startswith(f"{lock}: image_id: String should match pattern")
    assert hint == "rebuild it with `wfc env build python`"


def test_unknown_runtime(fake_env: Proj) -> None:
    proc = fake_env.wfc(
        "run-step", "pipeline.json", "--node", "probe", "--sample", "s1", env={"WFC_RUNTIME": "podman"}
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: unknown runtime 'podman'",
        "hint: set WFC_RUNTIME / runtime to docker or process",
    ]


def test_missing_image_is_refused_before_anything_runs(fake_env: Proj, docker_engine: None) -> None:
    proc = fake_env.wfc("run-step", "pipeline.json", "--node", "probe", "--sample", "s1")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: the image of environment 'python' (sha256:abababababab…) is not in Docker",
        "hint: rebuild it with `wfc env build python`",
    ]
    assert fake_env.rows("SELECT count(*) FROM runs") == [(0,)]


def test_bad_or_missing_bundle(fake_env: Proj) -> None:
    bad = fake_env.wfc("run-step", "pipeline.json", "--node", "probe", "--sample", "s1", "--bundle", "nope")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "error: --bundle 'nope' is not a blake3 digest",
        "hint: pass the digest wfc compile wrote",
    ]
    digest = "blake3:" + "0" * 64
    gone = fake_env.wfc("run-step", "pipeline.json", "--node", "probe", "--sample", "s1", "--bundle", digest)
    assert gone.returncode == 1
    assert gone.stderr.strip().splitlines() == [
        f"error: bundle {digest} is not in the store ({fake_env.root / '.wfc' / 'store'})",
        "hint: point WFC_STORE at the store `wfc compile` archived it in, or compile again against this one",
    ]
