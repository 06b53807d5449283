"""Smoke tests of the cluster itself: pools, scheduling, simulated pods, admission, CRDs."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest

from fixtures.cluster import Cluster, apply_crds

pytestmark = pytest.mark.cluster

POOL_LABEL = "tierq.dev/pool"
SIM_DURATION = "sim.tierq.dev/duration"
SIM_EXIT_CODE = "sim.tierq.dev/exit-code"


def _pools(cluster: Cluster) -> dict[str, list[dict[str, Any]]]:
    nodes = cluster.get("nodes", "-l", POOL_LABEL)["items"]
    pools: dict[str, list[dict[str, Any]]] = {}
    for n in nodes:
        pools.setdefault(n["metadata"]["labels"][POOL_LABEL], []).append(n)
    return pools


def _simulated(cluster: Cluster) -> bool:
    """True when pool nodes are kwok's (pods are simulated and obey the sim annotations)."""
    return bool(cluster.get("nodes", "-l", "type=kwok")["items"])


def _job(name: str, pool: str, annotations: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            **spec,
            "template": {
                "metadata": {"annotations": annotations},
                "spec": {
                    "restartPolicy": "Never",
                    "nodeSelector": {POOL_LABEL: pool},
                    "tolerations": [
                        {
                            "key": POOL_LABEL,
                            "operator": "Equal",
                            "value": pool,
                            "effect": "NoSchedule",
                        }
                    ],
                    "containers": [{"name": "task", "image": "busybox:1.36"}],
                },
            },
        },
    }


def _job_condition(cluster: Cluster, ns: str, name: str) -> dict[str, Any] | None:
    job = cluster.get("-n", ns, "job", name)
    for c in job.get("status", {}).get("conditions") or []:
        if c["type"] in ("Complete", "Failed") and c["status"] == "True":
            return dict(c)
    return None


def _ts(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def test_pool_nodes_are_ready_labelled_and_tainted(cluster: Cluster) -> None:
    pools = _pools(cluster)
    if not pools:
        pytest.skip("this cluster has no nodes labelled tierq.dev/pool")
    for pool, nodes in pools.items():
        for n in nodes:
            ready = [c for c in n["status"]["conditions"] if c["type"] == "Ready"]
            assert ready and ready[0]["status"] == "True", n["metadata"]["name"]
            taints = n["spec"].get("taints") or []
            assert {"key": POOL_LABEL, "value": pool, "effect": "NoSchedule"} in [
                {k: t.get(k) for k in ("key", "value", "effect")} for t in taints
            ]


def test_job_lands_on_its_pool_and_completes_after_its_delay(
    cluster: Cluster, namespace: str
) -> None:
    if not _simulated(cluster):
        pytest.skip("pods are not simulated by kwok on this cluster")
    pools = _pools(cluster)
    pool = "batch" if "batch" in pools else sorted(pools)[0]
    t0 = time.monotonic()
    cluster.apply(_job("sleepy", pool, {SIM_DURATION: "3s"}), namespace=namespace)
    cond = cluster.wait_for(
        lambda: _job_condition(cluster, namespace, "sleepy"), timeout=60, what="job to finish"
    )
    assert cond["type"] == "Complete", cond
    assert time.monotonic() - t0 >= 3

    (pod,) = cluster.get("-n", namespace, "pods", "-l", "job-name=sleepy")["items"]
    node = cluster.get("node", pod["spec"]["nodeName"])
    assert node["metadata"]["labels"][POOL_LABEL] == pool
    assert pod["status"]["phase"] == "Succeeded"
    term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 0
    # Timestamps have a resolution of one second.
    assert (_ts(term["finishedAt"]) - _ts(term["startedAt"])).total_seconds() >= 2


def test_job_without_toleration_stays_pending(cluster: Cluster, namespace: str) -> None:
    if not _simulated(cluster):
        pytest.skip("pods are not simulated by kwok on this cluster")
    job = _job("untolerated", "batch", {})
    del job["spec"]["template"]["spec"]["tolerations"]
    cluster.apply(job, namespace=namespace)

    def unschedulable() -> bool:
        pods = cluster.get("-n", namespace, "pods", "-l", "job-name=untolerated")["items"]
        return any(
            c["type"] == "PodScheduled" and c.get("reason") == "Unschedulable"
            for p in pods
            for c in p["status"].get("conditions") or []
        )

    cluster.wait_for(unschedulable, timeout=30, what="the pod to be reported Unschedulable")


def test_job_annotated_to_fail_fails_with_its_exit_code(cluster: Cluster, namespace: str) -> None:
    if not _simulated(cluster):
        pytest.skip("pods are not simulated by kwok on this cluster")
    job = _job(
        "doomed",
        "standard",
        {SIM_DURATION: "500ms", SIM_EXIT_CODE: "10"},
        backoffLimit=3,
        podFailurePolicy={
            "rules": [
                {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [10, 11]}},
            ]
        },
    )
    cluster.apply(job, namespace=namespace)
    cond = cluster.wait_for(
        lambda: _job_condition(cluster, namespace, "doomed"), timeout=60, what="job to finish"
    )
    assert cond["type"] == "Failed", cond
    assert cond["reason"] == "PodFailurePolicy", cond  # no retry despite backoffLimit 3
    pods = cluster.get("-n", namespace, "pods", "-l", "job-name=doomed")["items"]
    assert len(pods) == 1
    assert pods[0]["status"]["phase"] == "Failed"
    assert pods[0]["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 10


def test_retryable_failure_is_retried_up_to_backoff_limit(cluster: Cluster, namespace: str) -> None:
    if not _simulated(cluster):
        pytest.skip("pods are not simulated by kwok on this cluster")
    job = _job("flaky", "standard", {SIM_DURATION: "100ms", SIM_EXIT_CODE: "20"}, backoffLimit=1)
    cluster.apply(job, namespace=namespace)
    cond = cluster.wait_for(
        lambda: _job_condition(cluster, namespace, "flaky"), timeout=90, what="job to finish"
    )
    assert cond["type"] == "Failed" and cond["reason"] == "BackoffLimitExceeded", cond
    assert cluster.get("-n", namespace, "job", "flaky")["status"]["failed"] == 2


def test_active_deadline_stops_a_running_pod(cluster: Cluster, namespace: str) -> None:
    if not _simulated(cluster):
        pytest.skip("pods are not simulated by kwok on this cluster")
    job = _job("overdue", "interactive", {SIM_DURATION: "10m"}, activeDeadlineSeconds=2)
    cluster.apply(job, namespace=namespace)
    cond = cluster.wait_for(
        lambda: _job_condition(cluster, namespace, "overdue"), timeout=60, what="job to finish"
    )
    assert cond["type"] == "Failed" and cond["reason"] == "DeadlineExceeded", cond
    cluster.wait_for(
        lambda: not cluster.get("-n", namespace, "pods", "-l", "job-name=overdue")["items"],
        timeout=30,
        what="the deleted pod to go",
    )


def test_restricted_pod_security_is_enforced(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl(
        "label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted"
    )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "privileged"},
        "spec": {
            "containers": [
                {"name": "c", "image": "busybox:1.36", "securityContext": {"privileged": True}}
            ]
        },
    }
    proc = cluster.create(pod, namespace=namespace, check=False)
    assert proc.returncode != 0
    assert "violates PodSecurity" in proc.stderr


