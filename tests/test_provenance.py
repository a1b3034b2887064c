"""``wfc export PIPELINE_RUN DEST --provenance ro-crate|prov``: a real pipeline run described as a
Workflow Run RO-Crate and as W3C PROV-JSON, each read back and checked with the libraries the
community uses (``rocrate``, ``roc-validator``, ``prov``), not by string comparison alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from prov.model import ProvActivity, ProvDocument, ProvEntity, ProvGeneration, ProvUsage
from rocrate.rocrate import ROCrate
from rocrate_validator import services
from rocrate_validator.models import Severity

from tests.conftest import FIXTURES, Proj, chain, run_pipeline
from wfc.cache.hashing import hash_file

STEPS = {"a[s1]", "a[s2]", "b[s1]", "b[s2]"}
RO_CRATE_CONTEXT = "https://w3id.org/ro/crate/1.1/context"


@pytest.fixture
def offline_contexts(monkeypatch: pytest.MonkeyPatch) -> None:
    """roc-validator fetches the crate's JSON-LD context over HTTP; the tests run offline, so its
    HTTP client serves the RO-Crate 1.1 context from ``fixtures/rocrate/context-1.1.jsonld`` (from
    ResearchObject/ro-crate, ``docs/_specification/1.1/context.jsonld``, Apache-2.0) and nothing else."""
    import requests
    from rocrate_validator.utils.http import HttpRequester

    def get(self: Any, url: str, **_kwargs: Any) -> requests.Response:
        if url != RO_CRATE_CONTEXT:
            raise AssertionError(f"the validator fetched {url}")
        response = requests.Response()
        response.status_code, response.url = 200, url
        response.headers["Content-Type"] = "application/ld+json"
        response._content = (FIXTURES / "rocrate" / "context-1.1.jsonld").read_bytes()
        return response

    monkeypatch.setattr(HttpRequester, "get", get, raising=False)


def _export(proj: Proj, pr: str, dest: Path, flavour: str) -> str:
    proc = proj.wfc("export", pr, str(dest), "--provenance", flavour)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def _validate(crate: Path) -> list[str]:
    """The problems roc-validator finds at severity REQUIRED (MUST) against the Provenance Run Crate
    profile and the profiles it extends (Workflow Run, Process Run, Workflow RO-Crate, RO-Crate 1.1)."""
    result = services.validate(
        services.ValidationSettings(
            rocrate_uri=str(crate),
            profile_identifier="provenance-run-crate-0.5",
            requirement_severity=Severity.REQUIRED,
            no_cache=True,  # no HTTP cache in the user's home
        )
    )
    problems = [f"{i.check.identifier}: {i.message}" for i in result.get_issues(Severity.REQUIRED)]
    assert result.passed() or problems
    return problems


def _entities(crate: ROCrate, kind: str) -> dict[str, Any]:
    return {e.id: e for e in crate.get_entities() if kind in e.type}


def _many(value: Any) -> list[Any]:
    """A property's values as a list (RO-Crate writes a single value without one)."""
    return value if isinstance(value, list) else [value]


# roc-validator's SHACL engine (pyshacl on rdflib 7) uses rdflib's deprecated ConjunctiveGraph
@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
def test_a_pipeline_run_exports_as_a_provenance_run_crate(
    chained: Proj, tmp_path: Path, offline_contexts: None
) -> None:
    done = run_pipeline(chained)
    dest = tmp_path / "crate"
    text = _export(chained, done["pipeline_run"], dest, "ro-crate")
    assert f"provenance (ro-crate): {dest / 'ro-crate-metadata.json'}" in text
    assert json.loads((dest / "pipeline.json").read_text()) == json.loads(
        (chained.root / "pipeline.json").read_text()
    )

    crate = ROCrate(dest)
    assert crate.mainEntity.id == "pipeline.json"
    assert {"File", "SoftwareSourceCode", "ComputationalWorkflow"} <= set(crate.mainEntity.type)
    assert crate.mainEntity["identifier"] == hash_file(dest / "pipeline.json")[0]  # byte for byte
    actions = _entities(crate, "CreateAction")
    steps = {a.id.removeprefix("#"): a for a in actions.values() if a.id != f"#{done['pipeline_run']}/run"}
    assert set(steps) == set(done["ids"].values())
    for step, run_id in done["ids"].items():
        action = steps[run_id]
        assert action["name"].startswith(f"{step}: ")
        assert action["actionStatus"] == "http://schema.org/CompletedActionStatus"
        assert action["startTime"] <= action["endTime"]
        tool = action["instrument"]
        assert "SoftwareApplication" in tool.type
        assert tool["name"] == ("t/probe" if step.startswith("a") else "t/copy")
        image = action["containerImage"]
        assert image.type == "ContainerImage" and image["name"] == "python"
        assert image["identifier"].startswith("sha256:")
        (result,) = _many(action["result"])
        assert result.id.startswith(step[0] + "/") and (dest / result.id).is_file()
        assert hash_file(dest / result.id) == (result["identifier"], int(result["contentSize"]))
        params = [o for o in _many(action["object"]) if o.type == "PropertyValue"]
        assert {p["name"] for p in params} >= {"mode", "k"}
        inputs = [o for o in _many(action["object"]) if o.type == "File"]
        assert len(inputs) == 1
        if step.startswith("b"):  # read a's output, which is in the crate
            assert inputs[0].id == f"a/{step[2:4]}/out.txt"
        else:  # a sample: a contextual entity named by hash
            assert inputs[0].id == "#" + inputs[0]["identifier"]
            assert inputs[0]["name"].startswith("sample s")
    (organize,) = _entities(crate, "OrganizeAction").values()
    assert organize["instrument"]["name"] == "wfc"
    assert len(organize["object"]) == 4
    assert {c["object"].id for c in organize["object"]} == {f"#{i}" for i in done["ids"].values()}
    assert {c["instrument"].type for c in organize["object"]} == {"HowToStep"}
    assert [s["name"] for s in crate.mainEntity["step"]] == ["a", "b"]
    assert [s["workExample"]["name"] for s in crate.mainEntity["step"]] == ["t/probe", "t/copy"]

    assert _validate(dest) == []


