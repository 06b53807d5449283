"""The API server itself rejects bad tierq objects, naming the field (schema and CEL rules).

Policies are checked with a server-side dry run, so the cluster's TierPolicy is untouched.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from fixtures.cluster import Cluster
from tierq.api.defaults import default_policy_spec

pytestmark = pytest.mark.cluster

Mutation = Callable[[dict[str, Any]], None]


def policy(spec: dict[str, Any], name: str = "default") -> dict[str, Any]:
    return {"apiVersion": "tierq.dev/v1alpha1", "kind": "TierPolicy",
            "metadata": {"name": name}, "spec": spec}


def dry_run(cluster: Cluster, obj: dict[str, Any], namespace: str | None = None) -> Any:
    """Validate `obj` on the API server without storing it. `apply`, not `create`: the
    cluster may already hold a TierPolicy `default` (the operator's, or another suite's)."""
    ns = ["-n", namespace] if namespace else []
    return cluster.kubectl("apply", *ns, "--dry-run=server", "-f", "-",
                           input=yaml.safe_dump(obj), check=False)


def test_the_default_policy_is_accepted(cluster: Cluster, crds: list[str]) -> None:
    proc = dry_run(cluster, policy(default_policy_spec().to_wire()))
    assert proc.returncode == 0, proc.stderr


def set_(path: str, value: Any) -> Mutation:
    def mutate(spec: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = spec
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value
    return mutate


BAD_POLICIES: dict[str, tuple[Mutation, str]] = {
    "overlapping bands": (set_("tiers.2.minRecords", 10_000), "spec.tiers"),
    "first band not at zero": (set_("tiers.0.minRecords", 5), "spec.tiers"),
    "unbounded class not last": (
        lambda s: s["durationClasses"][1].pop("maxSeconds"), "spec.durationClasses"),
    "descending classes": (set_("durationClasses.1.maxSeconds", 5), "spec.durationClasses"),
    "unknown tier in a lane": (
        lambda s: s["lanes"]["overrides"].append({"tier": "huge", "maxRunning": 1}),
        "spec.lanes.overrides"),
    "unknown pool in a lane": (
        lambda s: s["lanes"]["overrides"].append({"durationClass": "long", "nodePool": "gpu"}),
        "spec.lanes"),
    "negative maxRunning": (set_("lanes.defaults.maxRunning", -1),
                            "spec.lanes.defaults.maxRunning"),
    "job type with two estimates": (set_("jobTypes.0.expectedSeconds", 5), "spec.jobTypes[0]"),
    "duplicate tier names": (set_("tiers.1.name", "small"), "spec.tiers[1]"),
}


@pytest.mark.parametrize("case", sorted(BAD_POLICIES))
def test_bad_policies_are_rejected_naming_the_field(cluster: Cluster, crds: list[str],
                                                    case: str) -> None:
    mutate, field = BAD_POLICIES[case]
    spec = copy.deepcopy(default_policy_spec().to_wire())
    mutate(spec)
    proc = dry_run(cluster, policy(spec))
    assert proc.returncode != 0, f"{case}: accepted"
    assert field in proc.stderr, proc.stderr


def test_the_policy_must_be_named_default(cluster: Cluster, crds: list[str]) -> None:
    proc = dry_run(cluster, policy(default_policy_spec().to_wire(), name="other"))
    assert proc.returncode != 0 and "must be named 'default'" in proc.stderr, proc.stderr


def test_tieredjob_fields(cluster: Cluster, crds: list[str], namespace: str) -> None:
    def job(**spec: Any) -> dict[str, Any]:
        return {"apiVersion": "tierq.dev/v1alpha1", "kind": "TieredJob",
                "metadata": {"name": "j"}, "spec": spec}

    assert dry_run(cluster, job(customer="acme", jobType="task_01"), namespace).returncode == 0
    bad = {
        "spec.priority": job(customer="acme", jobType="task_01", priority=5000),
        "spec.jobType": job(customer="acme"),
        "spec.customer": job(jobType="task_01"),
    }
    for field, obj in bad.items():
        proc = dry_run(cluster, obj, namespace)
        assert proc.returncode != 0 and field in proc.stderr, (field, proc.stderr)
    cluster.create(job(customer="acme", jobType="task_01"), namespace=namespace)
    proc = cluster.kubectl("-n", namespace, "patch", "tieredjob", "j", "--type=merge",
                           "-p", '{"spec": {"jobType": "task_05"}}', check=False)
    assert proc.returncode != 0 and "immutable" in proc.stderr, proc.stderr
    cluster.kubectl("-n", namespace, "patch", "tieredjob", "j", "--type=merge",
                    "-p", '{"spec": {"suspend": true}}')
