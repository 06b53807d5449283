"""The cluster commands against an in-memory stand-in of the custom objects API.

The same commands run against a real API server in tests/cluster/test_cli.py; here they run
in milliseconds, and the cases a live operator would be needed for (a queued job behind a
full lane, running jobs) are written as statuses directly.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kubernetes.client.exceptions import ApiException
from typer.testing import CliRunner

from tierq.api.defaults import LANE_SLOTS, default_policy_spec
from tierq.cli import kube as kube_module
from tierq.cli.kube import Kube
from tierq.cli.main import app

NS = "shop"


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """RFC 7386 merge patch: null deletes a key."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


class FakeObjects:
    """What the CLI calls on kubernetes.client.CustomObjectsApi, kept in a dict."""

    def __init__(self) -> None:
        self.store: dict[tuple[str, str, str], dict[str, Any]] = {}  # (plural, ns, name)
        self.patches: list[dict[str, Any]] = []
        self._names = itertools.count(1)

    def put(self, plural: str, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        meta.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
        self.store[(plural, meta.get("namespace", ""), meta["name"])] = obj

    @staticmethod
    def _missing(name: str) -> ApiException:
        error = ApiException(status=404, reason="Not Found")
        error.body = json.dumps({"message": f'"{name}" not found'})
        return error

    def list_namespaced_custom_object(self, group: str, version: str, namespace: str,
                                      plural: str, **_: Any) -> dict[str, Any]:
        return {"items": [copy.deepcopy(o) for (p, ns, _n), o in self.store.items()
                          if p == plural and ns == namespace], "metadata": {}}

    def list_cluster_custom_object(self, group: str, version: str, plural: str,
                                   **_: Any) -> dict[str, Any]:
        return {"items": [copy.deepcopy(o) for (p, _ns, _n), o in self.store.items()
                          if p == plural], "metadata": {}}

    def get_namespaced_custom_object(self, group: str, version: str, namespace: str,
                                     plural: str, name: str) -> dict[str, Any]:
        obj = self.store.get((plural, namespace, name))
        if obj is None:
            raise self._missing(name)
        return copy.deepcopy(obj)

    def get_cluster_custom_object(self, group: str, version: str, plural: str,
                                  name: str) -> dict[str, Any]:
        obj = self.store.get((plural, "", name))
        if obj is None:
            raise self._missing(name)
        return copy.deepcopy(obj)

    def create_namespaced_custom_object(self, group: str, version: str, namespace: str,
                                        plural: str, body: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(body)
        meta = obj["metadata"]
        if "generateName" in meta:
            meta["name"] = f"{meta.pop('generateName')}{next(self._names):05d}"
        if (plural, namespace, meta["name"]) in self.store:
            error = ApiException(status=409, reason="Conflict")
            error.body = json.dumps({"message": f'{plural} "{meta["name"]}" already exists'})
            raise error
        meta["namespace"] = namespace
        self.put(plural, obj)
        return copy.deepcopy(obj)

    def patch_namespaced_custom_object(self, group: str, version: str, namespace: str,
                                       plural: str, name: str, body: dict[str, Any],
                                       **kwargs: Any) -> dict[str, Any]:
        assert kwargs.get("_content_type") == "application/merge-patch+json"
        obj = self.store.get((plural, namespace, name))
        if obj is None:
            raise self._missing(name)
        self.patches.append(body)
        _merge(obj, body)
        return copy.deepcopy(obj)

    def delete_namespaced_custom_object(self, group: str, version: str, namespace: str,
                                        plural: str, name: str) -> dict[str, Any]:
        if self.store.pop((plural, namespace, name), None) is None:
            raise self._missing(name)
        return {}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeObjects]:
    objects = FakeObjects()

    def connect(cls: type[Kube], kubeconfig: str | None, context: str | None,
                namespace: str | None) -> Kube:
        return Kube(objects, namespace or NS)

    monkeypatch.setattr(kube_module.Kube, "connect", classmethod(connect))
    yield objects


runner = CliRunner()


def tierq(*args: str) -> Any:
    return runner.invoke(app, list(args))


def _policy(fake: FakeObjects) -> None:
    fake.put("tierpolicies", {"metadata": {"name": "default"},
                              "spec": default_policy_spec().to_wire()})


def _customer(fake: FakeObjects, name: str, site_id: int, volume: int) -> None:
    fake.put("customertiers", {"metadata": {"name": name, "namespace": NS},
                               "spec": {"siteId": site_id, "recordVolume": volume}})


def _job(fake: FakeObjects, name: str, customer: str, job_type: str,
         status: dict[str, Any] | None = None, **spec: Any) -> None:
    fake.put("tieredjobs", {"metadata": {"name": name, "namespace": NS},
                            "spec": {"customer": customer, "jobType": job_type, **spec},
                            "status": status or {}})


def test_customers_add_move_unpin_list(fake: FakeObjects) -> None:
    _policy(fake)
    result = tierq("customers", "add", "acme", "--site-id", "7", "--volume", "1200")
    assert result.exit_code == 0, result.output
    assert "customertier/acme created" in result.output
    assert fake.store[("customertiers", NS, "acme")]["spec"] == {"siteId": 7,
                                                                 "recordVolume": 1200}
    assert tierq("customers", "move", "acme", "--tier", "large").exit_code == 0
    assert fake.patches[-1] == {"spec": {"tier": "large"}}
    assert fake.store[("customertiers", NS, "acme")]["spec"]["tier"] == "large"
    assert tierq("customers", "unpin", "acme").exit_code == 0
    assert fake.patches[-1] == {"spec": {"tier": None}}
    assert "tier" not in fake.store[("customertiers", NS, "acme")]["spec"]
    listed = json.loads(tierq("customers", "list", "-o", "json").output)
    assert [o["metadata"]["name"] for o in listed["items"]] == ["acme"]
    table = tierq("customers", "list").output
    assert "acme" in table and "1200" in table


def test_move_to_a_tier_the_policy_does_not_have_is_one_line_and_exit_1(
        fake: FakeObjects) -> None:
    _policy(fake)
    _customer(fake, "acme", 1, 100)
    result = tierq("customers", "move", "acme", "--tier", "huge")
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0
    assert "tier 'huge' is not in the TierPolicy" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_api_errors_are_one_line(fake: FakeObjects) -> None:
    result = tierq("customers", "move", "ghost", "--tier", "large")
    assert result.exit_code == 1
    assert result.stderr == 'error: patch CustomerTier ghost: "ghost" not found\n'
    _customer(fake, "acme", 1, 100)
    result = tierq("customers", "add", "acme", "--site-id", "1")
    assert result.exit_code == 1
    assert "already exists" in result.stderr


def test_jobs_submit_list_cancel(fake: FakeObjects) -> None:
    _customer(fake, "acme", 1, 100)
    result = tierq("jobs", "submit", "--customer", "acme", "--type", "task_03",
                   "--priority", "5", "--suspend", "-o", "yaml")
    assert result.exit_code == 0, result.output
    created = yaml.safe_load(result.output)
    name = created["metadata"]["name"]
    assert name.startswith("acme-task-03-")
    assert created["spec"] == {"customer": "acme", "jobType": "task_03", "priority": 5,
                               "suspend": True}
    listed = tierq("jobs", "list")
    assert name in listed.output and "task_03" in listed.output
    assert tierq("jobs", "list", "--customer", "other", "-o", "json").output.count(name) == 0
    assert tierq("jobs", "cancel", name).exit_code == 0
    assert ("tieredjobs", NS, name) not in fake.store
    again = tierq("jobs", "cancel", name)
    assert again.exit_code == 1 and "not found" in again.stderr


def test_explain_a_job_behind_a_full_lane(fake: FakeObjects) -> None:
    # Fill small.instant, and every lane of its cohort so that nothing is idle to borrow.
    _policy(fake)
    _customer(fake, "acme", 1, 1000)  # small; task_01 = 1 s: instant
    running = {"phase": "Running", "lane": "small.instant", "estimatedSeconds": 1.0,
               "startTime": "2026-01-01T00:00:00Z"}
    for lane in ("small.instant", "small.short", "medium.instant", "medium.short",
                 "large.instant", "large.short"):
        tier, cls = lane.split(".")
        for i in range(LANE_SLOTS[tier][cls]):
            _job(fake, f"{lane.replace('.', '-')}-{i}", "acme", "task_01",
                 status={**running, "lane": lane})
    _job(fake, "waiting", "acme", "task_01",
         status={"phase": "Queued", "lane": "small.instant", "reason": "LaneFull",
                 "queuedAt": "2026-01-01T00:00:01Z", "queuePosition": 1})
    result = tierq("jobs", "explain", "waiting", "-o", "json")
    assert result.exit_code == 0, result.output + result.stderr
    explained = json.loads(result.output)
    assert explained["phase"] == "Queued"
    assert explained["reason"] == "LaneFull"  # what the operator wrote
    assert explained["live"]["reason"] == "LaneFull"  # what the core says now
    slots = LANE_SLOTS["small"]["instant"]
    assert f"{slots} of {slots} slots used" in explained["live"]["message"]
    assert explained["live"]["position"] == 1
    table = tierq("jobs", "explain", "waiting").output
    assert "LaneFull" in table


def test_explain_unknown_customer_and_suspended(fake: FakeObjects) -> None:
    _job(fake, "orphan", "nobody", "task_01")
    explained = json.loads(tierq("jobs", "explain", "orphan", "-o", "json").output)
    assert explained["live"]["reason"] == "CustomerUnknown"
    assert "built-in default" in explained["live"]["policy"]
    _customer(fake, "acme", 1, 1000)
    _job(fake, "held", "acme", "task_01", suspend=True)
    explained = json.loads(tierq("jobs", "explain", "held", "-o", "json").output)
    assert explained["live"]["reason"] == "Suspended"


def test_lanes_counts_used_queued_and_borrowed(fake: FakeObjects) -> None:
    _policy(fake)
    _customer(fake, "acme", 1, 1000)
    _job(fake, "a", "acme", "task_01",
         status={"phase": "Running", "lane": "small.instant", "estimatedSeconds": 1.0,
                 "borrowedFrom": "medium.short", "startTime": "2026-01-01T00:00:00Z"})
    _job(fake, "b", "acme", "task_05", status={"phase": "Queued"})  # 10,000 s: long
    _job(fake, "c", "acme", "task_05", suspend=True)
    data = json.loads(tierq("lanes", "-o", "json").output)
    lanes = {lane["lane"]: lane for lane in data["lanes"]}
    assert lanes["small.instant"]["borrowed"] == 1
    assert lanes["medium.short"]["used"] == 1 and lanes["medium.short"]["lent"] == 1
    # task_05 for 1,000 records is 10,000 s: small.long. `lanes` counts, it never admits.
    assert lanes["small.long"]["queued"] == 1
    assert tierq("lanes").exit_code == 0


def test_policy_show_default_file_and_cluster(fake: FakeObjects, tmp_path: Any) -> None:
    shown = json.loads(tierq("policy", "show", "--default", "-o", "json").output)
    assert len(shown["lanes"]) == 15
    assert shown["totalSlots"] == sum(lane["maxRunning"] for lane in shown["lanes"])
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "tierq.dev/v1alpha1", "kind": "TierPolicy",
                                    "spec": default_policy_spec().to_wire()}))
    assert tierq("policy", "show", "-f", str(path)).exit_code == 0
    missing = tierq("policy", "show")
    assert missing.exit_code == 1 and "no TierPolicy" in missing.stderr
    _policy(fake)
    assert "small.instant" in tierq("policy", "show").output
    path.write_text("spec: {tiers: []}\n")
    bad = tierq("policy", "show", "-f", str(path))
    assert bad.exit_code == 1 and bad.stderr.startswith("error: ")
    assert bad.stderr.count("\n") == 1


def test_sync_sites_delegates_to_the_worker(fake: FakeObjects,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from tierq.worker import sync_sites as worker_sync

    calls: list[dict[str, Any]] = []

    def stub(**kwargs: Any) -> Any:
        calls.append(kwargs)
        plan = worker_sync.Plan(creates=[worker_sync.Change(
            "create", "site-1", 1, {"spec": {"siteId": 1, "recordVolume": 10}})])
        return worker_sync.SyncResult(namespace=kwargs["namespace"], plan=plan, sites=1,
                                      dry_run=kwargs["dry_run"])

    monkeypatch.setattr(worker_sync, "sync_sites", stub)
    result = tierq("sync-sites", "--database-url", "postgresql://db/app", "--dry-run",
                   "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert calls[0]["namespace"] == NS and calls[0]["api"] is fake
    assert calls[0]["database_url"] == "postgresql://db/app" and calls[0]["dry_run"] is True
    data = json.loads(result.stdout)
    assert data["changes"] == ["create CustomerTier site-1 (siteId=1, recordVolume=10)"]