@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
def test_a_failed_step_is_a_failed_action_without_results(
    chained: Proj, tmp_path: Path, offline_contexts: None
) -> None:
    chained.write_pipeline(chain(b={"mode": "fail"}))
    proc = chained.wfc("run-pipeline", "pipeline.json", "--cores", "2", "--json", "--keep-going", timeout=600)
    ran = json.loads(proc.stdout)
    assert proc.returncode == 1 and {s["status"] for s in ran["steps"]} == {"completed", "failed"}
    dest = tmp_path / "crate"
    text = _export(chained, ran["pipeline_run"], dest, "ro-crate")
    assert "skipped b[s1] (failed): no outputs" in text

    crate = ROCrate(dest)
    for step in ran["steps"]:
        action = crate.get(f"#{step['run_id']}")
        if step["name"].startswith("b"):
            assert action["actionStatus"] == "http://schema.org/FailedActionStatus"
            assert action["error"] and action.get("result") is None
        else:
            assert action["actionStatus"] == "http://schema.org/CompletedActionStatus"
    run = crate.get(f"#{ran['pipeline_run']}/run")
    assert run["actionStatus"] == "http://schema.org/FailedActionStatus"
    assert {r.id for r in _many(run["result"])} == {"a/s1/out.txt", "a/s2/out.txt"}
    assert _validate(dest) == []


def test_a_cached_pipeline_run_exports_as_prov_json(chained: Proj, tmp_path: Path) -> None:
    run_pipeline(chained)
    again = run_pipeline(chained)  # all cached: the provenance says which runs made the bytes
    dest = tmp_path / "prov"
    proc = chained.wfc("export", again["pipeline_run"], str(dest), "--provenance", "prov", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["provenance"] == "provenance.json" and summary["files"] == 4

    doc = ProvDocument.deserialize(dest / "provenance.json", format="json")
    activities = {str(r.identifier): r for r in doc.get_records(ProvActivity) if isinstance(r, ProvActivity)}
    assert set(activities) == {f"wfc:{i}" for i in [again["pipeline_run"], *again["ids"].values()]}
    by_step = {next(iter(a.get_attribute("prov:label"))): a for a in activities.values()}
    assert set(by_step) >= STEPS
    assert {next(iter(by_step[s].get_attribute("wfc:status"))) for s in STEPS} == {"cached"}
    for activity in activities.values():
        start, end = activity.get_startTime(), activity.get_endTime()
        assert start is not None and end is not None and start <= end
    entities = {str(e.identifier): e for e in doc.get_records(ProvEntity)}
    manifest = json.loads((dest / "manifest.json").read_text())
    for row in manifest["files"]:
        entity = entities[f"wfc:{row['hash']}"]
        assert next(iter(entity.get_attribute("prov:location"))) == row["path"]
        assert hash_file(dest / row["path"]) == (row["hash"], row["size"])
    used = {
        (str(u.get_attribute("prov:activity").pop()), str(u.get_attribute("prov:entity").pop()))
        for u in doc.get_records(ProvUsage)
    }
    generated = {
        (str(g.get_attribute("prov:activity").pop()), str(g.get_attribute("prov:entity").pop()))
        for g in doc.get_records(ProvGeneration)
    }
    assert len(used) == 4 and len(generated) == 4
    for sample in ("s1", "s2"):  # a's output is what b read
        a, b = (f"wfc:{again['ids'][f'{n}[{sample}]']}" for n in "ab")
        (made,) = [e for act, e in generated if act == a]
        assert (b, made) in used
    informed = [
        (str(r.formal_attributes[0][1]), str(r.formal_attributes[1][1]))
        for r in doc.get_records()
        if r.get_type().localpart == "Communication"
    ]
    ids = again["ids"]
    assert sorted(informed) == sorted(
        (f"wfc:{ids[f'b[{s}]']}", f"wfc:{ids[f'a[{s}]']}") for s in ("s1", "s2")
    )
    for step in STEPS:  # a hit names the run that made its bytes, one of the first pipeline run's
        assert next(iter(by_step[step].get_attribute("wfc:cache_source"))).localpart.startswith("r-")
    # the document is valid PROV-JSON and round-trips through the library unchanged
    assert ProvDocument.deserialize(content=doc.serialize(format="json"), format="json") == doc


def test_provenance_needs_a_pipeline_run_and_a_known_format(project: Proj, tmp_path: Path) -> None:
    step = project.wfc("export", "r-01JD3", str(tmp_path / "out"), "--provenance", "prov")
    assert step.returncode != 0
    assert "error: --provenance describes a pipeline run: give a pipeline run id (p-…)" in step.stderr
    unknown = project.wfc("export", "p-01JD2", str(tmp_path / "out"), "--provenance", "rdf")
    assert unknown.returncode != 0
    assert "error: unknown provenance format 'rdf': choose one of ro-crate, prov" in unknown.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flavour", ["ro-crate", "prov"])
def test_the_formats_are_named_as_on_the_command_line(flavour: str) -> None:
    from wfc.ops.provenance import provenance_format

    assert provenance_format(flavour).value == flavour
