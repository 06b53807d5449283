from __future__ import annotations

import pytest
from pydantic import ValidationError

from helpers.policies import small_spec, with_overrides
from tierq.api.defaults import default_policy_spec
from tierq.api.policy import DurationClass, LaneOverride, NodePool, Tier
from tierq.core.errors import PolicyError
from tierq.core.policy import compile_policy


def test_default_policy_has_fifteen_lanes_on_three_pools() -> None:
    policy = compile_policy(default_policy_spec())
    assert len(policy.lanes) == 15
    assert {lane.node_pool.name for lane in policy.lanes.values()} == {
        "interactive", "standard", "batch"}
    assert policy.lane("small", "instant").node_selector == {"tierq.dev/pool": "interactive"}
    assert policy.lane("large", "marathon").tolerations[0].value == "batch"


@pytest.mark.parametrize(("volume", "tier"), [(0, "small"), (9_999, "small"), (10_000, "medium"),
                                              (49_999, "medium"), (50_000, "large")])
def test_tier_bands_follow_the_brief(volume: int, tier: str) -> None:
    assert compile_policy(default_policy_spec()).tier_for_volume(volume) == tier


@pytest.mark.parametrize(("seconds", "cls"), [(0.5, "instant"), (10, "instant"),
                                              (10.01, "short"), (1800, "medium"),
                                              (21_601, "marathon"), (2e6, "marathon")])
def test_class_bounds_are_inclusive(seconds: float, cls: str) -> None:
    assert compile_policy(default_policy_spec()).class_for_seconds(seconds) == cls


def test_overrides_apply_from_least_to_most_specific() -> None:
    spec = with_overrides(
        small_spec(max_running=1),
        LaneOverride(tier="large", duration_class="slow", max_running=7),  # most specific
        LaneOverride(tier="large", max_running=5),
        LaneOverride(duration_class="slow", max_running=3, max_running_per_customer=1),
    )
    policy = compile_policy(spec)
    assert policy.lane("small", "quick").max_running == 1
    assert policy.lane("small", "slow").max_running == 3
    assert policy.lane("large", "quick").max_running == 5
    assert policy.lane("large", "slow").max_running == 7
    assert policy.lane("large", "slow").max_running_per_customer == 1


def test_only_bounded_classes_under_the_limit_may_borrow() -> None:
    spec = default_policy_spec()
    spec.borrowing.max_borrower_class_seconds = 1800
    policy = compile_policy(spec)
    assert policy.lane("small", "medium").may_borrow  # 1,800 s <= 1,800 s
    assert not policy.lane("small", "long").may_borrow
    assert not policy.lane("large", "marathon").may_borrow
    policy = compile_policy(default_policy_spec())  # the default lets 6 h lanes borrow
    assert policy.lane("small", "long").may_borrow
    assert not policy.lane("large", "marathon").may_borrow


def test_default_deadline_is_twice_the_class_bound() -> None:
    policy = compile_policy(small_spec())
    assert policy.lane("small", "quick").active_deadline_seconds == 180
    assert policy.lane("small", "slow").active_deadline_seconds is None


def test_overlapping_bands_are_rejected_naming_the_field() -> None:
    spec = small_spec()
    spec.tiers = [Tier(name="a", min_records=0), Tier(name="b", min_records=50),
                  Tier(name="c", min_records=50)]
    with pytest.raises(PolicyError) as err:
        compile_policy(spec)
    assert err.value.field == "spec.tiers[2].minRecords"


def test_first_tier_must_start_at_zero() -> None:
    spec = small_spec()
    spec.tiers = [Tier(name="a", min_records=5)]
    with pytest.raises(PolicyError, match=r"spec.tiers\[0\].minRecords"):
        compile_policy(spec)


def test_unbounded_class_must_be_last() -> None:
    spec = small_spec()
    spec.duration_classes = [DurationClass(name="x"), DurationClass(name="y", max_seconds=5)]
    with pytest.raises(PolicyError, match=r"spec.durationClasses\[1\]"):
        compile_policy(spec)


def test_descending_classes_are_rejected() -> None:
    spec = small_spec()
    spec.duration_classes = [DurationClass(name="x", max_seconds=50),
                             DurationClass(name="y", max_seconds=5), DurationClass(name="z")]
    with pytest.raises(PolicyError, match=r"spec.durationClasses\[1\].maxSeconds"):
        compile_policy(spec)


def test_unknown_tier_in_override_is_rejected() -> None:
    spec = with_overrides(small_spec(), LaneOverride(tier="huge", max_running=1))
    with pytest.raises(PolicyError, match=r"spec.lanes.overrides\[0\].tier"):
        compile_policy(spec)


def test_unknown_pool_is_rejected() -> None:
    spec = with_overrides(small_spec(), LaneOverride(duration_class="slow", node_pool="gpu"))
    with pytest.raises(PolicyError, match="nodePool"):
        compile_policy(spec)


def test_a_cohort_cannot_span_pools() -> None:
    spec = small_spec(cohort="c")
    spec.node_pools.append(NodePool(name="q"))
    spec = with_overrides(spec, LaneOverride(duration_class="slow", node_pool="q"))
    with pytest.raises(PolicyError, match="cohort 'c' spans node pools"):
        compile_policy(spec)


def test_negative_max_running_is_rejected_by_the_model() -> None:
    with pytest.raises(ValidationError, match=r"maxRunning|max_running"):
        LaneOverride.model_validate({"tier": "small", "maxRunning": -1})
