"""The batch/v1 Job of one admitted TieredJob. Pure: same inputs, same dict.

The name is derived from the TieredJob alone, so re-running an admission (after a restart
or a failover) meets the existing Job (409) instead of making a second one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tierq.api import contract as c
from tierq.core.policy import LaneConfig
from tierq.operator.settings import Settings

MAX_LABEL = 63


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def shorten(value: str, salt: str = "", limit: int = MAX_LABEL) -> str:
    """`value` when it fits a label value / Job name, else a prefix plus a short hash."""
    if len(value) <= limit:
        return value
    return f"{value[: limit - 9].rstrip('-.')}-{_digest(salt or value)}"


def job_name(tieredjob: str, uid: str) -> str:
    """tj-<name>; a long name is cut and made unique with a hash of the TieredJob's uid."""
    return shorten(f"tj-{tieredjob}", salt=uid)


@dataclass(frozen=True, slots=True)
class JobRequest:
    """What the template needs to know about the TieredJob and its customer."""

    name: str
    namespace: str
    uid: str
    customer: str
    job_type: str
    site_id: int
    tier: str
    duration_class: str
    lane: str
    slot_lane: str
    estimate: float
    queued_at: float
    priority: int = 0
    args: Sequence[str] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)


def labels_for(req: JobRequest) -> dict[str, str]:
    return {
        c.LABEL_CUSTOMER: shorten(req.customer),
        c.LABEL_TIER: req.tier,
        c.LABEL_CLASS: req.duration_class,
        c.LABEL_LANE: req.lane,
        c.LABEL_TIEREDJOB: shorten(req.name, salt=req.uid),
        c.LABEL_MANAGED_BY: c.MANAGED_BY,
    }


def _resources(lane: LaneConfig) -> dict[str, dict[str, str]]:
    if lane.resources is None:
        return {}
    out: dict[str, dict[str, str]] = {}
    for kind in ("requests", "limits"):
        values = getattr(lane.resources, kind)
        if values:
            out[kind] = {k: str(v) for k, v in values.items()}
    return out


def _env(req: JobRequest, settings: Settings) -> list[dict[str, Any]]:
    def field_ref(path: str) -> dict[str, Any]:
        return {"fieldRef": {"fieldPath": path}}

    return [
        {
            "name": c.ENV_DATABASE_URL,
            "valueFrom": {
                "secretKeyRef": {"name": settings.db_secret_name, "key": settings.db_secret_key}
            },
        },
        {
            "name": c.ENV_TIEREDJOB_NAME,
            "valueFrom": field_ref(f"metadata.annotations['{c.ANNOTATION_TIEREDJOB}']"),
        },
        {"name": c.ENV_TIEREDJOB_NAMESPACE, "valueFrom": field_ref("metadata.namespace")},
        {"name": c.ENV_TIME_SCALE, "value": f"{settings.time_scale:g}"},
    ]


def pod_failure_policy() -> dict[str, Any]:
    """Exit codes that no retry can fix fail the Job at once; evictions do not count."""
    return {
        "rules": [
            {
                "action": "FailJob",
                "onExitCodes": {
                    "containerName": c.WORKER_CONTAINER,
                    "operator": "In",
                    "values": sorted(set(c.NON_RETRYABLE_EXIT_CODES)),
                },
            },
            {"action": "Ignore",
             "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        ]
    }


def _container(req: JobRequest, lane: LaneConfig, settings: Settings) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": c.WORKER_CONTAINER,
        "image": settings.worker_image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": [c.WORKER_COMMAND[0]],
        "args": [*c.WORKER_COMMAND[1:], c.ARG_JOB_TYPE, req.job_type, c.ARG_SITE_ID,
                 str(req.site_id), *req.args],
        "env": _env(req, settings),
        "terminationMessagePolicy": "FallbackToLogsOnError",
        # The `restricted` Pod Security Standard, container part.
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        },
    }
    resources = _resources(lane)
    if resources:
        container["resources"] = resources
    return container


def build_job(req: JobRequest, lane: LaneConfig, settings: Settings) -> dict[str, Any]:
    """The batch/v1 Job running `req` on a slot of `lane`."""
    labels = labels_for(req)
    job_annotations = {
        c.ANNOTATION_TIEREDJOB: req.name,
        c.ANNOTATION_SLOT_LANE: req.slot_lane,
        c.ANNOTATION_ESTIMATE: f"{req.estimate:.3f}",
        c.ANNOTATION_QUEUED_AT: f"{req.queued_at:.3f}",
        c.ANNOTATION_PRIORITY: str(req.priority),
    }
    # kwok reads sim.tierq.dev/* on the pod to decide how it ends (no container runs there).
    pod_annotations = {c.ANNOTATION_TIEREDJOB: req.name}
    pod_annotations.update(
        {k: v for k, v in req.annotations.items() if k.startswith(c.SIM_ANNOTATION_PREFIX)}
    )
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",  # required by podFailurePolicy; the Job retries, not kubelet
        "containers": [_container(req, lane, settings)],
        "nodeSelector": lane.node_selector,
        "tolerations": [t.to_wire() for t in lane.tolerations],
        # The `restricted` Pod Security Standard, pod part.
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": c.WORKER_UID,
            "runAsGroup": c.WORKER_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    if settings.worker_service_account:
        pod_spec["serviceAccountName"] = settings.worker_service_account
    spec: dict[str, Any] = {
        "parallelism": 1,
        "completions": 1,
        "backoffLimit": lane.backoff_limit,
        "podFailurePolicy": pod_failure_policy(),
        "template": {
            "metadata": {"labels": labels, "annotations": pod_annotations},
            "spec": pod_spec,
        },
    }
    if lane.active_deadline_seconds is not None:
        spec["activeDeadlineSeconds"] = lane.active_deadline_seconds
    if lane.ttl_seconds_after_finished is not None:
        spec["ttlSecondsAfterFinished"] = lane.ttl_seconds_after_finished
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(req.name, req.uid),
            "namespace": req.namespace,
            "labels": labels,
            "annotations": job_annotations,
            "ownerReferences": [
                {
                    "apiVersion": c.API_VERSION,
                    "kind": "TieredJob",
                    "name": req.name,
                    "uid": req.uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": spec,
    }
