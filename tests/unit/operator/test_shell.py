"""The shell (state.py) against an in-memory API: decisions become the right writes."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tierq.api.defaults import default_policy_spec
from tierq.operator.kube import ApiException
from tierq.operator.settings import Settings
from tierq.operator.state import Shell

NS = "acme"
TJ_PATH = f"/apis/tierq.dev/v1alpha1/namespaces/{NS}/tieredjobs"


def policy(max_running: int = 1) -> dict[str, Any]:
    spec = default_policy_spec().to_wire()
    spec["lanes"]["overrides"].append(
        {"tier": "small", "durationClass": "instant", "maxRunning": max_running})
    spec["borrowing"] = {"maxBorrowerClassSeconds": 0}  # caps exact: no idle slot is lent
    return {"apiVersion": "tierq.dev/v1alpha1", "kind": "TierPolicy",
            "metadata": {"name": "default", "uid": "p", "generation": 1}, "spec": spec}


def customer(name: str = "c1", site: int = 1) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": NS, "uid": f"u-{name}", "generation": 1,
                         "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"siteId": site, "recordVolume": 500}}


def tieredjob(name: str, job_type: str = "task_01", cust: str = "c1") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": NS, "uid": f"u-{name}", "generation": 1,
                         "creationTimestamp": f"2026-01-01T00:00:0{len(name) % 10}Z"},
            "spec": {"customer": cust, "jobType": job_type}}


class FakeKube:
    """Paths -> objects; every write recorded."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.writes: list[tuple[str, str, dict[str, Any]]] = []
        self.conflict_on_create = False

    async def get(self, path: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.objects.get(path))

    async def list_all(self, path: str, selector: str | None = None
                       ) -> AsyncIterator[dict[str, Any]]:
        for key, obj in list(self.objects.items()):
            if key.rsplit("/", 1)[0] == path:
                yield copy.deepcopy(obj)

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.writes.append(("create", path, body))
        key = f"{path}/{body['metadata']['name']}"
        if key in self.objects or self.conflict_on_create:
            raise ApiException(status=409, reason="AlreadyExists")
        self.objects[key] = copy.deepcopy(body)
        return body

    async def merge_patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.writes.append(("patch", path, body))
        return body

    async def delete(self, path: str, propagation: str = "Background") -> None:
        self.writes.append(("delete", path, {}))
        self.objects.pop(path, None)

    def statuses(self, name: str) -> list[dict[str, Any]]:
        return [b["status"] for op, p, b in self.writes
                if op == "patch" and p == f"{TJ_PATH}/{name}/status"]

    def jobs(self) -> list[dict[str, Any]]:
        return [b for op, p, b in self.writes if op == "create" and "/jobs" in p]


def shell_with(kube: FakeKube, *objs: tuple[str, dict[str, Any]]) -> Shell:
    for path, obj in objs:
        kube.objects[path] = obj
    return Shell(kube, Settings(post_events=False), (NS,))  # type: ignore[arg-type]


def put(kube: FakeKube, *tjs: dict[str, Any]) -> None:
    for obj in tjs:
        kube.objects[f"{TJ_PATH}/{obj['metadata']['name']}"] = obj


@pytest.fixture
def kube() -> FakeKube:
    k = FakeKube()
    k.objects["/apis/tierq.dev/v1alpha1/tierpolicies/default"] = policy()
    k.objects[f"/apis/tierq.dev/v1alpha1/namespaces/{NS}/customertiers/c1"] = customer()
    return k


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_admits_up_to_the_cap_and_queues_the_rest(kube: FakeKube) -> None:
    put(kube, tieredjob("a"), tieredjob("bb"))
    shell = shell_with(kube)

    async def go() -> None:
        await shell.activate()
        await shell.step()

    run(go())
    (job,) = kube.jobs()
    assert job["metadata"]["name"] == "tj-a"
    assert kube.statuses("a")[-1]["phase"] == "Running"
    queued = kube.statuses("bb")[-1]
    assert queued["phase"] == "Queued" and queued["lane"] == "small.instant"
    assert queued["queuePosition"] == 1 and queued["reason"] == "LaneFull"
    labels = [b for op, p, b in kube.writes if p == f"{TJ_PATH}/bb"]
    assert labels[0]["metadata"]["labels"]["tierq.dev/tier"] == "small"


def test_a_finished_job_frees_its_slot_at_once(kube: FakeKube) -> None:
    put(kube, tieredjob("a"), tieredjob("bb"))
    shell = shell_with(kube)

    async def go() -> None:
        await shell.activate()
        await shell.step()
        job = kube.jobs()[0]
        job["status"] = {"succeeded": 1, "startTime": "2026-01-01T00:01:00Z",
                         "completionTime": "2026-01-01T00:01:02Z",
                         "conditions": [{"type": "Complete", "status": "True"}]}
        await shell.on_job("MODIFIED", job)
        await shell.step()

    run(go())
    assert kube.statuses("a")[-1]["phase"] == "Succeeded"
    assert [j["metadata"]["name"] for j in kube.jobs()] == ["tj-a", "tj-bb"]
    assert kube.statuses("bb")[-1]["phase"] == "Running"


