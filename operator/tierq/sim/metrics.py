"""Metrics of a simulated run: waits, slowdowns, utilization and fairness.

Jobs are grouped by the *reference* tier x duration class (the tierq policy's volume rule
and class bounds applied to the job's estimate), so that one row compares the same jobs
under every policy, whatever lanes the policy itself has.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from tierq.core.estimates import model_estimate
from tierq.core.policy import CompiledPolicy
from tierq.sim.engine import RunResult
from tierq.sim.workload import Workload

SLOWDOWN_FLOOR_SECONDS = 0.1
"""Runs shorter than this count as this long in the slowdown, so it stays finite."""


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between ranks (numpy's default).

    `sorted_values` must be sorted; an empty sequence has no percentile (NaN).
    """
    if not sorted_values:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is not in [0, 100]")
    rank = (len(sorted_values) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = rank - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction


def jain_index(values: Sequence[float]) -> float:
    """Jain's fairness index (sum x)^2 / (n sum x^2): 1 when all equal, 1/n when one has all."""
    if not values:
        return math.nan
    squares = sum(v * v for v in values)
    if squares == 0:
        return 1.0
    return sum(values) ** 2 / (len(values) * squares)


def slowdown(wait: float, runtime: float) -> float:
    """(wait + run) / run: 1 when the job did not wait."""
    run = max(runtime, SLOWDOWN_FLOOR_SECONDS)
    return (wait + run) / run


@dataclass(frozen=True)
class WaitStats:
    jobs: int
    p50: float
    p95: float
    p99: float
    max: float
    mean_slowdown: float
    p95_slowdown: float

    @classmethod
    def of(cls, waits: list[float], slowdowns: list[float]) -> WaitStats:
        waits.sort()
        slowdowns.sort()
        mean = sum(slowdowns) / len(slowdowns) if slowdowns else math.nan
        return cls(len(waits), percentile(waits, 50), percentile(waits, 95),
                   percentile(waits, 99), waits[-1] if waits else math.nan, mean,
                   percentile(slowdowns, 95))


@dataclass
class PolicyStats:
    """One policy's figures on one workload."""

    policy: str
    slots: int
    utilization: float
    """Busy slot-seconds / (slots x horizon), over [0, last arrival]."""
    jain: float
    """Jain's index over customers' mean slowdowns."""
    borrowed: int
    wall_seconds: float
    overall: WaitStats
    burst: WaitStats
    """The jobs that arrived in bursts."""
    groups: dict[str, WaitStats] = field(default_factory=dict)
    """`<tier>.<class>` -> stats of those jobs."""
    steady_groups: dict[str, WaitStats] = field(default_factory=dict)
    """The same without the burst jobs: what every other customer saw."""
    waits: list[float] = field(default_factory=list, repr=False)
    """Every job's wait, sorted: for the plot."""
    group_waits: dict[str, list[float]] = field(default_factory=dict, repr=False)


def job_groups(workload: Workload, reference: CompiledPolicy) -> tuple[list[str], list[int]]:
    """The group names (in the reference policy's lane order) and each job's group index."""
    names = [lane.name for lane in reference.lanes.values()]
    index = {name: i for i, name in enumerate(names)}
    tiers = [reference.tier_for_volume(c.volume) for c in workload.customers]
    cache: dict[tuple[int, int], int] = {}
    groups = []
    for who, job_type in zip(workload.customer, workload.job_type, strict=True):
        group = cache.get((who, job_type))
        if group is None:
            estimate = model_estimate(reference, workload.job_types[job_type],
                                      workload.customers[who].volume)
            name = f"{tiers[who]}.{reference.class_for_seconds(estimate)}"
            group = cache[(who, job_type)] = index[name]
        groups.append(group)
    return names, groups


def lane_demand(workload: Workload, names: list[str], groups: list[int]) -> dict[str, float]:
    """Offered load per reference lane, in busy slots: its jobs' run time / horizon."""
    horizon = workload.horizon or 1.0
    work = [0.0] * len(names)
    for group, runtime in zip(groups, workload.runtime, strict=True):
        work[group] += runtime
    return {name: w / horizon for name, w in zip(names, work, strict=True)}


def summarize(workload: Workload, result: RunResult, names: list[str],
              groups: list[int]) -> PolicyStats:
    horizon = workload.horizon
    waits_by_group: list[list[float]] = [[] for _ in names]
    slow_by_group: list[list[float]] = [[] for _ in names]
    steady_waits: list[list[float]] = [[] for _ in names]
    steady_slow: list[list[float]] = [[] for _ in names]
    burst_waits: list[float] = []
    burst_slow: list[float] = []
    per_customer = [0.0] * len(workload.customers)
    jobs_per_customer = [0] * len(workload.customers)
    busy = 0.0
    for i, (arrival, start, runtime) in enumerate(
        zip(workload.time, result.start, workload.runtime, strict=True)
    ):
        wait = start - arrival
        s = slowdown(wait, runtime)
        waits_by_group[groups[i]].append(wait)
        slow_by_group[groups[i]].append(s)
        if workload.burst[i]:
            burst_waits.append(wait)
            burst_slow.append(s)
        else:
            steady_waits[groups[i]].append(wait)
            steady_slow[groups[i]].append(s)
        who = workload.customer[i]
        per_customer[who] += s
        jobs_per_customer[who] += 1
        if start < horizon:
            busy += min(start + runtime, horizon) - start
    all_waits = [w for ws in waits_by_group for w in ws]
    all_slow = [s for ss in slow_by_group for s in ss]
    group_stats = {
        name: WaitStats.of(waits, slow)
        for name, waits, slow in zip(names, waits_by_group, slow_by_group, strict=True)
        if waits
    }
    means = [total / n for total, n in zip(per_customer, jobs_per_customer, strict=True) if n]
    capacity = result.slots * horizon
    return PolicyStats(
        policy=result.policy,
        slots=result.slots,
        utilization=busy / capacity if capacity > 0 else math.nan,
        jain=jain_index(means),
        borrowed=result.borrowed,
        wall_seconds=result.wall_seconds,
        overall=WaitStats.of(all_waits, all_slow),
        burst=WaitStats.of(burst_waits, burst_slow),
        groups=group_stats,
        steady_groups={
            name: WaitStats.of(waits, slow)
            for name, waits, slow in zip(names, steady_waits, steady_slow, strict=True)
            if waits
        },
        waits=all_waits,
        group_waits={name: waits for name, waits in zip(names, waits_by_group, strict=True)
                     if waits},
    )
