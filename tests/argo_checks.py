"""Validating Argo manifests in tests: the vendored official schema in strict mode, and the
semantic checks the schema cannot make (``tests/schemas/README.md``, "Known quirks")."""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any

import jsonschema

SCHEMAS = Path(__file__).resolve().parent / "schemas"
DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
RETRY_POLICIES = {"Always", "OnFailure", "OnError", "OnTransientError"}
CONCURRENCY = {"Allow", "Forbid", "Replace"}
PULL_POLICIES = {"Always", "IfNotPresent", "Never"}
_CRON_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


@functools.cache
def strict_schema(singular_schedule: bool = False) -> dict[str, Any]:
    """The official schema with unknown fields forbidden and IntOrString accepting integers; for
    the Argo 3.x form, CronWorkflow's ``schedule`` allowed in place of ``schedules``."""
    schema = copy.deepcopy(json.loads((SCHEMAS / "argo-workflows.schema.json").read_text()))
    for definition in schema["definitions"].values():
        if "properties" in definition:
            definition["additionalProperties"] = False
    schema["definitions"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = {"type": ["string", "integer"]}
    if singular_schedule:
        cron = schema["definitions"]["io.argoproj.workflow.v1alpha1.CronWorkflowSpec"]
        cron["properties"]["schedule"] = {"type": "string"}
        cron["required"] = [r for r in cron["required"] if r != "schedules"]
    return schema


def schema_errors(doc: dict[str, Any]) -> list[str]:
    """Schema violations of one manifest (strict)."""
    singular = "schedule" in doc.get("spec", {})
    schema = strict_schema(singular)
    kind = {
        "$ref": f"#/definitions/io.argoproj.workflow.v1alpha1.{doc.get('kind')}",
        "definitions": schema["definitions"],
    }
    validator = jsonschema.Draft202012Validator(kind)
    return sorted(f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc))


def semantic_errors(doc: dict[str, Any]) -> list[str]:
    """What the schema cannot see: references, names, cron strings, quantities, enums, volumes."""
    problems: list[str] = []
    cron = doc["kind"] == "CronWorkflow"
    spec = doc["spec"]["workflowSpec"] if cron else doc["spec"]
    name = doc["metadata"].get("name") or doc["metadata"].get("generateName", "").rstrip("-")
    if not DNS_1123.match(name) or len(name) > 63:
        problems.append(f"metadata name {name!r} is not a DNS-1123 label")
    templates = {t["name"]: t for t in spec["templates"]}
    if len(templates) != len(spec["templates"]):
        problems.append("template names are not unique")
    if spec.get("entrypoint") not in templates:
        problems.append(f"entrypoint {spec.get('entrypoint')!r} is not a template")
    if spec.get("onExit") and spec["onExit"] not in templates:
        problems.append(f"onExit {spec['onExit']!r} is not a template")
    volumes = {v["name"] for v in spec.get("volumes", [])} | {
        v["metadata"]["name"] for v in spec.get("volumeClaimTemplates", [])
    }
    for tname, template in templates.items():
        if not DNS_1123.match(tname) or len(tname) > 63:
            problems.append(f"template name {tname!r} is not a DNS-1123 label")
        problems += _dag_errors(tname, template, templates)
        problems += _container_errors(tname, template, volumes)
        retry = template.get("retryStrategy")
        if retry and retry.get("retryPolicy") not in RETRY_POLICIES:
            problems.append(f"{tname}: retryPolicy {retry.get('retryPolicy')!r}")
        deadline = template.get("activeDeadlineSeconds")
        if deadline is not None and not (str(deadline).isdigit() and int(deadline) > 0):
            problems.append(f"{tname}: activeDeadlineSeconds {deadline!r} is not a positive integer")
    if cron:
        c = doc["spec"]
        schedules = c.get("schedules") or ([c["schedule"]] if "schedule" in c else [])
        if not schedules:
            problems.append("CronWorkflow without a schedule")
        problems += [f"cron {s!r} does not parse" for s in schedules if not cron_ok(s)]
        if c.get("concurrencyPolicy", "Allow") not in CONCURRENCY:
            problems.append(f"concurrencyPolicy {c.get('concurrencyPolicy')!r}")
    return problems


def _dag_errors(tname: str, template: dict[str, Any], templates: dict[str, Any]) -> list[str]:
    if "dag" not in template:
        return []
    problems = []
    tasks = template["dag"]["tasks"]
    names = [t["name"] for t in tasks]
    if len(set(names)) != len(names):
        problems.append(f"{tname}: task names are not unique")
    for task in tasks:
        if not DNS_1123.match(task["name"]) or len(task["name"]) > 63:
            problems.append(f"task name {task['name']!r} is not a DNS-1123 label")
        if task["template"] not in templates:
            problems.append(f"task {task['name']}: template {task['template']!r} does not exist")
        for dep in re.split(r"\s*&&\s*|\s*\|\|\s*", task.get("depends", "")):
            dep = dep.strip("() ").split(".")[0]
            if dep and dep not in names:
                problems.append(f"task {task['name']}: depends on unknown task {dep!r}")
        wanted = {
            p["name"] for p in templates.get(task["template"], {}).get("inputs", {}).get("parameters", [])
        }
        given = {p["name"] for p in task.get("arguments", {}).get("parameters", [])}
        if wanted != given:
            problems.append(
                f"task {task['name']}: parameters {sorted(given)} != template inputs {sorted(wanted)}"
            )
    return problems


def _container_errors(tname: str, template: dict[str, Any], volumes: set[str]) -> list[str]:
    container = template.get("container")
    if not container:
        return []
    problems = []
    for kind in ("requests", "limits"):
        for key, value in container.get("resources", {}).get(kind, {}).items():
            if not QUANTITY.match(str(value)):
                problems.append(f"{tname}: resources.{kind}.{key} {value!r} is not a quantity")
    if container.get("imagePullPolicy", "IfNotPresent") not in PULL_POLICIES:
        problems.append(f"{tname}: imagePullPolicy {container.get('imagePullPolicy')!r}")
    mounts = container.get("volumeMounts", [])
    problems += [
        f"{tname}: mount of unknown volume {m['name']!r}" for m in mounts if m["name"] not in volumes
    ]
    if container.get("securityContext", {}).get("readOnlyRootFilesystem"):
        writable = [m for m in mounts if not m.get("readOnly")]
        if not writable:
            problems.append(f"{tname}: read-only root filesystem without a writable volume")
        workdir = container.get("workingDir", "/")
        if not any(workdir.startswith(m["mountPath"]) for m in writable):
            problems.append(f"{tname}: working directory {workdir} is not on a writable volume")
    return problems


def cron_ok(text: str) -> bool:
    """Whether a 5-field cron expression parses (numbers, ranges, lists, steps, *)."""
    fields = text.split()
    if len(fields) != 5:
        return False
    for field, (low, high) in zip(fields, _CRON_RANGES, strict=True):
        for part in field.split(","):
            base, _, step = part.partition("/")
            if step and not (step.isdigit() and int(step) > 0):
                return False
            if base == "*":
                continue
            ends = base.split("-")
            if len(ends) > 2 or not all(e.isdigit() and low <= int(e) <= high for e in ends):
                return False
    return True


def check(doc: dict[str, Any]) -> list[str]:
    """Every schema and semantic problem of a manifest."""
    return schema_errors(doc) + semantic_errors(doc)
