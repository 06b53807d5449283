"""Scheduling-core benchmarks: figures printed, nothing asserted (see README, "Figures").

    make bench            # or: PYTHONPATH=operator python bench/bench_core.py [--quick]

Measures, on the default policy (15 lanes):
  * bulk admission: 100,000 queued jobs over 10,000 customers, every slot free,
    one schedule() call admits them all -> decisions per second;
  * steady state: lanes full, each step = one job finishes + schedule() admits the next,
    at 1k, 10k and 100k queued -> microseconds per decision (should grow ~logarithmically);
  * memory per queued job (tracemalloc, the scheduler's own structures).
The scheduler's state is moved out of the cyclic GC's generations (gc.freeze) before timing:
a full collection over 100k live jobs is a cost of the heap, not of a decision.
A baseline measured in the same run (a plain heapq push/pop of the same count) is printed
beside, so figures compare across noisy machines as ratios.
"""

from __future__ import annotations

import argparse
import gc
import heapq
import random
import time
import tracemalloc

from tierq.api.defaults import default_policy_spec
from tierq.api.policy import LaneOverride
from tierq.core.policy import compile_policy
from tierq.core.scheduler import JobState, Scheduler

JOB_TYPES = ["task_01", "task_02", "task_03", "task_04", "task_05"]


def build(queued: int, customers: int, slots: int | None, seed: int = 7) -> Scheduler:
    spec = default_policy_spec()
    if slots is not None:
        spec.lanes.overrides.append(LaneOverride(tier="small", max_running=slots))
        for tier in ("medium", "large"):
            spec.lanes.overrides.append(LaneOverride(tier=tier, max_running=slots))
        spec.lanes.overrides = [o for o in spec.lanes.overrides if not o.max_running
                                or o.duration_class is None]
        for o in spec.lanes.overrides:
            o.max_running_per_customer = None
    s = Scheduler(compile_policy(spec))
    rng = random.Random(seed)
    for c in range(customers):
        volume = rng.choice([rng.randint(500, 9_999), rng.randint(10_000, 49_999),
                             rng.randint(50_000, 200_000)])
        s.upsert_customer(f"ns/c{c}", site_id=c, volume=volume, pin=None, created=0, now=0)
    for j in range(queued):
        s.submit(f"ns/j{j}", customer=f"ns/c{rng.randrange(customers)}",
                 job_type=rng.choice(JOB_TYPES), priority=0, queued_at=float(j))
    return s


def heap_baseline(n: int) -> float:
    items = [(random.random(), i) for i in range(n)]
    start = time.perf_counter()
    heap: list[tuple[float, int]] = []
    for item in items:
        heapq.heappush(heap, item)
    while heap:
        heapq.heappop(heap)
    return n / (time.perf_counter() - start)


def bulk(queued: int, customers: int) -> tuple[float, int]:
    s = build(queued, customers, slots=queued)
    gc.collect()
    gc.freeze()  # long-lived state out of the collector's way, as a long-running operator does
    start = time.perf_counter()
    admitted = len(s.schedule(now=1e9))
    return admitted / (time.perf_counter() - start), admitted


def steady(queued: int, customers: int, steps: int) -> float:
    """Microseconds per (finish + schedule) with `queued` jobs waiting."""
    s = build(queued + 200, customers, slots=None)
    running = [a.job for a in s.schedule(now=0)]
    rng = random.Random(1)
    gc.collect()
    gc.freeze()
    start = time.perf_counter()
    done = 0
    for step in range(steps):
        if not running:
            break
        key = running.pop(rng.randrange(len(running)))
        s.finish(key, duration=1.0)
        running += [a.job for a in s.schedule(now=float(step))]
        done += 1
    return (time.perf_counter() - start) / max(done, 1) * 1e6


def memory_per_job(queued: int, customers: int) -> float:
    tracemalloc.start()
    s = build(0, customers, slots=None)
    base = tracemalloc.get_traced_memory()[0]
    rng = random.Random(3)
    for j in range(queued):
        s.submit(f"ns/j{j}", customer=f"ns/c{rng.randrange(customers)}",
                 job_type=rng.choice(JOB_TYPES), queued_at=float(j))
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert sum(j.state is JobState.QUEUED for j in s.jobs.values()) == queued
    return used / queued


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="10x smaller, for a smoke run")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    queued, customers = 100_000 // scale, 10_000 // scale

    baseline = heap_baseline(queued)
    rate, admitted = bulk(queued, customers)
    print(f"baseline heapq push+pop             : {baseline:12,.0f} items/s")
    print(f"bulk admission ({admitted:,} jobs, {customers:,} customers): {rate:12,.0f} "
          f"decisions/s  ({rate / baseline:.2f}x baseline)")
    for n in (1_000, 10_000, 100_000):
        n //= scale
        micros = steady(n, customers, steps=5_000 // scale)
        print(f"steady state, {n:>7,} queued        : {micros:8.1f} us per finish+decision "
              f"({1e6 / micros:,.0f}/s)")
    per_job = memory_per_job(queued, customers)
    print(f"memory per queued job               : {per_job:8.0f} bytes")


if __name__ == "__main__":
    main()
