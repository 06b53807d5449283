"""The Job template: deterministic, owned, placed on its lane, and `restricted`-compliant."""

from __future__ import annotations

from typing import Any

import pytest

from tierq.api import contract as c
from tierq.api.defaults import default_policy_spec
from tierq.core.policy import compile_policy
from tierq.operator.jobtemplate import JobRequest, build_job, job_name, shorten
from tierq.operator.settings import Settings

POLICY = compile_policy(default_policy_spec())
LANE = POLICY.lanes["small.instant"]


def request(**overrides: Any) -> JobRequest:
    fields: dict[str, Any] = dict(
        name="report-1", namespace="acme", uid="0b6f-uid", customer="acme-corp",
        job_type="task_01", site_id=42, tier="small", duration_class="instant",
        lane="small.instant", slot_lane="small.instant", estimate=1.5, queued_at=1000.0,
        annotations={c.SIM_DURATION: "2s", "other.io/x": "y"},
    )
    fields.update(overrides)
    return JobRequest(**fields)


def job(**overrides: Any) -> dict[str, Any]:
    return build_job(request(**overrides), LANE, Settings(worker_image="img:1"))


def test_same_request_same_job() -> None:
    assert job() == job()
    assert job()["metadata"]["name"] == "tj-report-1"


def test_long_names_are_cut_and_unique_per_uid() -> None:
    long = "x" * 80
    a, b = job_name(long, "uid-a"), job_name(long, "uid-b")
    assert len(a) <= 63 and len(b) <= 63 and a != b
    assert job_name(long, "uid-a") == a
    assert shorten("short") == "short"


def test_owned_by_its_tieredjob() -> None:
    (owner,) = job()["metadata"]["ownerReferences"]
    assert owner == {"apiVersion": c.API_VERSION, "kind": "TieredJob", "name": "report-1",
                     "uid": "0b6f-uid", "controller": True, "blockOwnerDeletion": True}


def test_one_pod_with_the_lanes_limits_and_placement() -> None:
    spec = job()["spec"]
    assert (spec["parallelism"], spec["completions"]) == (1, 1)
    assert spec["backoffLimit"] == LANE.backoff_limit
    assert spec["activeDeadlineSeconds"] == LANE.active_deadline_seconds
    assert spec["ttlSecondsAfterFinished"] == LANE.ttl_seconds_after_finished
    pod = spec["template"]["spec"]
    assert pod["nodeSelector"] == {c.LABEL_POOL: "interactive"}
    assert pod["tolerations"] == [{"key": c.LABEL_POOL, "operator": "Equal",
                                   "value": "interactive", "effect": "NoSchedule"}]
    assert pod["containers"][0]["resources"]["requests"] == {"cpu": "100m", "memory": "128Mi"}


def test_labels_and_sim_annotations() -> None:
    body = job()
    labels = body["metadata"]["labels"]
    assert labels[c.LABEL_CUSTOMER] == "acme-corp"
    assert labels[c.LABEL_LANE] == "small.instant"
    assert labels[c.LABEL_MANAGED_BY] == c.MANAGED_BY
    pod_meta = body["spec"]["template"]["metadata"]
    assert pod_meta["labels"] == labels
    assert pod_meta["annotations"][c.SIM_DURATION] == "2s"
    assert "other.io/x" not in pod_meta["annotations"]


def test_worker_command_and_environment() -> None:
    container = job(args=("--dry-run",))["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["tierq-worker"]
    assert container["args"] == ["run", "--job-type", "task_01", "--site-id", "42", "--dry-run"]
    env = {e["name"]: e for e in container["env"]}
    assert env[c.ENV_DATABASE_URL]["valueFrom"]["secretKeyRef"] == {
        "name": "tierq-database", "key": "url"}
    assert env[c.ENV_TIEREDJOB_NAMESPACE]["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.namespace")
    assert env[c.ENV_TIME_SCALE]["value"] == "1"
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"


def test_pod_failure_policy_fails_fast_on_non_retryable_codes() -> None:
    spec = job()["spec"]
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    fail, ignore = spec["podFailurePolicy"]["rules"]
    assert fail["action"] == "FailJob"
    assert fail["onExitCodes"]["values"] == sorted(c.NON_RETRYABLE_EXIT_CODES)
    assert ignore == {"action": "Ignore",
             "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}


@pytest.mark.parametrize("account", ["", "tierq-worker"])
def test_service_account_only_when_set(account: str) -> None:
    body = build_job(request(), LANE, Settings(worker_service_account=account))
    assert body["spec"]["template"]["spec"].get("serviceAccountName", "") == account


def test_restricted_pod_security() -> None:
    pod = job()["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = pod["containers"][0]["securityContext"]
    assert sc == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                  "readOnlyRootFilesystem": True, "runAsNonRoot": True}


def test_valid_against_the_kubernetes_schema() -> None:
    kv = pytest.importorskip("kubernetes_validate")
    kv.validate(job(), "1.33", strict=True)
