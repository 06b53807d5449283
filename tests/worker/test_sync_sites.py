"""sync-sites: the pure diff, the one grouped query, the writes (fake API and a real one)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sqlalchemy import Engine, delete, event, update
from sqlalchemy.orm import Session

from tierq.worker.db import Site, UserRecords
from tierq.worker.seed import SiteSpec, seed
from tierq.worker.sync_sites import (
    LABEL_SITE_ID,
    SiteVolume,
    apply_plan,
    customer_tier_name,
    plan_sync,
    read_site_volumes,
    sync_sites,
)

NS = "tenants"


def ct(name: str, site_id: int, volume: int, display: str = "", *, label: bool = True,
       tier: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"siteId": site_id, "displayName": display or f"S{site_id}",
                            "recordVolume": volume}
    if tier:
        spec["tier"] = tier
    meta: dict[str, Any] = {"name": name, "namespace": NS}
    if label:
        meta["labels"] = {LABEL_SITE_ID: str(site_id)}
    return {"apiVersion": "tierq.dev/v1alpha1", "kind": "CustomerTier", "metadata": meta,
            "spec": spec}


# ---- the pure diff -------------------------------------------------------------------------


def test_creates_one_customertier_per_new_site() -> None:
    plan = plan_sync([SiteVolume(42, "Acme", 1200), SiteVolume(7, "Zed", 0)], [], namespace=NS)
    assert [c.name for c in plan.creates] == ["site-42", "site-7"]
    body = plan.creates[0].body
    assert body is not None
    assert body["metadata"] == {"name": "site-42", "namespace": NS,
                                "labels": {LABEL_SITE_ID: "42"}}
    assert body["spec"] == {"siteId": 42, "displayName": "Acme", "recordVolume": 1200}
    assert (body["apiVersion"], body["kind"]) == ("tierq.dev/v1alpha1", "CustomerTier")
    assert not plan.updates and not plan.deletes
    assert plan.describe()[0] == (
        "create CustomerTier site-42 (siteId=42, displayName='Acme', recordVolume=1200)"
    )


def test_nothing_when_nothing_changed() -> None:
    existing = [ct("site-42", 42, 1200, "Acme", tier="gold")]
    plan = plan_sync([SiteVolume(42, "Acme", 1200)], existing, namespace=NS, prune=True)
    assert not plan
    assert plan.unchanged == ["site-42"]


def test_updates_only_what_changed_and_never_the_pin() -> None:
    existing = [ct("site-42", 42, 1200, "Acme", tier="gold")]
    plan = plan_sync([SiteVolume(42, "Acme Corp", 60_000)], existing, namespace=NS)
    [change] = plan.updates
    assert change.body == {"spec": {"displayName": "Acme Corp", "recordVolume": 60_000}}
    assert "tier" not in change.body["spec"]
    assert change.describe() == (
        "update CustomerTier site-42 (displayName: 'Acme' -> 'Acme Corp', "
        "recordVolume: 1200 -> 60000)"
    )


def test_adopts_a_hand_made_customertier_by_site_id() -> None:
    existing = [ct("acme", 42, 10, "Acme", label=False, tier="enterprise")]
    plan = plan_sync([SiteVolume(42, "Acme", 10)], existing, namespace=NS, prune=True)
    [change] = plan.updates
    assert change.name == "acme"
    assert change.body == {"metadata": {"labels": {LABEL_SITE_ID: "42"}}}
    assert not plan.creates and not plan.deletes


def test_prunes_labelled_customertiers_whose_site_is_gone() -> None:
    existing = [
        ct("site-1", 1, 5),
        ct("site-2", 2, 5),  # site 2 is gone
        ct("hand-made", 3, 5, label=False),  # gone too, but not managed: kept
    ]
    sites = [SiteVolume(1, "S1", 5)]
    assert not plan_sync(sites, existing, namespace=NS).deletes  # no prune without asking
    plan = plan_sync(sites, existing, namespace=NS, prune=True)
    assert [(c.name, c.site_id) for c in plan.deletes] == [("site-2", 2)]
    assert plan.describe() == ["delete CustomerTier site-2 (site 2 is gone)"]


def test_a_name_taken_by_another_site_is_a_conflict_not_an_overwrite() -> None:
    existing = [ct("site-42", 41, 5)]  # someone named site 41's object "site-42"
    plan = plan_sync([SiteVolume(42, "Acme", 5), SiteVolume(41, "S41", 5)], existing,
                     namespace=NS)
    assert not plan.creates and not plan.updates
    assert plan.conflicts and "site-42" in plan.conflicts[0]


def test_names_are_dns_safe_and_overridable() -> None:
    assert customer_tier_name(42) == "site-42"
    assert customer_tier_name(42, "customer-{id}") == "customer-42"
    with pytest.raises(ValueError):
        customer_tier_name(42, "Site_{id}")
    plan = plan_sync([SiteVolume(5, "x", 1)], [], namespace=NS, name_template="c{id}")
    assert plan.creates[0].name == "c5"


# ---- the database side ---------------------------------------------------------------------


def test_one_grouped_query_counts_active_records(engine: Engine) -> None:
    result = seed(engine, [SiteSpec("A", 10, inactive_every=5), SiteSpec("B", 0),
                           SiteSpec("C", 3)])
    a, b, c = result.site_ids
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        volumes = read_site_volumes(engine)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert [s for s in statements if "website_userrecords" in s.lower()] == statements
    assert len(statements) == 1
    assert volumes == [SiteVolume(a, "A", 8), SiteVolume(b, "B", 0), SiteVolume(c, "C", 3)]


# ---- the writes, against a fake API --------------------------------------------------------


class FakeCustomObjects:
    """Just enough of kubernetes.client.CustomObjectsApi for sync_sites (one namespace)."""

    def __init__(self, objects: list[dict[str, Any]] | None = None) -> None:
        self.objects = {o["metadata"]["name"]: o for o in objects or []}
        self.writes: list[tuple[str, str]] = []

    def list_namespaced_custom_object(self, *_: Any, **__: Any) -> dict[str, Any]:
        return {"items": copy.deepcopy(list(self.objects.values())), "metadata": {}}

    def create_namespaced_custom_object(self, *args: Any, **_: Any) -> None:
        body = args[4]
        self.objects[body["metadata"]["name"]] = copy.deepcopy(body)
        self.writes.append(("create", body["metadata"]["name"]))

    def patch_namespaced_custom_object(self, *args: Any, **kwargs: Any) -> None:
        assert kwargs["_content_type"] == "application/merge-patch+json"
        name, patch = args[4], args[5]
        obj = self.objects[name]
        obj["spec"].update(patch.get("spec", {}))
        obj["metadata"].setdefault("labels", {}).update(
            patch.get("metadata", {}).get("labels", {})
        )
        self.writes.append(("update", name))

    def delete_namespaced_custom_object(self, *args: Any, **_: Any) -> None:
        del self.objects[args[4]]
        self.writes.append(("delete", args[4]))


def test_sync_sites_end_to_end_with_a_fake_api(sqlite_url: str) -> None:
    from tierq.worker.db import make_engine

    engine = make_engine(sqlite_url)
    ids = seed(engine, [SiteSpec("A", 10), SiteSpec("B", 20)]).site_ids
    api = FakeCustomObjects([ct("site-999", 999, 1)])

    dry = sync_sites(namespace=NS, engine=engine, api=api, prune=True, dry_run=True)
    assert len(dry.plan.creates) == 2 and len(dry.plan.deletes) == 1 and not api.writes

    first = sync_sites(namespace=NS, engine=engine, api=api, prune=True)
    assert first.ok and sorted(api.writes) == [
        ("create", f"site-{ids[0]}"), ("create", f"site-{ids[1]}"), ("delete", "site-999")
    ]
    api.writes.clear()
    again = sync_sites(namespace=NS, engine=engine, api=api, prune=True)
    assert not again.plan and not api.writes  # idempotent

    with Session(engine) as s:  # the application changes: volume drops, a site goes
        s.execute(update(UserRecords).where(UserRecords.site_id == ids[0])
                  .values(is_active=False))
        s.execute(update(Site).where(Site.id == ids[1]).values(name="B2"))
        s.commit()
    sync_sites(namespace=NS, engine=engine, api=api)
    assert sorted(api.writes) == [("update", f"site-{ids[0]}"), ("update", f"site-{ids[1]}")]
    assert api.objects[f"site-{ids[0]}"]["spec"]["recordVolume"] == 0
    assert api.objects[f"site-{ids[1]}"]["spec"]["displayName"] == "B2"
    engine.dispose()


def test_apply_plan_keeps_going_after_a_failure() -> None:
    class Failing(FakeCustomObjects):
        def create_namespaced_custom_object(self, *args: Any, **kwargs: Any) -> None:
            if args[4]["metadata"]["name"] == "site-1":
                raise RuntimeError("conflict")
            super().create_namespaced_custom_object(*args, **kwargs)

    api = Failing()
    plan = plan_sync([SiteVolume(1, "a", 1), SiteVolume(2, "b", 2)], [], namespace=NS)
    applied, errors = apply_plan(api, NS, plan)
    assert [c.name for c in applied] == ["site-2"]
    assert len(errors) == 1 and "site-1" in errors[0]


# ---- against a real API server (the cluster fixture) ---------------------------------------

@pytest.mark.cluster
@pytest.mark.usefixtures("restore_logging")
def test_sync_sites_against_a_real_api_server(
    request: pytest.FixtureRequest, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        cluster = request.getfixturevalue("cluster")
        request.getfixturevalue("crds")  # crds/*.yaml applied and Established
        namespace: str = request.getfixturevalue("namespace")
    except pytest.FixtureLookupError:
        pytest.skip("the cluster fixtures (tests/fixtures/cluster.py) are not available")
    from kubernetes import client, config

    from tierq.worker.db import make_engine

    kubeconfig = str(cluster.kubeconfig)
    engine = make_engine(sqlite_url)
    ids = seed(engine, [SiteSpec("Acme", 12), SiteSpec("Zed", 3)]).site_ids
    api: Any = client.CustomObjectsApi(
        config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    )

    # The command line, dry run: prints the plan, writes nothing.
    from tierq.worker.main import main

    assert main(["sync-sites", "--namespace", namespace, "--kubeconfig", kubeconfig,
                 "--database-url", sqlite_url, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"would create CustomerTier site-{ids[0]}" in out and "would create 2" in out
    assert not api.list_namespaced_custom_object("tierq.dev", "v1alpha1", namespace,
                                                 "customertiers")["items"]

    first = sync_sites(namespace=namespace, engine=engine, kubeconfig=kubeconfig, prune=True)
    assert first.ok, first.errors
    assert len(first.applied) == 2
    obj = api.get_namespaced_custom_object("tierq.dev", "v1alpha1", namespace, "customertiers",
                                           f"site-{ids[0]}")
    assert obj["spec"] == {"siteId": ids[0], "displayName": "Acme", "recordVolume": 12}
    assert obj["metadata"]["labels"][LABEL_SITE_ID] == str(ids[0])

    # A user pins the tier; the sync must keep the pin while it updates the volume.
    api.patch_namespaced_custom_object(
        "tierq.dev", "v1alpha1", namespace, "customertiers", f"site-{ids[0]}",
        {"spec": {"tier": "pinned-tier"}}, _content_type="application/merge-patch+json",
    )
    rv = obj["metadata"]["resourceVersion"]
    again = sync_sites(namespace=namespace, engine=engine, kubeconfig=kubeconfig, prune=True)
    assert again.ok and not again.plan and not again.applied  # nothing changed: no write

    with Session(engine) as s:
        s.execute(update(UserRecords).where(UserRecords.site_id == ids[0], UserRecords.id % 2 == 0)
                  .values(is_active=False))
        s.execute(delete(Site).where(Site.id == ids[1]))
        s.commit()
    third = sync_sites(namespace=namespace, engine=engine, kubeconfig=kubeconfig, prune=True)
    assert third.ok, third.errors
    assert [c.action for c in third.applied] == ["update", "delete"]
    obj = api.get_namespaced_custom_object("tierq.dev", "v1alpha1", namespace, "customertiers",
                                           f"site-{ids[0]}")
    assert obj["spec"]["recordVolume"] == 6 and obj["spec"]["tier"] == "pinned-tier"
    assert obj["metadata"]["resourceVersion"] != rv
    items = api.list_namespaced_custom_object("tierq.dev", "v1alpha1", namespace,
                                              "customertiers")["items"]
    assert [i["metadata"]["name"] for i in items] == [f"site-{ids[0]}"]
    engine.dispose()


@pytest.mark.cluster
def test_progress_patch_lands_in_the_tieredjob_status(request: pytest.FixtureRequest) -> None:
    """The worker's merge patch of status.progress, against the real CRD's status subresource."""
    try:
        cluster = request.getfixturevalue("cluster")
        request.getfixturevalue("crds")
        namespace: str = request.getfixturevalue("namespace")
    except pytest.FixtureLookupError:
        pytest.skip("the cluster fixtures (tests/fixtures/cluster.py) are not available")
    from kubernetes import client, config

    from tierq.worker.runner import ProgressUpdate, TieredJobStatusSink

    api: Any = client.CustomObjectsApi(
        config.new_client_from_config(config_file=str(cluster.kubeconfig))  # type: ignore[no-untyped-call]
    )
    api.create_namespaced_custom_object("tierq.dev", "v1alpha1", namespace, "tieredjobs", {
        "apiVersion": "tierq.dev/v1alpha1", "kind": "TieredJob",
        "metadata": {"name": "job-1"}, "spec": {"customer": "site-1", "jobType": "task_01"},
    })
    TieredJobStatusSink(api, "job-1", namespace)(ProgressUpdate(7, 10, 1.0))
    got = api.get_namespaced_custom_object("tierq.dev", "v1alpha1", namespace, "tieredjobs",
                                           "job-1")
    progress = got["status"]["progress"]
    assert progress["recordsDone"] == 7 and progress["recordsTotal"] == 10
    assert progress["updatedAt"].endswith("Z")
