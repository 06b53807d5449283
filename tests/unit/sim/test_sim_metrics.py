"""Percentiles, Jain's index, slowdown, what-if knobs and workload files, by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tierq.api.defaults import default_policy_spec
from tierq.api.policy import TierPolicySpec
from tierq.core.policy import compile_policy
from tierq.sim import apply_what_if, jain_index, load_workload, percentile, slowdown
from tierq.sim.policies import lane_slots_spec


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([1, 2, 3, 4], 0) == 1
    assert percentile([1, 2, 3, 4], 100) == 4
    assert percentile(list(range(101)), 95) == 95
    assert percentile([10], 99) == 10
    assert percentile([0, 10], 95) == pytest.approx(9.5)
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1], 101)


def test_jain_index() -> None:
    assert jain_index([1, 1, 1, 1]) == 1
    assert jain_index([1, 0, 0, 0]) == 0.25
    assert jain_index([1, 2, 3]) == pytest.approx(36 / 42)
    assert jain_index([0, 0]) == 1


def test_slowdown() -> None:
    assert slowdown(0, 10) == 1
    assert slowdown(30, 10) == 4
    assert slowdown(1, 0) == pytest.approx(11)  # runs under 0.1 s count as 0.1 s


def test_what_if_lane_tier_class_and_path_knobs() -> None:
    spec = apply_what_if(default_policy_spec(), [
        "lane=small.instant:maxRunning=8",
        "class=long:maxRunningPerCustomer=5,maxLend=1",
        "tier=large:cohort=null",
        "borrowing.maxBorrowerClassSeconds=7200",
    ])
    policy = compile_policy(spec)
    assert policy.lane("small", "instant").max_running == 8
    assert policy.lane("medium", "long").max_running_per_customer == 5
    assert policy.lane("medium", "long").max_lend == 1
    assert spec.borrowing.max_borrower_class_seconds == 7200
    # the class-wide knob does not beat a lane's own (more specific) maxRunning
    assert policy.lane("small", "long").max_running == compile_policy(
        default_policy_spec()).lane("small", "long").max_running


def test_what_if_errors_name_the_knob() -> None:
    with pytest.raises(ValueError, match="not a lane setting"):
        apply_what_if(default_policy_spec(), ["lane=small.instant:slots=3"])
    with pytest.raises(ValueError, match=r"<tier>\.<class>"):
        apply_what_if(default_policy_spec(), ["lane=small:maxRunning=3"])


def test_lane_slots_spec_sets_every_named_lane() -> None:
    spec = lane_slots_spec(default_policy_spec(), {"large": {"marathon": 17}})
    assert compile_policy(spec).lane("large", "marathon").max_running == 17


def _policy() -> TierPolicySpec:
    return default_policy_spec()


def test_workload_file_as_a_list_of_arrivals(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(
        "- {time: 5, customer: acme, volume: 2000, jobType: task_02}\n"
        "- {time: 1, customer: acme, jobType: task_01, runtime: 3}\n"
    )
    workload = load_workload(path, compile_policy(_policy()))
    assert list(workload.time) == [1, 5]
    assert [workload.job_types[t] for t in workload.job_type] == ["task_01", "task_02"]
    assert list(workload.runtime) == [3, pytest.approx(20)]  # 0.01 s x 2000 records


def test_workload_file_with_customers_round_trips(tmp_path: Path) -> None:
    data = {
        "customers": [{"name": "big", "siteId": 9, "volume": 120_000}],
        "arrivals": [{"time": 0, "customer": "big", "jobType": "task_05", "burst": True}],
    }
    path = tmp_path / "w.json"
    path.write_text(json.dumps(data))
    workload = load_workload(path, compile_policy(_policy()))
    assert workload.customers[0].site_id == 9
    assert workload.runtime[0] == pytest.approx(1_200_000)
    again = tmp_path / "again.json"
    again.write_text(json.dumps(workload.to_dict()))
    assert load_workload(again, compile_policy(_policy())).to_dict() == workload.to_dict()


def test_workload_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("- {time: 0, customer: acme, jobType: task_01}\n")
    with pytest.raises(ValueError, match="no volume"):
        load_workload(path, compile_policy(_policy()))
    path.write_text("- {time: 0, customer: acme, volume: 5, jobType: task_99}\n")
    with pytest.raises(ValueError, match="unknown job type"):
        load_workload(path, compile_policy(_policy()))
