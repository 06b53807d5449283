from __future__ import annotations

from collections.abc import Callable

import pytest

from helpers.policies import small_spec, with_overrides
from tierq.api.policy import LaneOverride
from tierq.core.policy import compile_policy
from tierq.core.reasons import Reason
from tierq.core.scheduler import Job, JobState, Scheduler

Make = Callable[..., Scheduler]


def customer(s: Scheduler, name: str, volume: int = 10, pin: str | None = None,
             site: int | None = None, created: float = 0.0) -> None:
    s.upsert_customer(f"ns/{name}", site_id=site if site is not None else hash(name) % 10**6,
                      volume=volume, pin=pin, created=created, now=0.0)


def submit(s: Scheduler, name: str, who: str, job_type: str = "task_a", at: float = 0.0,
           **kw: object) -> Job:
    job = s.submit(f"ns/{name}", customer=f"ns/{who}", job_type=job_type, queued_at=at,
                   **kw)  # type: ignore[arg-type]
    assert isinstance(job, Job)
    return job


def admitted(s: Scheduler, now: float = 0.0) -> list[str]:
    return [a.job.removeprefix("ns/") for a in s.schedule(now)]


def test_job_lands_in_lane_of_tier_and_class(make_scheduler: Make) -> None:
    s = make_scheduler()
    customer(s, "acme", volume=10)      # small; task_a 10 s -> quick
    customer(s, "big", volume=500)      # large; 500 s -> slow
    assert submit(s, "j1", "acme").lane == "small.quick"
    assert submit(s, "j2", "big").lane == "large.slow"
    assert submit(s, "j3", "big", "task_fixed").lane == "large.quick"
    assert s.jobs["ns/j2"].estimate == 500


def test_lane_slots_are_never_exceeded(make_scheduler: Make) -> None:
    s = make_scheduler(small_spec(max_running=2))
    customer(s, "a")
    for i in range(5):
        submit(s, f"j{i}", "a", at=i)
    assert admitted(s) == ["j0", "j1"]
    assert admitted(s) == []
    s.finish("ns/j0", duration=3)
    assert admitted(s) == ["j2"]


def test_per_customer_cap(make_scheduler: Make) -> None:
    s = make_scheduler(small_spec(max_running=3, max_running_per_customer=1))
    customer(s, "a")
    customer(s, "b")
    submit(s, "a1", "a", at=0)
    submit(s, "a2", "a", at=1)
    submit(s, "b1", "b", at=2)
    assert sorted(admitted(s)) == ["a1", "b1"]
    assert s.explain("ns/a2", 0).reason is Reason.CUSTOMER_CAP_REACHED
    s.finish("ns/a1", duration=1)
    assert admitted(s) == ["a2"]


def test_fair_share_alternates_customers_instead_of_fifo(make_scheduler: Make) -> None:
    s = make_scheduler(small_spec(max_running=1))
    customer(s, "heavy")
    customer(s, "light")
    for i in range(4):
        submit(s, f"h{i}", "heavy", at=i)
    submit(s, "l0", "light", at=10)
    order = []
    for _ in range(5):
        (name,) = admitted(s)
        order.append(name)
        s.finish(f"ns/{name}", duration=10)
    # FIFO would run l0 last; fair share runs it right after heavy's first job.
    assert order == ["h0", "l0", "h1", "h2", "h3"]


def test_priority_first_within_a_customer_and_across(make_scheduler: Make) -> None:
    s = make_scheduler(small_spec(max_running=1))
    customer(s, "a")
    customer(s, "b")
    submit(s, "a-low", "a", at=0)
    submit(s, "b-high", "b", at=5, priority=10)
    assert admitted(s) == ["b-high"]


def test_fifo_breaks_ties(make_scheduler: Make) -> None:
    s = make_scheduler(small_spec(max_running=1))
    customer(s, "a")
    for i in (3, 1, 2):
        submit(s, f"j{i}", "a", at=i)
    order = []
    for _ in range(3):
        (name,) = admitted(s)
        order.append(name)
        s.finish(f"ns/{name}", duration=1)
    assert order == ["j1", "j2", "j3"]


def test_suspend_holds_and_release_keeps_place(make_scheduler: Make) -> None:
    s = make_scheduler(small_spec(max_running=1))
    customer(s, "a")
    submit(s, "first", "a", at=0, suspended=True)
    submit(s, "second", "a", at=1)
    submit(s, "third", "a", at=2)
    assert s.explain("ns/first", 0).reason is Reason.SUSPENDED
    assert admitted(s) == ["second"]
    s.update_job("ns/first", suspended=False)
    s.finish("ns/second", duration=1)
    assert admitted(s) == ["first"]  # queued_at 0: ahead of third


