"""The discrete-event loop: arrivals and finishes drive the unchanged scheduling core.

Two kinds of events, in time order: an arrival (`Scheduler.submit`) and a finish
(`Scheduler.finish`, with the job's real duration, so the core's estimates learn as they do
in the operator). After the events of an instant the loop calls `Scheduler.schedule(now)`
and starts every admitted job; its finish is due `runtime` later. Jobs are never preempted.

Speed: `schedule()` is a fixed point: right after a call nothing more can be admitted. An
arrival can only change that for its own lane, when that lane has a free slot or may borrow
one from a cohort lane with a free slot; when neither holds the call is skipped. The test
is conservative (it ignores per-customer caps and maxLend), so it never skips a call that
would admit, and the results are those of calling `schedule()` after every event.
"""

from __future__ import annotations

import heapq
import time as wallclock
from array import array
from collections.abc import Callable
from dataclasses import dataclass

from tierq.core.reasons import Reason
from tierq.core.scheduler import Scheduler
from tierq.sim.policies import PolicyModel
from tierq.sim.workload import Workload

Progress = Callable[[int], None]
"""Called with the number of jobs finished so far, every PROGRESS_EVERY finishes."""
PROGRESS_EVERY = 5_000


@dataclass
class RunResult:
    """What one policy did with one workload."""

    policy: str
    slots: int
    start: array[float]
    """Start time of job i (its wait is start - arrival)."""
    borrowed: int
    """Admissions onto a slot borrowed from another lane."""
    schedule_calls: int
    wall_seconds: float


class _SlotBook:
    """Free slots per lane, kept from admissions and finishes, to skip useless schedules."""

    def __init__(self, model: PolicyModel) -> None:
        lanes = model.policy.lanes
        self.free = {name: cfg.max_running for name, cfg in lanes.items()}
        cohorts: dict[str, list[str]] = {}
        for name, cfg in lanes.items():
            if cfg.cohort is not None:
                cohorts.setdefault(cfg.cohort, []).append(name)
        self.lenders = {
            name: tuple(o for o in cohorts[cfg.cohort] if o != name)
            for name, cfg in lanes.items()
            if cfg.may_borrow and cfg.cohort is not None
        }

    def may_admit(self, lane: str) -> bool:
        if self.free[lane] > 0:
            return True
        free = self.free
        return any(free[o] > 0 for o in self.lenders.get(lane, ()))


def run(workload: Workload, model: PolicyModel, progress: Progress | None = None) -> RunResult:
    """Simulate `workload` under `model` until every job has finished."""
    began = wallclock.perf_counter()
    scheduler = Scheduler(model.policy)
    for c in model.customers:
        scheduler.upsert_customer(c.key, site_id=c.site_id, volume=c.volume, pin=c.pin,
                                  created=0.0, now=0.0)
    keys = [model.customers[model.submit_as[i]].key for i in range(len(workload.customers))]
    type_names = workload.job_types
    times, owners, types = workload.time, workload.customer, workload.job_type
    runtimes, priorities = workload.runtime, workload.priority
    n = len(workload)
    start = array("d", [float("nan")]) * n
    slot_of: dict[int, str] = {}
    book = _SlotBook(model)
    free = book.free
    finishes: list[tuple[float, int]] = []
    borrowed = calls = done = 0
    submit, finish, schedule = scheduler.submit, scheduler.finish, scheduler.schedule
    i = 0
    while i < n or finishes:
        if finishes and (i >= n or finishes[0][0] <= times[i]):
            now = finishes[0][0]
            while finishes and finishes[0][0] == now:
                _, idx = heapq.heappop(finishes)
                finish(str(idx), duration=runtimes[idx])
                free[slot_of.pop(idx)] += 1
                done += 1
                if progress is not None and done % PROGRESS_EVERY == 0:
                    progress(done)
            admissible = True
        else:
            now = times[i]
            admissible = False
            while i < n and times[i] == now:
                job = submit(str(i), customer=keys[owners[i]], job_type=type_names[types[i]],
                             priority=priorities[i], queued_at=now)
                if isinstance(job, Reason) or job.lane is None:
                    reason = job if isinstance(job, Reason) else job.reason
                    raise ValueError(f"arrival {i} was not queued: {reason}")
                admissible = admissible or book.may_admit(job.lane)
                i += 1
        if not admissible:
            continue
        calls += 1
        for admission in schedule(now):
            idx = int(admission.job)
            start[idx] = now
            slot_of[idx] = admission.slot_lane
            free[admission.slot_lane] -= 1
            borrowed += admission.slot_lane != admission.lane
            heapq.heappush(finishes, (now + runtimes[idx], idx))
    if progress is not None:
        progress(done)
    return RunResult(model.name, model.slots, start, borrowed, calls,
                     wallclock.perf_counter() - began)
