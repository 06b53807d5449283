"""`tierq` (and `kubectl tierq`): customers, jobs, lanes, policy, sync-sites, simulate.

Every command takes `-o table|json|yaml`, `--namespace/-n`, `--kubeconfig` and `--context`
(the current kubeconfig by default). Errors are one line on stderr and exit code 1.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from tierq.api.policy import TierPolicySpec
from tierq.api.resources import CUSTOMER_TIER, TIERED_JOB
from tierq.api.tieredjob import Phase
from tierq.cli.kube import CliError, Kube
from tierq.cli.options import (
    ContextOption,
    KubeconfigOption,
    NamespaceOption,
    OutputOption,
    friendly,
)
from tierq.cli.output import Output, emit, fields, human_seconds
from tierq.cli.simulate import simulate_command
from tierq.cli.state import build_scheduler, format_time, object_key, parse_time, policy_from
from tierq.core.policy import CompiledPolicy, compile_policy

app = typer.Typer(
    name="tierq",
    help="Fair multi-tenant job scheduling on Kubernetes: customer tiers x duration classes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
customers_app = typer.Typer(help="Customers (CustomerTier): list, add, move, unpin.",
                            no_args_is_help=True)
jobs_app = typer.Typer(help="Jobs (TieredJob): submit, list, cancel, explain.",
                       no_args_is_help=True)
policy_app = typer.Typer(help="The TierPolicy.", no_args_is_help=True)
app.add_typer(customers_app, name="customers")
app.add_typer(jobs_app, name="jobs")
app.add_typer(policy_app, name="policy")

def _kube(namespace: str | None, kubeconfig: str | None, context: str | None) -> Kube:
    return Kube.connect(kubeconfig, context, namespace)


def _age(obj: dict[str, Any], now: float) -> str:
    created = parse_time(obj.get("metadata", {}).get("creationTimestamp"))
    return human_seconds(now - created) if created is not None else "-"


# ---- customers ----------------------------------------------------------------------------
@customers_app.command("list")
@friendly
def customers_list(output: OutputOption = Output.TABLE, namespace: NamespaceOption = None,
                   kubeconfig: KubeconfigOption = None, context: ContextOption = None) -> None:
    """List the customers of a namespace with their tier and work in flight."""
    kube = _kube(namespace, kubeconfig, context)
    items = sorted(kube.customers(kube.namespace), key=lambda o: o["metadata"]["name"])
    now = time.time()
    rows = []
    for obj in items:
        spec, status = obj.get("spec", {}), obj.get("status") or {}
        ready = next((c.get("status") for c in status.get("conditions", [])
                      if c.get("type") == "Ready"), None)
        rows.append([obj["metadata"]["name"], spec.get("siteId"), spec.get("recordVolume"),
                     status.get("tier"), status.get("assignedBy"), spec.get("tier"),
                     status.get("queued"), status.get("running"), ready, _age(obj, now)])
    emit(output, {"items": items},
         ["NAME", "SITE", "VOLUME", "TIER", "BY", "PIN", "QUEUED", "RUNNING", "READY", "AGE"],
         rows)


@customers_app.command("add")
@friendly
def customers_add(
    name: Annotated[str, typer.Argument(help="Name of the CustomerTier (a DNS label).")],
    site_id: Annotated[int, typer.Option("--site-id", help="The customer's Site id.")],
    volume: Annotated[int, typer.Option("--volume", help="Active user records.")] = 0,
    display_name: Annotated[str, typer.Option("--display-name")] = "",
    tier: Annotated[str | None, typer.Option("--tier", help="Pin to this tier.")] = None,
    output: OutputOption = Output.TABLE, namespace: NamespaceOption = None,
    kubeconfig: KubeconfigOption = None, context: ContextOption = None,
) -> None:
    """Add a customer (create a CustomerTier); its tier follows its volume unless pinned."""
    kube = _kube(namespace, kubeconfig, context)
    spec: dict[str, Any] = {"siteId": site_id, "recordVolume": volume}
    if display_name:
        spec["displayName"] = display_name
    if tier:
        spec["tier"] = tier
    created = kube.create(CUSTOMER_TIER, CUSTOMER_TIER.manifest({"name": name}, spec))
    _done(output, created, f"customertier/{name} created")


def _done(output: Output, obj: dict[str, Any], line: str) -> None:
    if output is Output.TABLE:
        sys.stdout.write(line + "\n")
    else:
        emit(output, obj)


@customers_app.command("move")
@friendly
def customers_move(
    customer: Annotated[str, typer.Argument(help="The CustomerTier to move.")],
    tier: Annotated[str, typer.Option("--tier", help="The tier to pin the customer to.")],
    output: OutputOption = Output.TABLE, namespace: NamespaceOption = None,
    kubeconfig: KubeconfigOption = None, context: ContextOption = None,
) -> None:
    """Pin a customer to a tier: merge patch {"spec":{"tier":<tier>}}, as kubectl would."""
    kube = _kube(namespace, kubeconfig, context)
    _check_tier(kube, tier)
    patched = kube.merge_patch(CUSTOMER_TIER, customer, {"spec": {"tier": tier}})
    _done(output, patched, f"customertier/{customer} pinned to tier {tier}")


def _check_tier(kube: Kube, tier: str) -> None:
    """Refuse a tier the policy does not have (the operator would hold the customer's jobs)."""
    policy_obj = kube.policy()
    if policy_obj is None:
        return
    policy, _ = policy_from(policy_obj)
    if tier not in policy.tier_names:
        raise CliError(f"tier {tier!r} is not in the TierPolicy "
                       f"(tiers: {', '.join(policy.tier_names)})")


@customers_app.command("unpin")
@friendly
def customers_unpin(
    customer: Annotated[str, typer.Argument(help="The CustomerTier to unpin.")],
    output: OutputOption = Output.TABLE, namespace: NamespaceOption = None,
    kubeconfig: KubeconfigOption = None, context: ContextOption = None,
) -> None:
    """Return a customer to the volume rule: merge patch {"spec":{"tier":null}}."""
    kube = _kube(namespace, kubeconfig, context)
    patched = kube.merge_patch(CUSTOMER_TIER, customer, {"spec": {"tier": None}})
    _done(output, patched, f"customertier/{customer} unpinned (tier follows its volume)")


# ---- jobs ---------------------------------------------------------------------------------
@jobs_app.command("submit")
@friendly
def jobs_submit(
    customer: Annotated[str, typer.Option("--customer", help="The CustomerTier it runs for.")],
    job_type: Annotated[str, typer.Option("--type", help="A job type, e.g. task_03.")],
    priority: Annotated[int, typer.Option("--priority", help="-1000..1000, higher first.")] = 0,
    suspend: Annotated[bool, typer.Option("--suspend", help="Hold it in its queue.")] = False,
    output: OutputOption = Output.TABLE, namespace: NamespaceOption = None,
    kubeconfig: KubeconfigOption = None, context: ContextOption = None,
) -> None:
    """Submit a job (create a TieredJob with a generated name)."""
    kube = _kube(namespace, kubeconfig, context)
    prefix = f"{customer}-{job_type}".lower().replace("_", "-")[:52].rstrip("-") + "-"
    spec: dict[str, Any] = {"customer": customer, "jobType": job_type}
    if priority:
        spec["priority"] = priority
    if suspend:
        spec["suspend"] = True
    created = kube.create(TIERED_JOB, TIERED_JOB.manifest({"generateName": prefix}, spec))
    _done(output, created, f"tieredjob/{created['metadata']['name']} submitted")


@jobs_app.command("list")
@friendly
def jobs_list(
    customer: Annotated[str | None, typer.Option("--customer", help="Only its jobs.")] = None,
    phase: Annotated[str | None, typer.Option("--phase", help="Only this phase.")] = None,
    output: OutputOption = Output.TABLE, namespace: NamespaceOption = None,
    kubeconfig: KubeconfigOption = None, context: ContextOption = None,
) -> None:
    """List jobs: where each one is, and why."""
    kube = _kube(namespace, kubeconfig, context)
    items = [o for o in kube.tiered_jobs(kube.namespace)
             if (customer is None or o.get("spec", {}).get("customer") == customer)
             and (phase is None or (o.get("status") or {}).get("phase") == phase)]
    items.sort(key=lambda o: (o["metadata"].get("creationTimestamp", ""), o["metadata"]["name"]))
    now = time.time()
    rows = []
    for obj in items:
        spec, status = obj.get("spec", {}), obj.get("status") or {}
        eta = parse_time(status.get("estimatedStartTime"))
        rows.append([obj["metadata"]["name"], spec.get("customer"), spec.get("jobType"),
                     status.get("lane"), status.get("phase"), status.get("reason"),
                     status.get("queuePosition"),
                     human_seconds(max(0.0, eta - now)) if eta else None, _age(obj, now)])
    emit(output, {"items": items},
         ["NAME", "CUSTOMER", "TYPE", "LANE", "PHASE", "REASON", "POS", "ETA IN", "AGE"], rows)


@jobs_app.command("cancel")
@friendly
def jobs_cancel(
    name: Annotated[str, typer.Argument(help="The TieredJob to cancel.")],
    output: OutputOption = Output.TABLE, namespace: NamespaceOption = None,
    kubeconfig: KubeconfigOption = None, context: ContextOption = None,
) -> None:
    """Cancel a job: delete its TieredJob (a running worker is stopped with it)."""
    kube = _kube(namespace, kubeconfig, context)
    kube.delete(TIERED_JOB, name)
    _done(output, {"name": name, "namespace": kube.namespace, "deleted": True},
          f"tieredjob/{name} cancelled")


def _live_scheduler(kube: Kube, now: float) -> tuple[Any, CompiledPolicy, bool]:
    """The core rebuilt from the cluster: every namespace when allowed, else this one."""
    policy, from_cluster = policy_from(kube.policy())
    try:
        jobs = kube.tiered_jobs(None)
        customers = kube.customers(None)
    except CliError:  # no cluster-wide list permission: this namespace only
        jobs = kube.tiered_jobs(kube.namespace)
        customers = kube.customers(kube.namespace)
    return build_scheduler(policy, customers, jobs, now), policy, from_cluster


@jobs_app.command("explain")
@friendly
def jobs_explain(
    name: Annotated[str, typer.Argument(help="The TieredJob to explain.")],
    output: OutputOption = Output.TABLE, namespace: NamespaceOption = None,
    kubeconfig: KubeconfigOption = None, context: ContextOption = None,
) -> None:
    """Why a job is where it is: its status, and for a waiting job the lane's live state."""
    kube = _kube(namespace, kubeconfig, context)
    obj = kube.get(TIERED_JOB, name)
    spec, status = obj.get("spec", {}), obj.get("status") or {}
    phase = status.get("phase")
    result: dict[str, Any] = {
        "name": name,
        "namespace": kube.namespace,
        "customer": spec.get("customer"),
        "jobType": spec.get("jobType"),
        "phase": phase,
        "lane": status.get("lane"),
        "borrowedFrom": status.get("borrowedFrom"),
        "position": status.get("queuePosition"),
        "eta": status.get("estimatedStartTime"),
        "reason": status.get("reason"),
        "message": status.get("message"),
    }
    if phase in (None, Phase.PENDING, Phase.QUEUED):
        now = time.time()
        scheduler, _, from_cluster = _live_scheduler(kube, now)
        live = scheduler.explain(object_key(obj), now)
        result["live"] = {
            "state": live.state,
            "reason": str(live.reason),
            "message": live.message,
            "lane": live.lane,
            "position": live.position,
            "eta": format_time(live.eta),
            "policy": "cluster" if from_cluster else "built-in default (no TierPolicy)",
        }
    if output is not Output.TABLE:
        emit(output, result)
        return
    shown = {k: v for k, v in result.items() if k != "live"}
    if "live" in result:
        live_view = result["live"]
        shown["now"] = f"{live_view['reason']}: {live_view['message']}"
        if live_view["eta"]:
            shown["live eta"] = live_view["eta"]
    fields(shown)


# ---- lanes and policy ---------------------------------------------------------------------
@app.command("lanes")
@friendly
def lanes(
    output: OutputOption = Output.TABLE, namespace: NamespaceOption = None,
    kubeconfig: KubeconfigOption = None, context: ContextOption = None,
) -> None:
    """One row per lane: pool, slots used / total, queued, oldest wait, borrowed, lent.

    Lanes are cluster-wide, so jobs of every namespace count (unless -n is given).
    """
    kube = _kube(namespace, kubeconfig, context)
    now = time.time()
    policy, from_cluster = policy_from(kube.policy())
    jobs = kube.tiered_jobs(namespace)
    customers = kube.customers(namespace)
    scheduler = build_scheduler(policy, customers, jobs, now)
    data: list[dict[str, Any]] = []
    for stats in scheduler.lane_stats():
        oldest = now - stats.oldest_queued_at if stats.oldest_queued_at is not None else None
        data.append({
            "lane": stats.lane, "pool": stats.node_pool, "used": stats.used,
            "slots": stats.max_running, "running": stats.running, "queued": stats.queued,
            "oldestWaitSeconds": round(oldest, 1) if oldest is not None else None,
            "borrowed": stats.borrowed, "lent": stats.lent,
        })
    emit(output, {"policy": "cluster" if from_cluster else "default", "lanes": data},
         ["LANE", "POOL", "SLOTS", "RUNNING", "QUEUED", "OLDEST WAIT", "BORROWED", "LENT"],
         [[d["lane"], d["pool"], f"{d['used']}/{d['slots']}", d["running"], d["queued"],
           human_seconds(d["oldestWaitSeconds"]), d["borrowed"], d["lent"]] for d in data],
         title=None if from_cluster else "no TierPolicy in the cluster: the built-in default")


def read_policy_file(path: Path) -> TierPolicySpec:
    """A TierPolicy object, or just its spec, from YAML or JSON."""
    data = yaml.safe_load(path.read_text())
    if isinstance(data, dict) and "spec" in data:
        data = data["spec"]
    return TierPolicySpec.model_validate(data)


def lane_table(policy: CompiledPolicy) -> tuple[list[str], list[list[Any]], list[dict[str, Any]]]:
    columns = ["LANE", "POOL", "MAX RUNNING", "PER CUSTOMER", "COHORT", "MAX LEND",
               "MAY BORROW", "CLASS BOUND", "DEADLINE"]
    data: list[dict[str, Any]] = [
        {
            "lane": lane.name, "pool": lane.node_pool.name, "maxRunning": lane.max_running,
            "maxRunningPerCustomer": lane.max_running_per_customer, "cohort": lane.cohort,
            "maxLend": lane.max_lend, "mayBorrow": lane.may_borrow,
            "classMaxSeconds": lane.class_max_seconds,
            "activeDeadlineSeconds": lane.active_deadline_seconds,
        }
        for lane in policy.lanes.values()
    ]
    rows = [[d["lane"], d["pool"], d["maxRunning"], d["maxRunningPerCustomer"], d["cohort"],
             d["maxLend"], d["mayBorrow"],
             human_seconds(d["classMaxSeconds"]) if d["classMaxSeconds"] else "unbounded",
             human_seconds(d["activeDeadlineSeconds"]) if d["activeDeadlineSeconds"] else None]
            for d in data]
    return columns, rows, data


@policy_app.command("show")
@friendly
def policy_show(
    file: Annotated[Path | None, typer.Option("--file", "-f", help="A TierPolicy file "
                                              "instead of the cluster's.")] = None,
    default: Annotated[bool, typer.Option("--default", help="The built-in default.")] = False,
    output: OutputOption = Output.TABLE, namespace: NamespaceOption = None,
    kubeconfig: KubeconfigOption = None, context: ContextOption = None,
) -> None:
    """The compiled lanes of a TierPolicy (a file, the cluster's, or the built-in default)."""
    if file is not None:
        policy, source = compile_policy(read_policy_file(file)), str(file)
    elif default:
        policy, source = policy_from(None)[0], "built-in default"
    else:
        policy_obj = _kube(namespace, kubeconfig, context).policy()
        if policy_obj is None:
            raise CliError("no TierPolicy 'default' in the cluster (use --default or --file)")
        policy, source = policy_from(policy_obj)[0], "cluster"
    columns, rows, data = lane_table(policy)
    emit(output, {"source": source, "totalSlots": policy.total_slots, "lanes": data},
         columns, rows, title=f"{source}: {len(rows)} lanes, {policy.total_slots} slots")


# ---- sync-sites ---------------------------------------------------------------------------
@app.command("sync-sites")
@friendly
def sync_sites_command(
    database_url: Annotated[str | None, typer.Option("--database-url", envvar="DATABASE_URL",
                                                     help="The application database.")] = None,
    prune: Annotated[bool, typer.Option("--prune", help="Delete customers whose site is "
                                        "gone.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan only.")] = False,
    output: OutputOption = Output.TABLE, namespace: NamespaceOption = None,
    kubeconfig: KubeconfigOption = None, context: ContextOption = None,
) -> None:
    """One CustomerTier per Site of the application database (the worker's sync)."""
    try:  # imported here: the worker's database driver is only needed by this command
        from tierq.worker.sync_sites import sync_sites
    except ImportError as error:
        raise CliError(f"sync-sites needs the worker extra (pip install tierq[worker]): "
                       f"{error}") from None
    kube = _kube(namespace, kubeconfig, context)
    result = sync_sites(namespace=kube.namespace, database_url=database_url, api=kube.objects,
                        prune=prune, dry_run=dry_run)
    changes = result.plan.describe()
    data = {"namespace": result.namespace, "sites": result.sites, "dryRun": result.dry_run,
            "changes": changes, "conflicts": result.plan.conflicts, "errors": result.errors}
    emit(output, data, ["CHANGE"], [[c] for c in changes] or [["(nothing to change)"]],
         title=f"{result.sites} sites -> namespace {result.namespace}"
         + (" (dry run)" if dry_run else ""))
    if result.errors:
        raise CliError(f"{len(result.errors)} writes failed: {result.errors[0]}")


app.command("simulate")(friendly(simulate_command))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
