"""`tierq sync-sites`: one CustomerTier per Site, so volume changes re-tier customers.

Three steps, the middle one pure:

1. `read_site_volumes` - the Site table with each site's count of active records, in ONE
   grouped query;
2. `plan_sync` - desired (sites) vs existing (CustomerTier objects) -> creates, updates,
   deletes; no I/O, unit-tested without a cluster;
3. `apply_plan` - the writes, through the `kubernetes` sync client.

`sync_sites(...)` runs the three. The sync owns `spec.siteId`, `spec.displayName`,
`spec.recordVolume` and the label `tierq.dev/site-id`; it never touches anything else -
in particular not `spec.tier`, a user's pin. An existing CustomerTier is matched to its site
by `spec.siteId` (else the label), so a user may create it as `acme` instead of `site-42`;
the sync then adopts it (adds the label). Nothing is written when nothing changed; `prune`
deletes only labelled objects, so hand-made CustomerTiers without the label are safe.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Engine, and_, func, select
from sqlalchemy.orm import Session

from tierq.api import contract
from tierq.worker.db import Site, UserRecords, make_engine

log = logging.getLogger("tierq.worker.sync_sites")

KIND = "CustomerTier"
PLURAL = "customertiers"
LABEL_SITE_ID = "tierq.dev/site-id"
DEFAULT_NAME_TEMPLATE = "site-{id}"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class SiteVolume:
    site_id: int
    name: str
    active_records: int


def read_site_volumes(engine: Engine) -> list[SiteVolume]:
    """Every site with its number of active records (0 when none), in one grouped query."""
    active = and_(UserRecords.site_id == Site.id, UserRecords.is_active.is_(True))
    stmt = (
        select(Site.id, Site.name, func.count(UserRecords.id))
        .outerjoin(UserRecords, active)
        .group_by(Site.id, Site.name)
        .order_by(Site.id)
    )
    with Session(engine) as session:
        return [SiteVolume(int(i), str(n), int(c)) for i, n, c in session.execute(stmt)]


# ---- the pure part -------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    action: Literal["create", "update", "delete"]
    name: str
    site_id: int | None
    body: dict[str, Any] | None = None  # the object (create) or the merge patch (update)
    diff: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)  # field -> (old, new)

    def describe(self) -> str:
        if self.action == "create":
            spec = (self.body or {}).get("spec", {})
            fields = ", ".join(f"{k}={v!r}" for k, v in spec.items())
            return f"create {KIND} {self.name} ({fields})"
        if self.action == "update":
            fields = ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in self.diff.items())
            return f"update {KIND} {self.name} ({fields})"
        return f"delete {KIND} {self.name} (site {self.site_id} is gone)"


@dataclass
class Plan:
    creates: list[Change] = field(default_factory=list)
    updates: list[Change] = field(default_factory=list)
    deletes: list[Change] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # not synced; reported, never forced

    @property
    def changes(self) -> list[Change]:
        return [*self.creates, *self.updates, *self.deletes]

    def __bool__(self) -> bool:
        return bool(self.creates or self.updates or self.deletes)

    def describe(self) -> list[str]:
        return [c.describe() for c in self.changes]


def customer_tier_name(site_id: int, template: str = DEFAULT_NAME_TEMPLATE) -> str:
    name = template.format(id=site_id)
    if not _DNS_LABEL.match(name):
        raise ValueError(f"{name!r} (from template {template!r}) is not a DNS-1123 label")
    return name


def desired_spec(site: SiteVolume) -> dict[str, Any]:
    return {
        "siteId": site.site_id,
        "displayName": site.name,
        "recordVolume": site.active_records,
    }


def plan_sync(
    sites: Iterable[SiteVolume],
    existing: Iterable[Mapping[str, Any]],
    *,
    namespace: str,
    prune: bool = False,
    name_template: str = DEFAULT_NAME_TEMPLATE,
) -> Plan:
    """Compare the sites with the existing CustomerTier objects of the namespace."""
    plan = Plan()
    by_name: dict[str, Mapping[str, Any]] = {}
    by_site: dict[int, list[Mapping[str, Any]]] = {}
    for obj in existing:
        by_name[_name(obj)] = obj
        site_id = _site_id_of(obj)
        if site_id is not None:
            by_site.setdefault(site_id, []).append(obj)

    wanted_ids = set()
    for site in sites:
        wanted_ids.add(site.site_id)
        default_name = customer_tier_name(site.site_id, name_template)
        matches = sorted(by_site.get(site.site_id, []), key=_name)
        current = _pick(matches, default_name)
        if len(matches) > 1:
            log.warning("several CustomerTiers are for site %s: %s; syncing %s", site.site_id,
                        [_name(o) for o in matches], _name(current or {}))
        if current is None and default_name in by_name:
            plan.conflicts.append(
                f"{default_name} exists but is for site {_site_id_of(by_name[default_name])};"
                f" site {site.site_id} is not synced"
            )
            continue
        spec = desired_spec(site)
        label_value = str(site.site_id)
        if current is None:
            plan.creates.append(Change("create", default_name, site.site_id, body={
                "apiVersion": contract.API_VERSION,
                "kind": KIND,
                "metadata": {
                    "name": default_name,
                    "namespace": namespace,
                    "labels": {LABEL_SITE_ID: label_value},
                },
                "spec": spec,
            }))
            continue
        current_spec = current.get("spec") or {}
        diff = {k: (current_spec.get(k), v) for k, v in spec.items() if current_spec.get(k) != v}
        patch: dict[str, Any] = {}
        if diff:
            patch["spec"] = {k: new for k, (_, new) in diff.items()}
        current_label = _labels(current).get(LABEL_SITE_ID)
        if current_label != label_value:
            patch["metadata"] = {"labels": {LABEL_SITE_ID: label_value}}
            diff = {**diff, f"label {LABEL_SITE_ID}": (current_label, label_value)}
        if patch:
            plan.updates.append(Change("update", _name(current), site.site_id, body=patch,
                                       diff=diff))
        else:
            plan.unchanged.append(_name(current))

    if prune:  # only objects the sync manages (labelled) whose site is gone
        for site_id, objs in sorted(by_site.items()):
            if site_id in wanted_ids:
                continue
            for obj in objs:
                if LABEL_SITE_ID in _labels(obj):
                    plan.deletes.append(Change("delete", _name(obj), site_id))
    return plan


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def _site_id_of(obj: Mapping[str, Any]) -> int | None:
    """The site an object is for: spec.siteId (immutable, the truth), else the label."""
    spec_id = (obj.get("spec") or {}).get("siteId")
    if isinstance(spec_id, int) and not isinstance(spec_id, bool):
        return spec_id
    value = _labels(obj).get(LABEL_SITE_ID)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _pick(objs: Sequence[Mapping[str, Any]], preferred: str) -> Mapping[str, Any] | None:
    for obj in objs:
        if _name(obj) == preferred:
            return obj
    return objs[0] if objs else None


# ---- I/O -----------------------------------------------------------------------------------


@dataclass
class SyncResult:
    namespace: str
    plan: Plan
    sites: int
    dry_run: bool
    applied: list[Change] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def list_customer_tiers(api: Any, namespace: str, page: int = 500) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"limit": page}
        if token:
            kwargs["_continue"] = token
        resp = api.list_namespaced_custom_object(
            contract.GROUP, contract.VERSION, namespace, PLURAL, **kwargs
        )
        items.extend(resp.get("items", []))
        token = (resp.get("metadata") or {}).get("continue")
        if not token:
            return items


def apply_plan(api: Any, namespace: str, plan: Plan) -> tuple[list[Change], list[str]]:
    """Apply every change; one failure does not stop the others. -> (applied, errors)."""
    applied: list[Change] = []
    errors: list[str] = []
    for change in plan.changes:
        try:
            if change.action == "create":
                api.create_namespaced_custom_object(
                    contract.GROUP, contract.VERSION, namespace, PLURAL, change.body
                )
            elif change.action == "update":
                api.patch_namespaced_custom_object(
                    contract.GROUP, contract.VERSION, namespace, PLURAL, change.name,
                    change.body, _content_type="application/merge-patch+json",
                )
            else:
                api.delete_namespaced_custom_object(
                    contract.GROUP, contract.VERSION, namespace, PLURAL, change.name
                )
        except Exception as exc:
            reason = getattr(exc, "reason", None) or str(exc)
            errors.append(f"{change.describe()}: {getattr(exc, 'status', '')} {reason}".strip())
            log.error("sync-sites: %s failed: %s", change.describe(), reason)
        else:
            applied.append(change)
            log.info("sync-sites: %s", change.describe())
    return applied, errors


def custom_objects_api(kubeconfig: str | None = None, context: str | None = None) -> Any:
    """A CustomObjectsApi from `kubeconfig`, else in-cluster config, else the default one."""
    from kubernetes import client, config

    if kubeconfig:
        return client.CustomObjectsApi(
            config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, context=context
            )
        )
    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
        return client.CustomObjectsApi()
    except config.ConfigException:
        return client.CustomObjectsApi(
            config.new_client_from_config(context=context)  # type: ignore[no-untyped-call]
        )


def sync_sites(
    *,
    namespace: str,
    database_url: str | None = None,
    engine: Engine | None = None,
    kubeconfig: str | None = None,
    context: str | None = None,
    api: Any | None = None,
    prune: bool = False,
    dry_run: bool = False,
    name_template: str = DEFAULT_NAME_TEMPLATE,
) -> SyncResult:
    """Make the namespace's CustomerTiers match the Site table.

    `engine` (or `database_url`, else `$DATABASE_URL`) is the application database; `api`
    (a `kubernetes.client.CustomObjectsApi`) defaults to one from `kubeconfig` / in-cluster
    config. With `dry_run`, the plan is computed and returned, nothing is written.
    """
    own_engine = engine is None
    engine = engine if engine is not None else make_engine(database_url)
    try:
        sites = read_site_volumes(engine)
    finally:
        if own_engine:
            engine.dispose()
    api = api if api is not None else custom_objects_api(kubeconfig, context)
    existing = list_customer_tiers(api, namespace)
    plan = plan_sync(sites, existing, namespace=namespace, prune=prune,
                     name_template=name_template)
    result = SyncResult(namespace=namespace, plan=plan, sites=len(sites), dry_run=dry_run)
    if not dry_run and plan:
        result.applied, result.errors = apply_plan(api, namespace, plan)
    return result
