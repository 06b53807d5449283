"""End-to-end scenarios: the operator as a subprocess against the real cluster (kwok pods).

Each test gets a fresh namespace and starts its own operator(s) limited to it
(`kopf run -n <ns>`), so tests never see each other's objects. The TierPolicy is
cluster-scoped: the session installs a small test policy and restores the previous one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixtures.cluster import CRD_DIR, Cluster

REPO = Path(__file__).resolve().parents[2]
KOPF = str(Path(sys.executable).with_name("kopf"))
API = "tierq.dev/v1alpha1"
TERMINAL = ("Succeeded", "Failed")

# Small lanes so that caps bind with a few dozen jobs; no cohorts, so caps are exact.
TEST_POLICY: dict[str, Any] = {
    "tiers": [
        {"name": "small", "minRecords": 0},
        {"name": "medium", "minRecords": 10_000},
        {"name": "large", "minRecords": 50_000},
    ],
    "durationClasses": [
        {"name": "instant", "maxSeconds": 10},
        {"name": "short", "maxSeconds": 120},
        {"name": "long"},
    ],
    "jobTypes": [
        {"name": "quick", "expectedSeconds": 2},
        {"name": "medium", "expectedSeconds": 60},
        {"name": "slow", "expectedSeconds": 3600},
        {"name": "task_01", "secondsPerRecord": 0.001},
    ],
    "nodePools": [{"name": "interactive"}, {"name": "standard"}, {"name": "batch"}],
    "lanes": {
        "defaults": {"maxRunning": 3, "nodePool": "standard", "backoffLimit": 2,
                     "ttlSecondsAfterFinished": 900},
        "overrides": [
            {"durationClass": "instant", "nodePool": "interactive",
             "maxRunningPerCustomer": 2},
            {"durationClass": "long", "nodePool": "batch", "maxRunning": 2},
        ],
    },
}
CAPS = {"instant": (3, 2), "short": (3, None), "long": (2, None)}  # lane, per customer


@pytest.fixture(scope="session")
def tierq_crds(cluster: Cluster) -> None:
    docs = []
    for path in sorted(CRD_DIR.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                docs.append(doc)
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-",
                    input=yaml.safe_dump_all(docs))
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                    *[f"crd/{d['metadata']['name']}" for d in docs])


def policy_body(spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "TierPolicy", "metadata": {"name": "default"},
            "spec": spec}


def set_policy(cluster: Cluster, spec: dict[str, Any]) -> None:
    cluster.kubectl("replace", "-f", "-", input=json.dumps(_with_version(cluster, spec)))


def _with_version(cluster: Cluster, spec: dict[str, Any]) -> dict[str, Any]:
    current = cluster.get("tierpolicy", "default")
    body = policy_body(spec)
    body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    body["metadata"]["finalizers"] = current["metadata"].get("finalizers", [])
    return body


@pytest.fixture(scope="session")
def test_policy(cluster: Cluster, tierq_crds: None) -> Iterator[dict[str, Any]]:
    """The test policy in force for the session; the cluster's own comes back after."""
    found = cluster.kubectl("get", "tierpolicy", "default", "-o", "json", check=False)
    previous = json.loads(found.stdout)["spec"] if found.returncode == 0 else None
    if previous is None:
        cluster.create(policy_body(TEST_POLICY))
    else:
        set_policy(cluster, TEST_POLICY)
    yield TEST_POLICY
    if previous is not None:
        set_policy(cluster, previous)
    else:
        cluster.kubectl("patch", "tierpolicy", "default", "--type=merge", "-p",
                        '{"metadata":{"finalizers":null}}', check=False)
        cluster.kubectl("delete", "tierpolicy", "default", "--wait=false", check=False)


