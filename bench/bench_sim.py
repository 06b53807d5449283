"""Simulator throughput: simulated jobs per second, per policy (figures printed, not asserted).

    PYTHONPATH=operator python bench/bench_sim.py [--jobs 1000000] [--seed 1]

Generates the brief's workload (bursts included) at load 0.9 on the default policy, then runs
each policy in this process, one after the other, and prints jobs/s and schedule() calls.
`tierq simulate` runs the policies in parallel processes from 50,000 jobs, so its wall time
is about that of the slowest policy.
"""

from __future__ import annotations

import argparse
import time

from tierq.api.defaults import default_policy_spec
from tierq.core.policy import compile_policy
from tierq.sim import WorkloadParams, build_models, generate_workload, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--load", type=float, default=0.9)
    args = parser.parse_args()
    policy = compile_policy(default_policy_spec())
    began = time.perf_counter()
    workload = generate_workload(
        WorkloadParams(jobs=args.jobs, seed=args.seed, load=args.load, slots=policy.total_slots),
        policy)
    print(f"workload: {len(workload):,} jobs, {workload.horizon / 86400:,.0f} simulated days, "
          f"generated in {time.perf_counter() - began:.1f}s")
    for model in build_models(("tierq", "fifo", "per-tier"), policy, workload.customers):
        result = run(workload, model)
        print(f"{model.name:>9}: {len(workload) / result.wall_seconds:>9,.0f} jobs/s  "
              f"({result.wall_seconds:.1f}s, {result.schedule_calls:,} schedule() calls)")


if __name__ == "__main__":
    main()
