"""The simulator on scenarios whose answer is known by hand, and its invariants."""

from __future__ import annotations

import math

import pytest

from tierq.api.defaults import default_policy_spec
from tierq.api.policy import (
    DurationClass,
    JobType,
    Lanes,
    LaneSettings,
    NodePool,
    Tier,
    TierPolicySpec,
)
from tierq.core.policy import compile_policy
from tierq.sim import Workload, WorkloadParams, generate_workload, run, simulate
from tierq.sim import engine as engine_module
from tierq.sim.policies import fifo_model, per_tier_model, tierq_model
from tierq.sim.workload import SimCustomer


def one_lane_spec(slots: int) -> TierPolicySpec:
    """One tier, one unbounded class, one job type of a fixed 10 s: one lane of `slots`."""
    return TierPolicySpec(
        tiers=[Tier(name="all", min_records=0)],
        duration_classes=[DurationClass(name="any")],
        job_types=[JobType(name="ten", expected_seconds=10)],
        node_pools=[NodePool(name="pool")],
        lanes=Lanes(defaults=LaneSettings(max_running=slots, node_pool="pool")),
    )


def periodic(customers: list[SimCustomer], count: int, every: float, runtime: float,
             who: list[int] | None = None) -> Workload:
    workload = Workload(customers, ("ten",))
    for k in range(count):
        workload.append(k * every, who[k] if who else 0, 0, runtime)
    return workload


def waits(workload: Workload, start: list[float]) -> list[float]:
    return [s - t for s, t in zip(start, workload.time, strict=True)]


ACME = SimCustomer("acme", 1, 1000)
GLOBEX = SimCustomer("globex", 2, 1000)


def test_one_slot_ten_second_jobs_every_five_seconds_wait_0_5_10() -> None:
    policy = compile_policy(one_lane_spec(1))
    workload = periodic([ACME], 6, every=5, runtime=10)
    result = run(workload, tierq_model(policy, workload.customers))
    assert waits(workload, list(result.start)) == [0, 5, 10, 15, 20, 25]


def test_two_slots_keep_up_with_ten_second_jobs_every_five_seconds() -> None:
    policy = compile_policy(one_lane_spec(2))
    workload = periodic([ACME], 6, every=5, runtime=10)
    result = run(workload, tierq_model(policy, workload.customers))
    assert waits(workload, list(result.start)) == [0] * 6


def test_fifo_serves_in_arrival_order_whoever_submits() -> None:
    # acme submits three jobs at 0, 0.1, 0.2; globex one at 1. One slot, 10 s each.
    policy = compile_policy(one_lane_spec(1))
    workload = Workload([ACME, GLOBEX], ("ten",))
    for t, who in ((0.0, 0), (0.1, 0), (0.2, 0), (1.0, 1)):
        workload.append(t, who, 0, 10.0)
    fifo = run(workload, fifo_model(policy, workload.customers))
    assert list(fifo.start) == [0, 10, 20, 30]
    # tierq's fair share: after acme's first job acme has used 10 s of the lane and globex
    # none, so globex goes next (at 10), then acme's other two.
    tierq = run(workload, tierq_model(policy, workload.customers))
    assert list(tierq.start) == [0, 20, 30, 10]


def test_fifo_is_work_conserving_and_never_exceeds_its_slots() -> None:
    policy = compile_policy(default_policy_spec())
    workload = generate_workload(WorkloadParams(jobs=3000, seed=5, slots=policy.total_slots),
                                 policy)
    for model in (fifo_model(policy, workload.customers),
                  per_tier_model(policy, workload.customers),
                  tierq_model(policy, workload.customers)):
        result = run(workload, model)
        events = sorted([(s, 1) for s in result.start] + [
            (s + r, -1) for s, r in zip(result.start, workload.runtime, strict=True)])
        running = peak = 0
        for _, delta in sorted(events, key=lambda e: (e[0], e[1])):
            running += delta
            peak = max(peak, running)
        assert peak <= model.slots, model.name
        assert all(not math.isnan(s) for s in result.start), "every job ran"
    # FIFO: a job that waits finds every slot busy the whole time (no idle slot, no cap).
    fifo = run(workload, fifo_model(policy, workload.customers))
    order = sorted(range(len(workload)), key=lambda i: (fifo.start[i], i))
    assert [workload.time[i] for i in order] == sorted(workload.time), "arrival order"


def test_skipping_schedule_calls_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = compile_policy(default_policy_spec())
    workload = generate_workload(WorkloadParams(jobs=2000, seed=3, slots=policy.total_slots),
                                 policy)
    model = tierq_model(policy, workload.customers)
    fast = run(workload, model)
    monkeypatch.setattr(engine_module._SlotBook, "may_admit", lambda self, lane: True)
    every_event = run(workload, model)
    assert list(fast.start) == list(every_event.start)
    assert fast.schedule_calls < every_event.schedule_calls


def test_same_seed_same_workload_and_figures() -> None:
    spec = default_policy_spec()
    params = WorkloadParams(jobs=3000, seed=11)
    a = simulate(spec, params=params).to_dict()
    b = simulate(spec, params=params).to_dict()
    for report in (a, b):
        for p in report["policies"]:
            p.pop("wallSeconds")
    assert a == b
    c = simulate(spec, params=WorkloadParams(jobs=3000, seed=12)).to_dict()
    assert c["workload"]["horizonSeconds"] != a["workload"]["horizonSeconds"]


def test_generated_workload_follows_the_brief() -> None:
    policy = compile_policy(default_policy_spec())
    workload = generate_workload(
        WorkloadParams(jobs=8000, seed=2, load=0.9, slots=policy.total_slots), policy)
    assert len(workload) == 8000
    assert list(workload.time) == sorted(workload.time)
    volumes = {c.name.split("-")[0]: [] for c in workload.customers}  # type: dict[str, list[int]]
    for c in workload.customers:
        volumes[c.name.split("-")[0]].append(c.volume)
    assert min(volumes["small"]) >= 500 and max(volumes["small"]) < 10_000
    assert min(volumes["medium"]) >= 10_000 and max(volumes["medium"]) < 50_000
    assert min(volumes["large"]) >= 50_000 and max(volumes["large"]) <= 200_000
    # run time = seconds per record x records, exactly (no noise by default)
    per_record = {j.name: j.seconds_per_record for j in policy.job_types.values()}
    for i in range(0, len(workload), 97):
        expected = per_record[workload.job_types[workload.job_type[i]]]
        assert expected is not None
        assert workload.runtime[i] == pytest.approx(
            expected * workload.customers[workload.customer[i]].volume)
    # two bursts of hundreds of jobs arriving at one instant
    assert 200 <= sum(workload.burst) <= 800
    # offered work / (slots x horizon) is the load asked for, give or take the sampling
    offered = sum(workload.runtime) / (policy.total_slots * workload.horizon)
    assert offered == pytest.approx(0.9, rel=0.35)


def test_utilization_counts_busy_slot_seconds_up_to_the_last_arrival() -> None:
    spec = one_lane_spec(1)
    workload = periodic([ACME], 2, every=10, runtime=10)  # 0-10 busy, horizon 10
    report = simulate(spec, workload=workload, policies=["fifo"])
    assert report.policy("fifo").utilization == pytest.approx(1.0)
    workload = periodic([ACME], 2, every=20, runtime=10)  # busy 10 of 20
    report = simulate(spec, workload=workload, policies=["fifo"])
    assert report.policy("fifo").utilization == pytest.approx(0.5)
