"""One simulation: a workload, the policies side by side, their figures."""

from __future__ import annotations

import math
import multiprocessing
import os
import queue
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from tierq.api.policy import TierPolicySpec
from tierq.core.policy import CompiledPolicy, compile_policy
from tierq.sim.engine import RunResult, run
from tierq.sim.metrics import PolicyStats, job_groups, lane_demand, summarize
from tierq.sim.policies import POLICY_NAMES, PolicyModel, build_models
from tierq.sim.workload import Workload, WorkloadParams, generate_workload

PolicyProgress = Callable[[str, int], None]
"""Called with (policy, jobs finished so far)."""

PARALLEL_FROM_JOBS = 50_000
"""Below this, forking worker processes costs more than it saves."""


@dataclass
class SimulationReport:
    jobs: int
    customers: int
    horizon_seconds: float
    burst_jobs: int
    slots: int
    load: float | None
    seed: int | None
    lane_slots: dict[str, int]
    """maxRunning of every lane of the tierq policy."""
    lane_demand: dict[str, float]
    """Offered load per lane in busy slots (run time of its jobs / horizon)."""
    policies: list[PolicyStats] = field(default_factory=list)

    def policy(self, name: str) -> PolicyStats:
        return next(p for p in self.policies if p.policy == name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, without the per-job waits."""

        def clean(value: Any) -> Any:
            if isinstance(value, float) and not math.isfinite(value):
                return None
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items()}
            if isinstance(value, list):
                return [clean(v) for v in value]
            return value

        return {
            "workload": {
                "jobs": self.jobs,
                "customers": self.customers,
                "horizonSeconds": self.horizon_seconds,
                "burstJobs": self.burst_jobs,
                "load": self.load,
                "seed": self.seed,
            },
            "slots": self.slots,
            "lanes": {
                name: {"maxRunning": self.lane_slots.get(name),
                       "offeredSlots": round(self.lane_demand.get(name, 0.0), 4)}
                for name in self.lane_slots
            },
            "policies": [
                clean({
                    "policy": p.policy,
                    "slots": p.slots,
                    "utilization": p.utilization,
                    "jain": p.jain,
                    "borrowedAdmissions": p.borrowed,
                    "wallSeconds": round(p.wall_seconds, 3),
                    "overall": asdict(p.overall),
                    "burstJobs": asdict(p.burst),
                    "groups": {name: asdict(s) for name, s in p.groups.items()},
                    "steadyGroups": {name: asdict(s) for name, s in p.steady_groups.items()},
                })
                for p in self.policies
            ],
        }


# A queue the forked workers report progress on (inherited through fork, not pickled).
_progress_queue: Any = None


def _run_in_worker(workload: Workload, model: PolicyModel) -> RunResult:
    report = _progress_queue
    return run(workload, model, (lambda done: report.put((model.name, done)))
               if report is not None else None)


def _bind(progress: PolicyProgress | None, name: str) -> Callable[[int], None] | None:
    if progress is None:
        return None
    return lambda done: progress(name, done)


def _run_all(workload: Workload, models: Sequence[PolicyModel], progress: PolicyProgress | None,
             workers: int) -> list[RunResult]:
    if workers <= 1 or len(models) <= 1:
        return [run(workload, m, _bind(progress, m.name)) for m in models]
    global _progress_queue
    context = multiprocessing.get_context("fork")
    _progress_queue = context.Queue()
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures: list[Future[RunResult]] = [
                pool.submit(_run_in_worker, workload, m) for m in models
            ]
            while not all(f.done() for f in futures):
                try:
                    name, done = _progress_queue.get(timeout=0.2)
                except queue.Empty:
                    continue
                if progress is not None:
                    progress(name, done)
            return [f.result() for f in futures]
    finally:
        _progress_queue = None


def simulate(
    spec: TierPolicySpec,
    *,
    params: WorkloadParams | None = None,
    workload: Workload | None = None,
    policies: Sequence[str] = POLICY_NAMES,
    progress: PolicyProgress | None = None,
    workers: int | None = None,
) -> SimulationReport:
    """Run `policies` on one workload: the given one, else one generated from `params`.

    The tierq policy is `spec`; the baselines get the same total number of slots.
    """
    reference: CompiledPolicy = compile_policy(spec)
    if workload is None:
        params = params or WorkloadParams()
        params = WorkloadParams(**{**asdict(params), "slots": reference.total_slots})
        workload = generate_workload(params, reference)
    names, groups = job_groups(workload, reference)
    models = build_models(policies, reference, workload.customers)
    if workers is None:
        workers = min(len(models), os.cpu_count() or 1) if len(workload) >= PARALLEL_FROM_JOBS \
            else 1
    results = _run_all(workload, models, progress, workers)
    return SimulationReport(
        jobs=len(workload),
        customers=len(workload.customers),
        horizon_seconds=workload.horizon,
        burst_jobs=sum(workload.burst),
        slots=reference.total_slots,
        load=params.load if params else None,
        seed=params.seed if params else None,
        lane_slots={name: lane.max_running for name, lane in reference.lanes.items()},
        lane_demand=lane_demand(workload, names, groups),
        policies=[summarize(workload, r, names, groups) for r in results],
    )