def test_unknown_customer_pending_then_queued(make_scheduler: Make) -> None:
    s = make_scheduler()
    job = submit(s, "j", "ghost")
    assert job.state is JobState.PENDING
    assert s.explain("ns/j", 0).reason is Reason.CUSTOMER_UNKNOWN
    assert admitted(s) == []
    customer(s, "ghost")
    assert job.state is JobState.QUEUED
    assert admitted(s) == ["j"]


def test_unknown_job_type_is_refused(make_scheduler: Make) -> None:
    s = make_scheduler()
    customer(s, "a")
    assert s.submit("ns/x", customer="ns/a", job_type="task_99",
                    queued_at=0) is Reason.UNKNOWN_JOB_TYPE
    assert "ns/x" not in s.jobs


def test_moving_a_customer_moves_queued_jobs_only(make_scheduler: Make) -> None:
    s = make_scheduler(small_spec(max_running=1))
    customer(s, "a", volume=10)
    for i in range(3):
        submit(s, f"j{i}", "a", "task_fixed", at=i)
    assert admitted(s) == ["j0"]
    change = s.upsert_customer("ns/a", site_id=1, volume=10, pin="large", created=0, now=5)
    assert (change.old, change.new, change.assigned_by) == ("small", "large", "Pinned")
    assert change.moved_jobs == ("ns/j1", "ns/j2")
    assert s.jobs["ns/j0"].lane == "small.quick"  # running: finishes where it is
    assert {s.jobs[f"ns/j{i}"].lane for i in (1, 2)} == {"large.quick"}
    assert admitted(s) == ["j1"]  # large.quick has its own free slot


def test_volume_change_retiers_with_hysteresis(make_scheduler: Make) -> None:
    s = make_scheduler()  # large from 100 records; hysteresis 10 %
    customer(s, "a", volume=99)
    assert s.customers["ns/a"].tier == "small"
    s.upsert_customer("ns/a", site_id=1, volume=105, pin=None, created=0, now=1)
    assert s.customers["ns/a"].tier == "small"
    s.upsert_customer("ns/a", site_id=1, volume=110, pin=None, created=0, now=2)
    assert s.customers["ns/a"].tier == "large"


def test_removing_a_customer_leaves_its_jobs_pending(make_scheduler: Make) -> None:
    s = make_scheduler()
    customer(s, "a")
    submit(s, "j", "a")
    assert s.remove_customer("ns/a", now=0) == ["ns/j"]
    assert s.jobs["ns/j"].state is JobState.PENDING
    assert admitted(s) == []


def test_duplicate_site_id_blocks_the_newer_customer(make_scheduler: Make) -> None:
    s = make_scheduler()
    customer(s, "old", site=7, created=1)
    customer(s, "new", site=7, created=2)
    submit(s, "j-old", "old")
    submit(s, "j-new", "new")
    assert admitted(s) == ["j-old"]
    explanation = s.explain("ns/j-new", 0)
    assert explanation.reason is Reason.DUPLICATE_SITE_ID
    assert "ns/old" in explanation.message
    s.remove_customer("ns/old", now=1)
    assert s.jobs["ns/j-new"].state is JobState.QUEUED


def test_pin_to_unknown_tier_holds_jobs(make_scheduler: Make) -> None:
    s = make_scheduler()
    customer(s, "a", pin="huge")
    submit(s, "j", "a")
    assert s.explain("ns/j", 0).reason is Reason.UNKNOWN_TIER


def test_lowering_max_running_never_stops_running_jobs(make_scheduler: Make) -> None:
    s = make_scheduler(small_spec(max_running=3))
    customer(s, "a")
    for i in range(5):
        submit(s, f"j{i}", "a", at=i)
    assert len(admitted(s)) == 3
    s.set_policy(compile_policy(small_spec(max_running=1)), now=1)
    assert all(s.jobs[f"ns/j{i}"].state is JobState.RUNNING for i in range(3))
    assert admitted(s) == []
    s.finish("ns/j0", duration=1)
    s.finish("ns/j1", duration=1)
    assert admitted(s) == []  # still 1 running of 1
    s.finish("ns/j2", duration=1)
    assert admitted(s) == ["j3"]


def test_raising_max_running_admits_at_once(make_scheduler: Make) -> None:
    s = make_scheduler(small_spec(max_running=1))
    customer(s, "a")
    for i in range(3):
        submit(s, f"j{i}", "a", at=i)
    assert admitted(s) == ["j0"]
    s.set_policy(compile_policy(small_spec(max_running=3)), now=1)
    assert admitted(s) == ["j1", "j2"]


