"""The `tierq` CLI against a real API server (no operator needed for these commands).

What is checked is what the API server makes of the CLI's writes: the CustomerTier a
`customers add` creates, the merge patches of `move` / `unpin`, the generated name of a
`jobs submit`, the delete of `jobs cancel`, and one-line errors from real API errors
(a conflict, a CEL rule, a missing object).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from fixtures.cluster import Cluster, KubectlError
from tierq.cli.main import app

pytestmark = pytest.mark.cluster

runner = CliRunner()


@pytest.fixture
def tierq(cluster: Cluster, crds: list[str], namespace: str) -> Any:
    """Run a tierq command bound to the test cluster and namespace."""

    def invoke(*args: str) -> Any:
        return runner.invoke(app, [*args, "--kubeconfig", cluster.kubeconfig, "-n", namespace])

    return invoke


@pytest.fixture
def no_policy(cluster: Cluster) -> None:
    """No TierPolicy in the cluster (another suite may have left its test policy behind):
    these commands then fall back to the built-in default policy."""
    cluster.kubectl("patch", "tierpolicy", "default", "--type=merge",
                    "-p", '{"metadata":{"finalizers":null}}', check=False)
    cluster.kubectl("delete", "tierpolicy", "default", "--ignore-not-found", "--wait=true",
                    "--timeout=30s")


def _spec(cluster: Cluster, kind: str, name: str, namespace: str) -> dict[str, Any]:
    spec: dict[str, Any] = cluster.get(kind, name, "-n", namespace)["spec"]
    return spec


def test_customers_add_move_unpin_list(tierq: Any, cluster: Cluster, namespace: str) -> None:
    added = tierq("customers", "add", "acme", "--site-id", "42", "--volume", "1200",
                  "--display-name", "Acme Inc")
    assert added.exit_code == 0, added.stderr
    assert _spec(cluster, "customertiers", "acme", namespace) == {
        "siteId": 42, "recordVolume": 1200, "displayName": "Acme Inc"}
    moved = tierq("customers", "move", "acme", "--tier", "large")
    assert moved.exit_code == 0, moved.stderr
    assert _spec(cluster, "customertiers", "acme", namespace)["tier"] == "large"
    unpinned = tierq("customers", "unpin", "acme")
    assert unpinned.exit_code == 0, unpinned.stderr
    assert "tier" not in _spec(cluster, "customertiers", "acme", namespace)
    listed = json.loads(tierq("customers", "list", "-o", "json").stdout)
    assert [o["metadata"]["name"] for o in listed["items"]] == ["acme"]


def test_api_errors_are_one_line_and_exit_1(tierq: Any) -> None:
    assert tierq("customers", "add", "acme", "--site-id", "1").exit_code == 0
    duplicate = tierq("customers", "add", "acme", "--site-id", "1")
    assert duplicate.exit_code == 1
    assert "already exists" in duplicate.stderr and duplicate.stderr.count("\n") == 1
    missing = tierq("customers", "unpin", "ghost")
    assert missing.exit_code == 1 and "not found" in missing.stderr
    invalid = tierq("customers", "add", "Not_A_Name", "--site-id", "1")
    assert invalid.exit_code == 1 and invalid.stderr.startswith("error: ")
    assert "Traceback" not in invalid.stdout + invalid.stderr


def test_site_id_is_immutable_through_the_api(tierq: Any, cluster: Cluster,
                                             namespace: str) -> None:
    assert tierq("customers", "add", "acme", "--site-id", "1").exit_code == 0
    with pytest.raises(KubectlError, match="siteId is immutable"):
        cluster.kubectl("patch", "customertier", "acme", "-n", namespace, "--type", "merge",
                        "-p", '{"spec":{"siteId":2}}')


def test_jobs_submit_list_cancel(tierq: Any, cluster: Cluster, namespace: str,
                                 no_policy: None) -> None:
    assert tierq("customers", "add", "acme", "--site-id", "7", "--volume", "900").exit_code == 0
    submitted = tierq("jobs", "submit", "--customer", "acme", "--type", "task_03",
                      "--priority", "3", "--suspend", "-o", "json")
    assert submitted.exit_code == 0, submitted.stderr
    name = json.loads(submitted.stdout)["metadata"]["name"]
    assert name.startswith("acme-task-03-")
    spec = _spec(cluster, "tieredjobs", name, namespace)
    spec.pop("args", None)  # whether the schema defaults it is the CRD's business
    assert spec == {"customer": "acme", "jobType": "task_03", "priority": 3, "suspend": True}
    listed = json.loads(tierq("jobs", "list", "-o", "json").stdout)
    assert [o["metadata"]["name"] for o in listed["items"]] == [name]
    assert name in tierq("jobs", "list").stdout
    explained = tierq("jobs", "explain", name, "-o", "json")
    assert explained.exit_code == 0, explained.stderr
    assert json.loads(explained.stdout)["live"]["reason"] == "Suspended"
    cancelled = tierq("jobs", "cancel", name)
    assert cancelled.exit_code == 0, cancelled.stderr
    assert cluster.get("tieredjobs", "-n", namespace)["items"] == []


def test_lanes_and_policy_show_without_a_policy_use_the_default(tierq: Any,
                                                                no_policy: None) -> None:
    lanes = tierq("lanes", "-o", "json")
    assert lanes.exit_code == 0, lanes.stderr
    assert len(json.loads(lanes.stdout)["lanes"]) == 15
    shown = tierq("policy", "show", "--default", "-o", "yaml")
    assert shown.exit_code == 0 and "small.instant" in shown.stdout