def test_restart_adopts_existing_jobs_and_creates_none_twice(kube: FakeKube) -> None:
    put(kube, tieredjob("a"), tieredjob("bb"))
    first = shell_with(kube)

    async def go() -> None:
        await first.activate()
        await first.step()
        kube.writes.clear()
        second = Shell(kube, Settings(post_events=False), (NS,))  # type: ignore[arg-type]
        await second.activate()
        await second.step()

    run(go())
    assert kube.jobs() == []  # tj-a exists and holds the only slot; bb keeps waiting
    assert kube.statuses("bb")[-1]["phase"] == "Queued"


def test_conflict_with_our_own_job_counts_as_created(kube: FakeKube) -> None:
    put(kube, tieredjob("a"))
    shell = shell_with(kube)
    kube.objects[f"/apis/batch/v1/namespaces/{NS}/jobs/tj-a"] = {
        "metadata": {"name": "tj-a", "ownerReferences": [{"kind": "TieredJob", "uid": "u-a"}]}}
    kube.conflict_on_create = True

    async def go() -> None:
        shell.policy_present = True
        await shell.activate()
        await shell.step()

    run(go())
    assert kube.statuses("a")[-1]["phase"] == "Running"


def test_unknown_customer_and_unknown_job_type(kube: FakeKube) -> None:
    put(kube, tieredjob("x", cust="nobody"), tieredjob("y", job_type="task_99"))
    shell = shell_with(kube)

    async def go() -> None:
        await shell.activate()
        await shell.step()

    run(go())
    pending = kube.statuses("x")[-1]
    assert pending["phase"] == "Pending" and pending["reason"] == "CustomerUnknown"
    failed = kube.statuses("y")[-1]
    assert failed["phase"] == "Failed" and failed["reason"] == "UnknownJobType"
    assert kube.jobs() == []


def test_no_policy_means_pending(kube: FakeKube) -> None:
    del kube.objects["/apis/tierq.dev/v1alpha1/tierpolicies/default"]
    put(kube, tieredjob("a"))
    shell = shell_with(kube)

    async def go() -> None:
        await shell.activate()
        await shell.step()

    run(go())
    assert kube.statuses("a")[-1]["reason"] == "NoPolicy"


def test_invalid_policy_keeps_the_last_good_one(kube: FakeKube) -> None:
    put(kube, tieredjob("a"), tieredjob("bb"))
    shell = shell_with(kube)
    bad = policy()
    bad["metadata"]["generation"] = 2
    bad["spec"]["tiers"][1]["minRecords"] = 0  # not ascending

    async def go() -> None:
        await shell.activate()
        await shell.step()
        await shell.on_policy("MODIFIED", bad)
        await shell.step()

    run(go())
    policy_writes = [b["status"] for op, p, b in kube.writes if p.endswith("default/status")]
    ready = policy_writes[-1]["conditions"][-1]
    assert ready["status"] == "False" and ready["reason"] == "InvalidPolicy"
    assert "spec.tiers[1].minRecords" in ready["message"]
    assert policy_writes[-1]["activeGeneration"] == 1
    assert shell.scheduler is not None


def test_deleting_a_running_tieredjob_deletes_its_job(kube: FakeKube) -> None:
    put(kube, tieredjob("a"), tieredjob("bb"))
    shell = shell_with(kube)

    async def go() -> None:
        await shell.activate()
        await shell.step()
        await shell.on_tieredjob("DELETED", tieredjob("a"))
        await shell.step()

    run(go())
    assert ("delete", f"/apis/batch/v1/namespaces/{NS}/jobs/tj-a", {}) in kube.writes
    assert kube.statuses("bb")[-1]["phase"] == "Running"


def test_a_started_pod_is_written_on_the_next_refresh_only(kube: FakeKube) -> None:
    put(kube, tieredjob("a"))
    shell = shell_with(kube)

    async def go() -> tuple[int, int]:
        await shell.activate()
        await shell.step()
        job = kube.jobs()[0]
        job["status"] = {"active": 1, "startTime": "2026-01-01T00:01:00Z"}
        await shell.on_job("MODIFIED", job)
        await shell.step()
        before = len(kube.statuses("a"))
        shell.request_refresh()
        await shell.step()
        return before, len(kube.statuses("a"))

    before, after = run(go())
    assert after == before + 1
    assert kube.statuses("a")[-1]["reason"] == "Started"