def test_borrowing_inside_a_cohort_is_bounded_by_max_lend(make_scheduler: Make) -> None:
    spec = with_overrides(small_spec(max_running=2, cohort="c"),
                          LaneOverride(tier="small", duration_class="quick", max_lend=1))
    s = make_scheduler(spec)
    customer(s, "big", volume=500)  # large tier
    for i in range(6):
        submit(s, f"j{i}", "big", "task_fixed", at=i)  # 5 s: large.quick
    decisions = s.schedule(0)
    own = [a for a in decisions if not a.borrowed]
    lent = [a for a in decisions if a.borrowed]
    assert len(own) == 2
    # small.quick lends 1 (maxLend); slow lanes are unbounded: they lend but never borrow.
    assert [a.slot_lane for a in lent].count("small.quick") == 1
    assert s.explain(lent[0].job, 0).reason is Reason.BORROWED
    stats = {st.lane: st for st in s.lane_stats()}
    assert stats["large.quick"].borrowed == len(lent)
    # The lender's slot comes back when the borrower's job ends.
    borrowed_from_small = next(a for a in lent if a.slot_lane == "small.quick")
    s.finish(borrowed_from_small.job, duration=5)
    assert stats["small.quick"].lent == 1 and s.lane_stats()[0].lent == 0


def test_lanes_of_unbounded_classes_never_borrow(make_scheduler: Make) -> None:
    s = make_scheduler(small_spec(max_running=1, cohort="c"))
    customer(s, "big", volume=500)
    for i in range(3):
        submit(s, f"j{i}", "big", at=i)  # 500 s: large.slow (unbounded)
    assert [a.borrowed for a in s.schedule(0)] == [False]
    assert s.explain("ns/j1", 0).reason is Reason.LANE_FULL


def test_a_lender_keeps_slots_for_its_own_queue(make_scheduler: Make) -> None:
    s = make_scheduler(small_spec(max_running=1, cohort="c"))
    customer(s, "small1", volume=5)
    customer(s, "big", volume=500)
    submit(s, "s0", "small1", "task_fixed")
    submit(s, "b0", "big", "task_fixed")
    submit(s, "b1", "big", "task_fixed")
    decisions = {a.job: a for a in s.schedule(0)}
    assert decisions["ns/s0"].slot_lane == "small.quick"
    assert decisions["ns/b0"].slot_lane == "large.quick"
    assert decisions["ns/b1"].slot_lane not in {"small.quick", "large.quick"}


def test_queue_positions_and_eta(make_scheduler: Make) -> None:
    s = make_scheduler(small_spec(max_running=1))
    customer(s, "a")
    for i in range(3):
        submit(s, f"j{i}", "a", "task_fixed", at=i)  # 5 s each
    s.schedule(100)
    slots = s.queue_slots(100)
    assert slots["ns/j1"].position == 1 and slots["ns/j1"].eta == pytest.approx(105)
    assert slots["ns/j2"].position == 2 and slots["ns/j2"].eta == pytest.approx(110)
    explanation = s.explain("ns/j2", 100)
    assert explanation.reason is Reason.LANE_FULL
    assert explanation.position == 2


def test_observed_durations_replace_the_model_estimate(make_scheduler: Make) -> None:
    s = make_scheduler()
    customer(s, "a", volume=10)
    submit(s, "j0", "a")  # model: 10 s
    s.schedule(0)
    s.finish("ns/j0", duration=100.0)
    assert submit(s, "j1", "a").estimate == 100.0
    assert s.jobs["ns/j1"].lane == "small.slow"  # 100 s > 60 s: the class follows


def test_restore_running_counts_against_the_lane(make_scheduler: Make) -> None:
    s = make_scheduler(small_spec(max_running=1))
    customer(s, "a")
    s.restore_running("ns/r", customer="ns/a", job_type="task_a", lane="small.quick",
                      slot_lane=None, started_at=0, estimate=10)
    submit(s, "j", "a")
    assert admitted(s) == []
    s.finish("ns/r", duration=10)
    assert admitted(s) == ["j"]


def test_deleting_a_running_job_frees_its_slot(make_scheduler: Make) -> None:
    s = make_scheduler(small_spec(max_running=1))
    customer(s, "a")
    submit(s, "j0", "a", at=0)
    submit(s, "j1", "a", at=1)
    assert admitted(s) == ["j0"]
    s.remove_job("ns/j0")
    assert admitted(s) == ["j1"]


def test_deleting_a_queued_job_removes_it(make_scheduler: Make) -> None:
    s = make_scheduler(small_spec(max_running=1))
    customer(s, "a")
    submit(s, "j0", "a", at=0)
    submit(s, "j1", "a", at=1)
    s.remove_job("ns/j0")
    assert admitted(s) == ["j1"]
    assert s.lane_stats()[0].queued == 0


def test_a_closed_lane_neither_runs_nor_borrows(make_scheduler: Make) -> None:
    spec = with_overrides(small_spec(max_running=2, cohort="c"),
                          LaneOverride(tier="small", duration_class="quick", max_running=0))
    s = make_scheduler(spec)
    customer(s, "a")
    submit(s, "j", "a", "task_fixed")
    assert s.schedule(0) == []
    assert s.explain("ns/j", 0).reason is Reason.LANE_CLOSED
