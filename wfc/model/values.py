"""Values files (BRIEF §13): the generate-time configuration of each backend, as frozen models.

Every knob has a default, so an empty values file (or none) compiles; a key that is not here is
an error. Field names are the YAML keys (Kubernetes spelling, camelCase, for Argo). The docs'
values reference is generated from these models (``values_reference``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from wfc.model.base import Frozen

Quantity = str  # a Kubernetes quantity such as "500m" or "1Gi" (checked by the Argo backend)


class Resources(Frozen):
    """Container resource requests and limits."""

    requests: dict[str, Quantity] = Field(
        default_factory=lambda: {"cpu": "100m", "memory": "256Mi"}, description="resource requests"
    )
    limits: dict[str, Quantity] = Field(default_factory=dict, description="resource limits")


class Backoff(Frozen):
    """How long Argo waits between retries."""

    duration: str = Field("10s", description="first wait")
    factor: int = Field(2, ge=1, description="growth factor of each wait")
    maxDuration: str = Field("5m", description="the longest wait")


class RetryStrategy(Frozen):
    """How Argo retries a failed task (wfc steps are idempotent: a retry is safe)."""

    limit: int = Field(2, ge=0, description="retries after the first attempt")
    retryPolicy: Literal["Always", "OnFailure", "OnError", "OnTransientError"] = Field(
        "OnError", description="which failures are retried"
    )
    backoff: Backoff | None = Field(default_factory=Backoff, description="waits between retries; null: none")


class NodeValues(Frozen):
    """Per-node overrides, keyed by node id under ``argo.nodes``."""

    resources: Resources | None = Field(None, description="replaces argo.resources for this node's tasks")
    retryStrategy: RetryStrategy | None = Field(None, description="replaces argo.retryStrategy")
    activeDeadlineSeconds: int | None = Field(None, ge=1, description="deadline of each task of the node")
    nodeSelector: dict[str, str] | None = Field(None, description="replaces argo.nodeSelector")


class EnvFrom(Frozen):
    """A Secret or ConfigMap whose keys become environment variables of every task."""

    secretRef: str | None = Field(None, description="Secret name")
    configMapRef: str | None = Field(None, description="ConfigMap name")


class SecretMount(Frozen):
    """A Secret mounted as files."""

    secret: str = Field(description="Secret name")
    mountPath: str = Field(description="where its files appear")


class ProjectVolume(Frozen):
    """The shared volume that holds the project (pipeline document, methods, env locks, and by
    default the store and SQLite database); every task works in it. With ``claimName: null`` there
    is none: each task starts from an empty project in its scratch volume, filled from the compiled
    bundle, which it fetches from the shared store (WFC_STORE=s3://…, WFC_DATABASE_URL=postgresql…)."""

    claimName: str | None = Field(
        "wfc-project", description="an existing PersistentVolumeClaim; null: no shared volume"
    )
    mountPath: str = Field("/wfc/project", description="where tasks see the project")
    readOnly: bool = Field(
        False, description="mount read-only (then WFC_STORE/WFC_DATABASE_URL point elsewhere)"
    )


class Scratch(Frozen):
    """The writable emptyDir for run directories and temp files (the root filesystem is read-only)."""

    mountPath: str = Field("/wfc/scratch", description="mount path; HOME and TMPDIR point here")
    sizeLimit: Quantity = Field("10Gi", description="emptyDir size limit")


class Cron(Frozen):
    """Schedules: when any is set, a CronWorkflow is emitted instead of a Workflow."""

    schedules: list[str] = Field(default_factory=list, description="cron expressions (5 fields)")
    scheduleField: Literal["schedules", "schedule"] = Field(
        "schedules", description="'schedule' emits the single field of Argo 3.x (one schedule only)"
    )
    timezone: str | None = Field(None, description="IANA time zone of the schedules")
    concurrencyPolicy: Literal["Allow", "Forbid", "Replace"] = Field("Forbid", description="overlapping runs")
    startingDeadlineSeconds: int | None = Field(None, ge=0, description="how late a missed run may start")
    successfulJobsHistoryLimit: int = Field(3, ge=0, description="finished workflows kept")
    failedJobsHistoryLimit: int = Field(1, ge=0, description="failed workflows kept")
    suspend: bool = Field(False, description="create the CronWorkflow suspended")


class PodGC(Frozen):
    """When Argo deletes finished pods."""

    strategy: Literal["OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess"] = Field(
        "OnPodSuccess", description="pod garbage collection strategy"
    )


class TtlStrategy(Frozen):
    """When Argo deletes a finished workflow."""

    secondsAfterCompletion: int | None = Field(None, ge=0, description="after any completion")
    secondsAfterSuccess: int | None = Field(None, ge=0, description="after success")
    secondsAfterFailure: int | None = Field(None, ge=0, description="after failure")


class OnExit(Frozen):
    """A container run when the workflow ends (e.g. a notification)."""

    image: str = Field(description="image of the exit handler")
    command: list[str] = Field(description="its argv")


def _hardened_pod() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "runAsGroup": 1000,
        "fsGroup": 1000,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _hardened_container() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


class ArgoValues(Frozen):
    """The ``argo:`` section."""

    name: str | None = Field(
        None, description="workflow name prefix (generateName); default: the pipeline name"
    )
    namespace: str | None = Field(None, description="namespace of the workflow")
    labels: dict[str, str] = Field(default_factory=dict, description="labels of the workflow")
    annotations: dict[str, str] = Field(default_factory=dict, description="annotations of the workflow")
    serviceAccountName: str | None = Field(None, description="service account of the pods")
    nodeSelector: dict[str, str] = Field(default_factory=dict, description="node selector of every task")
    tolerations: list[dict[str, Any]] = Field(default_factory=list, description="tolerations of every task")
    affinity: dict[str, Any] | None = Field(None, description="affinity of every task")
    priorityClassName: str | None = Field(None, description="priority class of the pods")
    imagePullSecrets: list[str] = Field(default_factory=list, description="names of pull secrets")
    imagePullPolicy: Literal["Always", "IfNotPresent", "Never"] = Field(
        "IfNotPresent", description="pull policy"
    )
    images: dict[str, str] = Field(
        default_factory=dict,
        description="environment name -> image; default: the tag `wfc env build NAME --with-wfc` made",
    )
    podSpecPatch: str | None = Field(None, description="a pod spec patch (YAML/JSON text) for every task")
    podSecurityContext: dict[str, Any] = Field(
        default_factory=_hardened_pod, description="pod securityContext (hardened default)"
    )
    securityContext: dict[str, Any] = Field(
        default_factory=_hardened_container,
        description="container securityContext (hardened default, read-only root filesystem)",
    )
    resources: Resources = Field(default_factory=Resources, description="resources of every task")
    env: dict[str, str] = Field(default_factory=dict, description="extra environment variables of every task")
    envFrom: list[EnvFrom] = Field(
        default_factory=list,
        description="Secrets/ConfigMaps holding run-time settings (WFC_DATABASE_URL, WFC_STORE, WFC_VAR_*)",
    )
    secretMounts: list[SecretMount] = Field(default_factory=list, description="Secrets mounted as files")
    volumes: list[dict[str, Any]] = Field(default_factory=list, description="extra pod volumes")
    volumeMounts: list[dict[str, Any]] = Field(default_factory=list, description="extra container mounts")
    volumeClaimTemplates: list[dict[str, Any]] = Field(
        default_factory=list, description="PVCs created per workflow"
    )
    project: ProjectVolume = Field(default_factory=ProjectVolume, description="the shared project volume")
    scratch: Scratch = Field(default_factory=Scratch, description="the writable scratch volume")
    retryStrategy: RetryStrategy | None = Field(
        default_factory=RetryStrategy, description="retries of every task"
    )
    activeDeadlineSeconds: int | None = Field(None, ge=1, description="deadline of the whole workflow")
    parallelism: int | None = Field(None, ge=1, description="tasks running at once")
    podGC: PodGC | None = Field(default_factory=PodGC, description="pod garbage collection; null: keep pods")
    ttlStrategy: TtlStrategy | None = Field(None, description="workflow deletion after completion")
    workflowMetadata: dict[str, dict[str, str]] | None = Field(
        None, description="labels/annotations of the workflows a CronWorkflow creates"
    )
    onExit: OnExit | None = Field(None, description="an exit handler container")
    cron: Cron = Field(default_factory=Cron, description="schedules and cron options")
    nodes: dict[str, NodeValues] = Field(default_factory=dict, description="per node id overrides")


class DvcValues(Frozen):
    """The ``dvc:`` section."""

    outputs_dir: str = Field(
        "wfc-dvc", description="directory (relative) of each stage's output manifest, a DVC out"
    )
    params_file: str = Field("params.yaml", description="name of the params file next to dvc.yaml")


class SnakemakeValues(Frozen):
    """The ``snakemake:`` section (run-time config stays in `--config`)."""

    markers_dir: str | None = Field(None, description="default marker directory; default .wfc/markers/NAME")


class Values(Frozen):
    """A whole values document: one section per backend."""

    snakemake: SnakemakeValues = Field(default_factory=SnakemakeValues)
    argo: ArgoValues = Field(default_factory=ArgoValues)
    dvc: DvcValues = Field(default_factory=DvcValues)
