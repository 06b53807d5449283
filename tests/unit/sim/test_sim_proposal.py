"""The proposed policy file stays valid and keeps the default's worker count."""

from __future__ import annotations

from pathlib import Path

from tierq.api.defaults import default_policy_spec
from tierq.cli.main import read_policy_file
from tierq.core.policy import compile_policy
from tierq.sim import WorkloadParams, simulate

PROPOSED = Path(__file__).parents[3] / "operator" / "tierq" / "sim" / "policies" / "proposed.yaml"


def test_proposed_policy_compiles_with_the_default_slot_count() -> None:
    proposed = compile_policy(read_policy_file(PROPOSED))
    assert proposed.total_slots == compile_policy(default_policy_spec()).total_slots
    assert proposed.lane("large", "marathon").may_borrow  # bounded: the batch cohort pools
    assert not proposed.lane("large", "epic").may_borrow


def test_proposed_policy_keeps_instant_jobs_waiting_less_than_fifo() -> None:
    report = simulate(read_policy_file(PROPOSED), params=WorkloadParams(jobs=3000, seed=1,
                                                                        load=0.7),
                      policies=["tierq", "fifo"])
    tierq, fifo = report.policy("tierq"), report.policy("fifo")
    assert tierq.groups["small.instant"].p95 < 60
    assert tierq.groups["small.instant"].p95 <= 0.01 * fifo.groups["small.instant"].p95
