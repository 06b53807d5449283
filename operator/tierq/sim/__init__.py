"""tierq's discrete-event simulator: the scheduling core over a workload, no cluster.

    from tierq.sim import simulate, WorkloadParams
    report = simulate(default_policy_spec(), params=WorkloadParams(jobs=20_000, seed=1))
"""

from tierq.sim.engine import RunResult, run
from tierq.sim.metrics import PolicyStats, WaitStats, jain_index, percentile, slowdown
from tierq.sim.policies import POLICY_NAMES, apply_what_if, build_models, lane_slots_spec
from tierq.sim.simulation import SimulationReport, simulate
from tierq.sim.workload import (
    SimCustomer,
    Workload,
    WorkloadParams,
    generate_workload,
    load_workload,
    workload_from_data,
)

__all__ = [
    "POLICY_NAMES",
    "PolicyStats",
    "RunResult",
    "SimCustomer",
    "SimulationReport",
    "WaitStats",
    "Workload",
    "WorkloadParams",
    "apply_what_if",
    "build_models",
    "generate_workload",
    "jain_index",
    "lane_slots_spec",
    "load_workload",
    "percentile",
    "run",
    "simulate",
    "slowdown",
    "workload_from_data",
]
