"""Property tests: the scheduler's invariants under random streams of events."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.policies import small_spec, with_overrides
from tierq.api.policy import LaneOverride, TierPolicySpec
from tierq.core.policy import compile_policy
from tierq.core.scheduler import JobState, Scheduler

CUSTOMERS = ["a", "b", "c", "d"]

SPEC = with_overrides(
    small_spec(max_running=3, cohort="pool", max_running_per_customer=1),
    LaneOverride(tier="small", duration_class="quick", max_running=3, max_lend=1),
    LaneOverride(tier="large", duration_class="slow", max_running=1,
                 max_running_per_customer=1),
)

op = st.one_of(
    st.tuples(st.just("submit"), st.sampled_from(CUSTOMERS),
              st.sampled_from(["task_a", "task_fixed"]), st.integers(-2, 2), st.booleans()),
    st.tuples(st.just("finish"), st.integers(0, 50)),
    st.tuples(st.just("delete"), st.integers(0, 50)),
    st.tuples(st.just("move"), st.sampled_from(CUSTOMERS),
              st.sampled_from([None, "small", "large"]), st.integers(0, 300)),
    st.tuples(st.just("unsuspend"), st.integers(0, 50)),
    st.tuples(st.just("policy"), st.integers(0, 4)),
)


def resized(slots: int) -> TierPolicySpec:
    """SPEC with every lane's maxRunning changed (a live policy edit)."""
    spec = SPEC.model_copy(deep=True)
    spec.lanes.defaults.max_running = slots
    for override in spec.lanes.overrides:
        if override.max_running is not None:
            override.max_running = slots
    return spec


def check_invariants(s: Scheduler, over: dict[str, int] | None = None) -> None:
    """`over`: lanes left above a lowered maxRunning by a policy edit, and by how much."""
    over = over or {}
    used: Counter[str] = Counter()
    per_customer: Counter[tuple[str, str]] = Counter()
    lent: Counter[str] = Counter()
    for job in s.jobs.values():
        if job.state is JobState.RUNNING:
            assert job.lane and job.slot_lane
            used[job.slot_lane] += 1
            per_customer[(job.lane, job.customer)] += 1
            if job.slot_lane != job.lane:
                lent[job.slot_lane] += 1
                assert s.policy.lanes[job.lane].may_borrow
    for stats in s.lane_stats():
        config = s.policy.lanes[stats.lane]
        assert stats.used == used[stats.lane], "slot accounting drifted from the jobs"
        # A lowered maxRunning never stops running jobs, so only admissions are bounded.
        assert stats.used <= max(config.max_running, over.get(stats.lane, 0)), "lane cap exceeded"
        assert stats.lent == lent[stats.lane]
        if config.max_lend is not None:
            assert stats.lent <= config.max_lend
        queued = sum(1 for j in s.jobs.values() if j.state is JobState.QUEUED
                     and j.lane == stats.lane and not j.suspended)
        assert stats.queued == queued
    for (lane, _), n in per_customer.items():
        cap = s.policy.lanes[lane].max_running_per_customer
        assert cap is None or n <= cap, "per-customer cap exceeded"


def run(ops: list[tuple[object, ...]]) -> tuple[Scheduler, list[str]]:
    s = Scheduler(compile_policy(SPEC))
    for i, name in enumerate(CUSTOMERS):
        s.upsert_customer(f"ns/{name}", site_id=i, volume=10 + 100 * (i % 2), pin=None,
                          created=i, now=0)
    admitted: list[str] = []
    over: dict[str, int] = {}
    submitted = 0
    now = 0.0
    for operation in ops:
        now += 1
        kind = operation[0]
        keys = sorted(s.jobs)
        if kind == "submit":
            _, who, job_type, priority, suspended = operation
            s.submit(f"ns/j{submitted}", customer=f"ns/{who}", job_type=str(job_type),
                     priority=int(str(priority)), suspended=bool(suspended), queued_at=now)
            submitted += 1
        elif kind == "finish" and keys:
            running = [k for k in keys if s.jobs[k].state is JobState.RUNNING]
            if running:
                s.finish(running[int(str(operation[1])) % len(running)], duration=3.0)
        elif kind == "delete" and keys:
            s.remove_job(keys[int(str(operation[1])) % len(keys)])
        elif kind == "move":
            _, who, pin, volume = operation
            idx = CUSTOMERS.index(str(who))
            change = s.upsert_customer(f"ns/{who}", site_id=idx, volume=int(str(volume)),
                                       pin=pin if pin is None else str(pin), created=idx,
                                       now=now)
            for key in change.moved_jobs:
                assert s.jobs[key].lane is not None
                assert s.jobs[key].lane.startswith(f"{change.new}."), "moved job in old tier"
            for job in s.jobs.values():
                if job.customer == f"ns/{who}" and job.state is JobState.QUEUED:
                    assert job.lane and job.lane.startswith(f"{change.new}.")
        elif kind == "unsuspend" and keys:
            s.update_job(keys[int(str(operation[1])) % len(keys)], suspended=False)
        elif kind == "policy":
            s.set_policy(compile_policy(resized(int(str(operation[1])))), now=now)
            over = {st.lane: st.used for st in s.lane_stats()}
        before = {st.lane: st.used for st in s.lane_stats()}
        decisions = s.schedule(now)
        admitted += [a.job for a in decisions]
        for lane in {a.slot_lane for a in decisions}:
            # Every admission took a free slot: a lane over its (lowered) cap admitted nothing.
            assert before[lane] < s.policy.lanes[lane].max_running
        # Lanes drain below a lowered cap; they never climb back above it.
        over = {lane: min(n, used) for lane, n in over.items()
                if (used := next(x.used for x in s.lane_stats() if x.lane == lane)) > 0}
        check_invariants(s, over)
    return s, admitted


@settings(max_examples=150, deadline=None)
@given(st.lists(op, max_size=60))
def test_caps_hold_and_no_job_is_admitted_twice(ops: list[tuple[object, ...]]) -> None:
    _, admitted = run(ops)
    assert len(admitted) == len(set(admitted)), "a job was admitted twice"


@settings(max_examples=100, deadline=None)
@given(st.lists(op, max_size=60))
def test_no_starvation_while_slots_keep_freeing(ops: list[tuple[object, ...]]) -> None:
    s, _ = run(ops)
    s.set_policy(compile_policy(SPEC), now=999.0)  # lanes open again (an edit may close them)
    over = {st.lane: st.used for st in s.lane_stats()}  # running jobs above SPEC's caps
    for key in list(s.jobs):
        s.update_job(key, suspended=False)
    waiting = {k for k, j in s.jobs.items() if j.state is JobState.QUEUED}
    # Every step frees one slot; with n jobs in flight all must be admitted in bounded steps.
    bound = 4 * (len(s.jobs) + 1)
    for step in range(bound):
        for a in s.schedule(1000.0 + step):
            waiting.discard(a.job)
        if not waiting:
            break
        running = sorted(k for k, j in s.jobs.items() if j.state is JobState.RUNNING)
        if running:
            s.finish(running[0], duration=2.0)
        check_invariants(s, over)
    assert not waiting, f"starved: {sorted(waiting)}"