def test_all_crds_apply(cluster: Cluster, crds: list[str]) -> None:
    assert {"tierpolicies.tierq.dev", "customertiers.tierq.dev", "tieredjobs.tierq.dev"} <= set(
        crds
    )


def test_customer_tier_schema_is_enforced(cluster: Cluster, namespace: str) -> None:
    apply_crds(cluster, pattern="*customertiers.yaml")

    def customer(name: str, **spec: Any) -> dict[str, Any]:
        return {
            "apiVersion": "tierq.dev/v1alpha1",
            "kind": "CustomerTier",
            "metadata": {"name": name},
            "spec": spec,
        }

    cluster.create(customer("acme", siteId=1, recordVolume=5000), namespace=namespace)
    got = cluster.get("-n", namespace, "customertier", "acme")
    assert got["spec"]["recordVolume"] == 5000

    invalid = {
        "spec.recordVolume": customer("neg", siteId=2, recordVolume=-1),
        "spec.siteId": customer("nosite", recordVolume=1),
        "spec.tier": customer("badtier", siteId=3, tier="Not_A_Name"),
    }
    for field_path, obj in invalid.items():
        proc = cluster.create(obj, namespace=namespace, check=False)
        assert proc.returncode != 0, f"{field_path}: accepted"
        assert field_path in proc.stderr, proc.stderr

    # siteId is immutable (a CEL rule of the schema, checked by the API server).
    proc = cluster.kubectl(
        "-n", namespace, "patch", "customertier", "acme", "--type=merge",
        "-p", '{"spec": {"siteId": 9}}', check=False,
    )  # fmt: skip
    assert proc.returncode != 0 and "immutable" in proc.stderr, proc.stderr


def test_rbac_applies_to_impersonated_service_accounts(cluster: Cluster, namespace: str) -> None:
    sa = f"system:serviceaccount:{namespace}:default"
    can = cluster.kubectl("auth", "can-i", "list", "pods", "-n", namespace, "--as", sa, check=False)
    assert can.stdout.strip() == "no"
    cluster.kubectl(
        "-n", namespace, "create", "rolebinding", "view", "--clusterrole=view",
        f"--serviceaccount={namespace}:default",
    )  # fmt: skip
    cluster.wait_for(
        lambda: (
            cluster.kubectl(
                "auth", "can-i", "list", "pods", "-n", namespace, "--as", sa, check=False
            ).stdout.strip()
            == "yes"
        ),
        timeout=10,
        what="the RoleBinding to take effect",
    )
