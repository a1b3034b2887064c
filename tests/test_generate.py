"""Generate time: values files, the Argo and DVC backends (golden, valid, deterministic)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.argo_checks import check, cron_ok
from tests.conftest import FIXTURES, REPO, Proj, add_environment_sources, add_examples
from wfc.compile.backend import dns_name

GOLDEN = Path(__file__).parent / "golden"
CASES = {  # golden name -> (pipeline, values files)
    "diamond": ("pipelines/diamond.json", []),
    "quickstart": ("examples/pipelines/quickstart.json", []),
    "sweep": ("examples/pipelines/sweep.json", []),
    "branches": ("examples/pipelines/branches.json", []),  # a two-output node feeding two branches
    "cron": ("examples/pipelines/quickstart.json", ["values/cron.yaml"]),
}


@pytest.fixture
def gen_project(project: Proj) -> Proj:
    """A project with the shipped methods, environments (unbuilt), example and fixture pipelines."""
    add_environment_sources(add_examples(project))  # compile validates first: samples, environments
    shutil.copytree(FIXTURES / "pipelines", project.root / "pipelines", dirs_exist_ok=True)
    shutil.copytree(FIXTURES / "values", project.root / "values")
    return project


def compile_(proj: Proj, backend: str, case: str, seed: str = "0", out: str | None = None) -> str:
    doc, values = CASES[case]
    argv = ["compile", doc, "--backend", backend, *[a for v in values for a in ("-f", v)]]
    argv += ["-o", out] if out else []
    return proj.wfc(*argv, env={"PYTHONHASHSEED": seed}, check=True).stdout


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("WFC_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed: rerun with WFC_UPDATE_GOLDEN=1 if intended"


@pytest.mark.parametrize("case", sorted(CASES))
def test_argo_golden_valid_and_deterministic(gen_project: Proj, case: str) -> None:
    texts = {compile_(gen_project, "argo", case, seed) for seed in ("1", "2", "3")}
    assert len(texts) == 1
    text = texts.pop()
    golden(f"{case}.argo.yaml", text)
    assert str(gen_project.root) not in text
    doc = yaml.safe_load(text)
    assert check(doc) == []
    assert doc["kind"] == ("CronWorkflow" if case == "cron" else "Workflow")


def test_snakemake_golden_diamond(gen_project: Proj) -> None:
    texts = {compile_(gen_project, "snakemake", "diamond", seed) for seed in ("1", "2")}
    assert len(texts) == 1
    golden("diamond.Snakefile", texts.pop())


def test_argo_dag_wires_every_step_with_depends(gen_project: Proj) -> None:
    doc = yaml.safe_load(compile_(gen_project, "argo", "diamond"))
    tasks = {t["name"]: t for t in doc["spec"]["templates"][0]["dag"]["tasks"]}
    assert sorted(tasks) == ["by-product", "by-region", "clean-east", "clean-north", "clean-south", "join"]
    assert tasks["by-product"]["depends"] == "clean-east && clean-north && clean-south"
    assert tasks["join"]["depends"] == "by-product && by-region"
    assert "depends" not in tasks["clean-east"]
    assert tasks["clean-north"]["arguments"] == {"parameters": [{"name": "sample", "value": "north"}]}
    templates = {t["name"]: t for t in doc["spec"]["templates"]}
    container = templates["clean"]["container"]
    assert container["command"] == ["wfc", "run-step"]
    args = container["args"]
    assert args[:-1] == [
        "pipelines/diamond.json", "--node=clean", "--sample={{inputs.parameters.sample}}",
        "--runtime", "process", "--pipeline-run-key", "{{workflow.uid}}", "--bundle",
    ]  # fmt: skip
    bundle = args[-1]  # the document and the methods, archived in the store at compile time
    shown = gen_project.wfc("cache", "verify", "--json", check=True).stdout
    assert '"problems": []' in shown
    hexpart = bundle.split(":")[1]
    assert (gen_project.root / ".wfc" / "store" / "objects" / hexpart[:2] / hexpart[2:]).is_file()
    assert container["image"] == "wfc-env-python-wfc:latest"
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
    }
    assert doc["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["resources"]["limits"] == {"memory": "256Mi"}  # from method.yaml
    assert templates["clean"]["retryStrategy"]["limit"] == "2"  # IntOrString as a string


def test_argo_values_reach_the_manifest(gen_project: Proj) -> None:
    doc = yaml.safe_load(compile_(gen_project, "argo", "cron"))
    assert doc["metadata"]["name"] == "nightly-sales" and doc["metadata"]["namespace"] == "pipelines"
    cron = doc["spec"]
    assert cron["schedules"] == ["0 2 * * *", "30 14 * * 1-5"] and cron["timezone"] == "Europe/Berlin"
    spec = cron["workflowSpec"]
    assert spec["serviceAccountName"] == "wfc-runner" and spec["parallelism"] == 8
    assert spec["onExit"] == "on-exit" and spec["imagePullSecrets"] == [{"name": "registry-credentials"}]
    templates = {t["name"]: t for t in spec["templates"]}
    summarise = templates["summarise"]
    assert summarise["container"]["resources"] == {
        "requests": {"cpu": "2", "memory": "2Gi"},
        "limits": {},
    } or (summarise["container"]["resources"] == {"requests": {"cpu": "2", "memory": "2Gi"}})
    assert summarise["activeDeadlineSeconds"] == "1800"
    assert summarise["retryStrategy"]["limit"] == "3"  # null reset the node's override to the default
    assert templates["report"]["container"]["image"] == "registry.example.com/wfc/shell:1.4"
    env_from = templates["clean"]["container"]["envFrom"]
    assert env_from == [{"secretRef": {"name": "wfc-database"}}, {"configMapRef": {"name": "wfc-settings"}}]


def test_argo_3x_singular_schedule(gen_project: Proj) -> None:
    (gen_project.root / "values" / "v3.yaml").write_text("argo:\n  cron:\n    scheduleField: schedule\n")
    text = gen_project.wfc(
        "compile", "examples/pipelines/quickstart.json", "-b", "argo", "-f", "values/cron.yaml",
        "-f", "values/v3.yaml", check=True,
    ).stdout  # fmt: skip
    doc = yaml.safe_load(text)
    assert doc["spec"]["schedule"] == "0 2 * * *" and "schedules" not in doc["spec"]
    assert check(doc) == []


def test_the_checks_reject_a_broken_manifest(gen_project: Proj) -> None:
    doc: dict[str, Any] = yaml.safe_load(compile_(gen_project, "argo", "cron"))
    spec = doc["spec"]["workflowSpec"]
    spec["templates"][0]["dag"]["tasks"][0]["depends"] = "no-such-task"
    spec["templates"][0]["dag"]["tasks"][1]["template"] = "missing"
    spec["entrypoint"] = "nowhere"
    spec["templates"][1]["container"]["resources"]["requests"]["cpu"] = "two"
    spec["templates"][1]["container"]["imagePullPolicy"] = "Sometimes"
    spec["templates"][1]["retryStrategy"]["retryPolicy"] = "Maybe"
    spec["templates"][1]["container"]["volumeMounts"] = [{"name": "ghost", "mountPath": "/x"}]
    spec["templates"][1]["contianer"] = {}  # a typo the strict schema must catch
    doc["spec"]["schedules"] = ["61 * * * *"]
    problems = "\n".join(check(doc))
    for expected in (
        "Additional properties are not allowed ('contianer' was unexpected)",
        "depends on unknown task 'no-such-task'",
        "template 'missing' does not exist",
        "entrypoint 'nowhere' is not a template",
        "resources.requests.cpu 'two' is not a quantity",
        "imagePullPolicy 'Sometimes'",
        "retryPolicy 'Maybe'",
        "mount of unknown volume 'ghost'",
        "working directory /wfc/project is not on a writable volume",
        "cron '61 * * * *' does not parse",
    ):
        assert expected in problems
    assert cron_ok("*/15 0-6,22 * 1-12 1-5") and not cron_ok("* * *")


def test_names_are_dns_labels_unique_and_stable() -> None:
    assert dns_name("clean-north") == "clean-north"
    assert dns_name("Clean_North") == "clean-north"  # lower case and "_" -> "-" lose nothing
    assert dns_name("clean.north").startswith("clean-north-")  # anything else is hashed
    long = "x" * 80
    assert len(dns_name(long)) == 63 and dns_name(long) == dns_name(long)
    assert dns_name("été") != dns_name("ete") and dns_name("9lives")[0].isalpha()


def test_dvc_golden_valid_and_deterministic(gen_project: Proj, tmp_path: Path) -> None:
    schema = json.loads((REPO / "tests" / "schemas" / "dvc-yaml.schema.json").read_text())
    for case in ("diamond", "quickstart", "sweep"):
        outs = []
        for seed in ("1", "2"):
            out = tmp_path / f"{case}-{seed}"
            compile_(gen_project, "dvc", case, seed, out=str(out))
            outs.append(((out / "dvc.yaml").read_text(), (out / "params.yaml").read_text()))
        assert outs[0] == outs[1]
        dvc_yaml, params = outs[0]
        golden(f"{case}.dvc.yaml", dvc_yaml)
        golden(f"{case}.params.yaml", params)
        doc = yaml.safe_load(dvc_yaml)
        assert list(jsonschema.Draft7Validator(schema).iter_errors(doc)) == []
        assert str(gen_project.root) not in dvc_yaml + params
        for stage in doc["stages"].values():
            assert all(not Path(d).is_absolute() for d in stage["deps"])
