from __future__ import annotations

import pytest

from tierq.api.defaults import default_policy_spec
from tierq.core.policy import compile_policy
from tierq.core.tiers import classify_customer

POLICY = compile_policy(default_policy_spec())  # hysteresis 10 %


def test_volume_rule() -> None:
    decision = classify_customer(POLICY, 12_000, None, None)
    assert (decision.tier, decision.assigned_by) == ("medium", "Volume")


def test_pin_overrides_volume() -> None:
    decision = classify_customer(POLICY, 100, "large", "small")
    assert (decision.tier, decision.assigned_by) == ("large", "Pinned")


def test_pin_to_unknown_tier_is_a_problem_naming_the_field() -> None:
    decision = classify_customer(POLICY, 100, "huge", "small")
    assert decision.tier is None
    assert decision.problem is not None and "spec.tier" in decision.problem


@pytest.mark.parametrize(("volume", "tier"), [
    (10_500, "small"),   # within 10 % above the small band's edge: stays
    (10_999, "small"),
    (11_000, "medium"),  # 10 % past the edge: moves
    (9_000, "small"),
])
def test_hysteresis_upwards(volume: int, tier: str) -> None:
    assert classify_customer(POLICY, volume, None, "small").tier == tier


@pytest.mark.parametrize(("volume", "tier"), [(9_500, "medium"), (9_000, "medium"),
                                              (8_999, "small")])
def test_hysteresis_downwards(volume: int, tier: str) -> None:
    assert classify_customer(POLICY, volume, None, "medium").tier == tier


def test_a_customer_hovering_at_the_edge_does_not_flap() -> None:
    tier = "small"
    changes = 0
    for volume in [9_900, 10_100, 9_950, 10_300, 9_800, 10_050] * 10:
        new = classify_customer(POLICY, volume, None, tier).tier
        changes += new != tier
        tier = new or tier
    assert changes == 0


def test_negative_volume_is_an_error_naming_the_field() -> None:
    with pytest.raises(ValueError, match=r"spec\.recordVolume"):
        classify_customer(POLICY, -1, None, None)
