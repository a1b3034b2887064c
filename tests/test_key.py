"""The cache key: golden digests pin the format; a sensitivity matrix shows what moves it."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Proj, probe_pipeline
from wfc.cache.hashing import canonical_json, code_tree, code_tree_hash, hash_bytes
from wfc.cache.key import StepIdentity, step_key
from wfc.lineage import open_lineage
from wfc.model.pipeline import Pipeline
from wfc.project import Project
from wfc.step.resolve import Resolver

BASE: dict[str, Any] = {
    "module": "tables",
    "method": "clean",
    "code": "blake3:" + "1" * 64,
    "contract": "blake3:" + "2" * 64,
    "params": {"k": 2, "name": "x"},
    "env_digest": "sha256:" + "3" * 64,
    "inputs": {"data": ["blake3:" + "4" * 64, "blake3:" + "5" * 64]},
    "sample": "s1",
    "members": None,
}
GOLDEN_KEY = "blake3:2a53f8694be035b9ff71c84379a79203f74a302ebbe1426d4d0b8a943f277423"


def key(**change: Any) -> str:
    return step_key(StepIdentity(**{**BASE, **change}))


def test_golden_digest_pins_the_key_format() -> None:
    # Changing this digest is a key-format change: bump KEY_VERSION and write an ADR.
    assert key() == GOLDEN_KEY


def test_golden_primitives() -> None:
    assert hash_bytes(b"") == "blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    assert canonical_json({"b": 1, "a": [1.5, "é"]}) == '{"a":[1.5,"é"],"b":1}'.encode()


@pytest.mark.parametrize(
    "change",
    [
        {"module": "tables2"},
        {"method": "clean2"},
        {"code": "blake3:" + "9" * 64},
        {"contract": "blake3:" + "9" * 64},
        {"params": {"k": 3, "name": "x"}},
        {"params": {"k": 2.0, "name": "x"}},
        {"params": {"k": 2, "name": "x", "extra": None}},
        {"env_digest": "sha256:" + "9" * 64},
        {"inputs": {"data": ["blake3:" + "5" * 64, "blake3:" + "4" * 64]}},
        {"inputs": {"data": ["blake3:" + "4" * 64]}},
        {"inputs": {"other": ["blake3:" + "4" * 64, "blake3:" + "5" * 64]}},
        {"sample": "s2"},
        {"sample": None},
        {"members": ["s1", "s2"]},
    ],
)
def test_each_component_moves_the_key(change: dict[str, Any]) -> None:
    assert key(**change) != key()


def test_param_order_does_not_move_the_key() -> None:
    assert key(params={"name": "x", "k": 2}) == key()


def test_delimiters_prevent_concatenation_collisions() -> None:
    assert key(module="ab", method="c") != key(module="a", method="bc")


def test_contract_leaves_out_descriptions_and_resources(fake_env: Proj) -> None:
    from wfc.methods import load_method

    project = Project.load(fake_env.root)
    spec = fake_env.root / "methods" / "t" / "probe" / "method.yaml"
    before = load_method(project, "t/probe").contract_hash
    spec.write_text(spec.read_text().replace("description: A test", "description: B").replace("64m", "128m"))
    assert load_method(project, "t/probe").contract_hash == before
    spec.write_text(spec.read_text().replace("out.txt", "result.txt"))
    assert load_method(project, "t/probe").contract_hash != before


def test_code_tree_ignores_caches_and_sees_helpers_and_exec_bit(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("print(1)\n")
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "helper.py").write_text("X = 1\n")
    base = code_tree_hash(code_tree(tmp_path))
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"junk")
    assert code_tree_hash(code_tree(tmp_path)) == base
    (tmp_path / "inc" / "helper.py").write_text("X = 2\n")
    assert code_tree_hash(code_tree(tmp_path)) != base
    (tmp_path / "inc" / "helper.py").write_text("X = 1\n")
    (tmp_path / "main.py").chmod(0o755)
    assert code_tree_hash(code_tree(tmp_path)) != base


def _resolve(
    proj: Proj,
    doc: dict[str, Any],
    node: str = "probe",
    sample: str | None = "s1",
    variant: str | None = None,
) -> str:
    project = Project.load(proj.root)
    with closing(open_lineage(project.database_url)) as lineage:
        return Resolver(project, Pipeline.model_validate(doc), lineage).resolve(node, sample, variant).key


def test_resolved_key_ignores_node_id_variant_name_and_whitespace(fake_env: Proj) -> None:
    base = _resolve(fake_env, probe_pipeline({"k": 2}))
    renamed = probe_pipeline({"k": 2})
    renamed["nodes"][1]["id"] = "other"
    renamed["links"][0]["to"] = "other.data"
    assert _resolve(fake_env, renamed, node="other") == base
    variant = probe_pipeline()
    variant["nodes"][1]["variants"] = {"two": {"k": 2}, "deux": {"k": 2}}
    assert _resolve(fake_env, variant, variant="two") == base == _resolve(fake_env, variant, variant="deux")
    reordered = json.loads(json.dumps(probe_pipeline({"k": 2, "mode": "ok"})))
    assert _resolve(fake_env, reordered) == base  # explicit default == implicit default


def test_resolved_key_moves_with_code_contract_sample_and_input(fake_env: Proj) -> None:
    base = _resolve(fake_env, probe_pipeline())
    method = fake_env.root / "methods" / "t" / "probe"
    (method / "helper.txt").write_text("new helper")
    with_helper = _resolve(fake_env, probe_pipeline())
    assert with_helper != base
    (method / "helper.txt").unlink()
    spec = method / "method.yaml"
    original = spec.read_text()
    spec.write_text(original.replace("default: 1", "default: 7"))
    assert _resolve(fake_env, probe_pipeline()) != base
    spec.write_text(original.replace("description: A test", "description: Another test"))
    assert _resolve(fake_env, probe_pipeline()) != base  # method.yaml is a file of the code tree too
    spec.write_text(original)
    (fake_env.root / "s1.txt").write_text("changed\n")
    fake_env.wfc("sample", "add", "s1", "s1.txt", check=True)
    assert _resolve(fake_env, probe_pipeline()) != base
    doc = probe_pipeline()
    doc["nodes"][0]["samples"] = ["s1@1"]
    assert _resolve(fake_env, doc) == base  # the pinned old version still resolves to the old key