@pytest.fixture
def policy(cluster: Cluster, test_policy: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The test policy, put back after a test that edits it."""
    yield json.loads(json.dumps(test_policy))
    current = cluster.get("tierpolicy", "default")["spec"]
    if current != test_policy:
        set_policy(cluster, test_policy)


# ---- the operator -------------------------------------------------------------------------
@dataclass
class Operator:
    proc: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind, as when a node dies."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture
def start_operator(cluster: Cluster, namespace: str, tmp_path: Path,
                   test_policy: dict[str, Any]) -> Iterator[Callable[..., Operator]]:
    started: list[Operator] = []

    def start(*, standalone: bool = True, priority: int | None = None,
              env: dict[str, str] | None = None) -> Operator:
        args = [KOPF, "run", "-n", namespace, "-m", "tierq.operator.main"]
        if standalone:
            args.insert(2, "--standalone")
        if priority is not None:
            args += ["--priority", str(priority)]
        full_env = dict(os.environ, KUBECONFIG=cluster.kubeconfig, TIERQ_METRICS_PORT="0",
                        TIERQ_REFRESH_SECONDS="5", TIERQ_RESYNC_SECONDS="5",
                        TIERQ_PEERING_LIFETIME="10", **(env or {}))
        log = tmp_path / f"operator-{len(started)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(args, env=full_env, stdout=out, stderr=subprocess.STDOUT,
                                    cwd=REPO)
        op = Operator(proc, log)
        started.append(op)
        return op

    yield start
    for op in started:
        op.kill()
    for op in started:
        if "Traceback" in op.text():
            print(f"---- {op.log} ----\n{op.text()[-5000:]}")


# ---- objects --------------------------------------------------------------------------------
def customer(name: str, site_id: int, volume: int = 500, tier: str | None = None
             ) -> dict[str, Any]:
    spec: dict[str, Any] = {"siteId": site_id, "displayName": name, "recordVolume": volume}
    if tier:
        spec["tier"] = tier
    return {"apiVersion": API, "kind": "CustomerTier", "metadata": {"name": name},
            "spec": spec}


def tieredjob(name: str, customer: str, job_type: str = "quick", *, duration: str = "1s",
              exit_code: int | None = None, suspend: bool = False, priority: int = 0
              ) -> dict[str, Any]:
    annotations = {"sim.tierq.dev/duration": duration}
    if exit_code is not None:
        annotations["sim.tierq.dev/exit-code"] = str(exit_code)
    return {"apiVersion": API, "kind": "TieredJob",
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"customer": customer, "jobType": job_type, "suspend": suspend,
                     "priority": priority}}


def create(cluster: Cluster, namespace: str, objs: list[dict[str, Any]]) -> None:
    for i in range(0, len(objs), 100):
        cluster.kubectl("create", "-n", namespace, "-f", "-",
                        input=yaml.safe_dump_all(objs[i:i + 100]))


def tjs(cluster: Cluster, namespace: str) -> dict[str, dict[str, Any]]:
    items = cluster.get("tieredjobs", "-n", namespace)["items"]
    return {t["metadata"]["name"]: t for t in items}


def tj(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    out = cluster.get("tieredjob", name, "-n", namespace)
    assert isinstance(out, dict)
    return out


def jobs(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    items = cluster.get("jobs", "-n", namespace)["items"]
    assert isinstance(items, list)
    return items


def phase(obj: dict[str, Any]) -> str | None:
    return (obj.get("status") or {}).get("phase")


def wait_phase(cluster: Cluster, namespace: str, name: str, *phases: str,
               timeout: float = 60) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        obj = tj(cluster, namespace, name)
        return obj if phase(obj) in phases else None

    found: dict[str, Any] = cluster.wait_for(check, timeout=timeout,
                                             what=f"{name} in {phases}")
    return found


def wait_all_terminal(cluster: Cluster, namespace: str, count: int,
                      timeout: float) -> dict[str, dict[str, Any]]:
    def check() -> dict[str, dict[str, Any]] | None:
        objs = tjs(cluster, namespace)
        done = sum(phase(o) in TERMINAL for o in objs.values())
        return objs if len(objs) == count and done == count else None

    found: dict[str, dict[str, Any]] = cluster.wait_for(
        check, timeout=timeout, interval=1.0, what=f"{count} TieredJobs terminal")
    return found


def ts(value: str | None) -> float:
    assert value, "missing timestamp"
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """Most intervals [start, end) open at one instant."""
    points = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals],
                    key=lambda p: (p[0], p[1]))
    best = current = 0
    for _, delta in points:
        current += delta
        best = max(best, current)
    return best


def overlaps(objs: dict[str, dict[str, Any]]) -> tuple[dict[str, int], dict[str, int]]:
    """Most jobs running at once per lane and per (lane, customer), from their statuses."""
    by_lane: dict[str, list[tuple[float, float]]] = defaultdict(list)
    by_customer: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for obj in objs.values():
        st = obj.get("status") or {}
        if not st.get("startTime"):
            continue
        span = (ts(st["startTime"]), ts(st.get("completionTime")) if st.get(
            "completionTime") else time.time() + 1e6)
        by_lane[st["lane"]].append(span)
        by_customer[f"{st['lane']}/{obj['spec']['customer']}"].append(span)
    return ({k: max_overlap(v) for k, v in by_lane.items()},
            {k: max_overlap(v) for k, v in by_customer.items()})


def assert_one_job_each(cluster: Cluster, namespace: str,
                        objs: dict[str, dict[str, Any]]) -> None:
    """Every admitted TieredJob has exactly one Job, owned by it; no other Jobs exist."""
    owners: dict[str, int] = defaultdict(int)
    for job in jobs(cluster, namespace):
        for ref in job["metadata"].get("ownerReferences") or ():
            owners[ref["uid"]] += 1
    admitted = {o["metadata"]["uid"] for o in objs.values() if (o.get("status") or {}).get(
        "jobName")}
    assert set(owners) == admitted
    assert all(n == 1 for n in owners.values()), {k: n for k, n in owners.items() if n > 1}
