"""`tierq simulate`: the scheduling core over a workload, policies side by side, no cluster."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tierq.api.defaults import default_policy_spec
from tierq.api.policy import TierPolicySpec
from tierq.cli.kube import CliError, Kube
from tierq.cli.options import ContextOption, KubeconfigOption, NamespaceOption, OutputOption
from tierq.cli.output import Output, console, emit, human_seconds
from tierq.core.policy import compile_policy
from tierq.sim import (
    POLICY_NAMES,
    SimulationReport,
    WorkloadParams,
    apply_what_if,
    generate_workload,
    load_workload,
    simulate,
)
from tierq.sim.workload import DEFAULT_MIX


def parse_mix(text: str | None) -> dict[str, float]:
    """`task_01=0.5,task_05=0.1` -> weights (job types left out weigh 0)."""
    if not text:
        return dict(DEFAULT_MIX)
    mix: dict[str, float] = {}
    for part in text.split(","):
        name, eq, weight = part.partition("=")
        if not eq:
            raise ValueError(f"--mix {text}: expected <jobType>=<weight>,...")
        mix[name.strip()] = float(weight)
    return mix


def _policy_spec(policy_file: Path | None, cluster_policy: bool, kubeconfig: str | None,
                 context: str | None, namespace: str | None) -> TierPolicySpec:
    if policy_file is not None:
        data = yaml.safe_load(policy_file.read_text())
        return TierPolicySpec.model_validate(data.get("spec", data) if isinstance(data, dict)
                                             else data)
    if cluster_policy:
        obj = Kube.connect(kubeconfig, context, namespace).policy()
        if obj is None:
            raise CliError("no TierPolicy 'default' in the cluster")
        return TierPolicySpec.model_validate(obj.get("spec", {}))
    return default_policy_spec()


def simulate_command(
    jobs: Annotated[int, typer.Option("--jobs", help="Jobs to generate.")] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same run).")] = 1,
    load: Annotated[float, typer.Option("--load", help="Offered work (steady + bursts) as a "
                                        "fraction of all slots.")] = 0.7,
    customers: Annotated[int, typer.Option("--customers", help="Customers (70% small, 22% "
                                           "medium, 8% large).")] = 300,
    bursts: Annotated[int | None, typer.Option("--bursts", help="Bursts of long jobs "
                                               "(default: one per 4,000 jobs).")] = None,
    burst_min: Annotated[int, typer.Option("--burst-min", help="Smallest burst.")] = 100,
    burst_max: Annotated[int, typer.Option("--burst-max", help="Largest burst.")] = 400,
    noise: Annotated[float, typer.Option("--noise", help="Sigma of a log-normal error of "
                                         "estimates (0: estimates are exact).")] = 0.0,
    mix: Annotated[str | None, typer.Option("--mix", help="Job type weights, e.g. "
                                            "task_01=0.4,task_05=0.03.")] = None,
    workload_file: Annotated[Path | None, typer.Option("--workload", help="Read arrivals from "
                                                       "a YAML/JSON file.")] = None,
    save_workload: Annotated[Path | None, typer.Option("--save-workload", help="Write the "
                                                       "generated workload (JSON).")] = None,
    policy_file: Annotated[Path | None, typer.Option("--policy-file", help="The tierq policy "
                                                     "(default: the built-in one).")] = None,
    cluster_policy: Annotated[bool, typer.Option("--cluster-policy", help="Use the cluster's "
                                                 "TierPolicy.")] = False,
    what_if: Annotated[list[str] | None, typer.Option(
        "--what-if", help="Change the tierq policy, e.g. lane=small.instant:maxRunning=8, "
        "class=long:maxRunningPerCustomer=4, borrowing.maxBorrowerClassSeconds=7200.")] = None,
    policies: Annotated[str, typer.Option("--policies", help="Policies to compare.")] = ",".join(
        POLICY_NAMES),
    plot: Annotated[Path | None, typer.Option("--plot", help="Write a PNG of the wait-time "
                                              "distributions.")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Processes (default: one "
                                                "per policy from 50,000 jobs).")] = None,
    output: OutputOption = Output.TABLE, namespace: NamespaceOption = None,
    kubeconfig: KubeconfigOption = None, context: ContextOption = None,
) -> None:
    """Simulate the brief's workload (or a file's): tierq lanes vs one FIFO queue vs per-tier
    queues on the same workers. Waits, slowdown, utilization, fairness."""
    spec = _policy_spec(policy_file, cluster_policy, kubeconfig, context, namespace)
    if what_if:
        spec = apply_what_if(spec, what_if)
    reference = compile_policy(spec)
    names = [p.strip() for p in policies.split(",") if p.strip()]
    params = WorkloadParams(jobs=jobs, seed=seed, load=load, slots=reference.total_slots,
                            customers=customers, mix=parse_mix(mix), bursts=bursts,
                            burst_min=burst_min, burst_max=burst_max, noise=noise)
    workload = (load_workload(workload_file, reference) if workload_file is not None
                else generate_workload(params, reference))
    if save_workload is not None:
        save_workload.write_text(json.dumps(workload.to_dict()))
    progress = Progress(TextColumn("[bold]{task.description:>9}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(),
                        console=Console(file=sys.stderr), transient=True,
                        disable=len(workload) < 50_000)
    with progress:
        tasks = {name: progress.add_task(name, total=len(workload)) for name in names}
        report = simulate(spec, workload=workload, policies=names, workers=workers,
                          progress=lambda name, done: progress.update(tasks[name],
                                                                      completed=done))
    report.load = None if workload_file is not None else load
    report.seed = None if workload_file is not None else seed
    if plot is not None:
        from tierq.cli.plot import plot_waits  # matplotlib is slow to import: only when asked

        plot_waits(report, plot)
    if output is not Output.TABLE:
        emit(output, report.to_dict())
        return
    print_report(report)
    if plot is not None:
        console().print(f"plot written to {plot}")


def _waits(report: SimulationReport, policy: str, group: str) -> str:
    stats = report.policy(policy).groups.get(group)
    if stats is None:
        return "-"
    return " / ".join(human_seconds(v) for v in (stats.p50, stats.p95, stats.p99))


def print_report(report: SimulationReport) -> None:
    out = console()
    days = report.horizon_seconds / 86400
    out.print(
        f"[bold]{report.jobs:,} jobs[/] of {report.customers} customers over {days:.1f} days "
        f"({report.burst_jobs:,} in bursts), {report.slots} worker slots"
        + (f", load {report.load:g}, seed {report.seed}" if report.load is not None else "")
    )
    names = [p.policy for p in report.policies]
    groups = [g for g in report.lane_slots if any(g in p.groups for p in report.policies)]
    waits = Table(title="queue wait p50 / p95 / p99 per tier x class", show_edge=False,
                  header_style="bold")
    for column in ("TIER.CLASS", "JOBS", "DEMAND", "SLOTS", *names):
        waits.add_column(column, justify="left" if column == "TIER.CLASS" else "right")
    for group in groups:
        jobs = next(p.groups[group].jobs for p in report.policies if group in p.groups)
        waits.add_row(group, f"{jobs:,}", f"{report.lane_demand.get(group, 0.0):.2f}",
                      str(report.lane_slots.get(group, "-")),
                      *(_waits(report, name, group) for name in names))
    out.print(waits)
    slow = Table(title="mean slowdown (wait + run) / run", show_edge=False, header_style="bold")
    for column in ("TIER.CLASS", *names):
        slow.add_column(column, justify="left" if column == "TIER.CLASS" else "right")
    for group in groups:
        slow.add_row(group, *(
            f"{report.policy(n).groups[group].mean_slowdown:,.1f}"
            if group in report.policy(n).groups else "-" for n in names))
    out.print(slow)
    summary = Table(title="per policy", show_edge=False, header_style="bold")
    for column in ("POLICY", "SLOTS", "UTILIZATION", "JAIN", "BORROWED", "P95 WAIT",
                   "P99 WAIT", "BURST JOBS P95", "SIM TIME"):
        summary.add_column(column, justify="left" if column == "POLICY" else "right")
    for p in report.policies:
        summary.add_row(p.policy, str(p.slots), f"{p.utilization:.1%}", f"{p.jain:.3f}",
                        f"{p.borrowed:,}", human_seconds(p.overall.p95),
                        human_seconds(p.overall.p99), human_seconds(p.burst.p95),
                        f"{p.wall_seconds:.1f}s")
    out.print(summary)
    out.print("DEMAND: offered load of the lane in busy slots; SLOTS: the tierq lane's "
              "maxRunning; utilization over [0, last arrival]; Jain over customers' mean "
              "slowdowns.", style="dim")
