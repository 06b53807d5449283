"""Which tier a customer is in: its pin, else its volume band with hysteresis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tierq.core.policy import CompiledPolicy

AssignedBy = Literal["Volume", "Pinned"]


@dataclass(frozen=True, slots=True)
class TierDecision:
    tier: str | None  # None: the pin names a tier the policy does not have
    assigned_by: AssignedBy
    problem: str | None = None  # a sentence when the customer cannot be tiered


def classify_customer(policy: CompiledPolicy, volume: int, pin: str | None,
                      current: str | None) -> TierDecision:
    """Tier of a customer.

    A pin wins. Otherwise the volume band decides, except that a customer already in a tier
    stays there until its volume is `hysteresisPercent` past the band's edge: a customer
    whose volume hovers at 10,000 does not flap between small and medium.
    """
    if volume < 0:
        raise ValueError(f"spec.recordVolume: {volume} is negative")
    if pin is not None:
        if pin not in policy.tier_names:
            return TierDecision(None, "Pinned", f"spec.tier {pin!r} is not a tier of the "
                                f"TierPolicy (tiers: {', '.join(policy.tier_names)})")
        return TierDecision(pin, "Pinned")
    by_band = policy.tier_for_volume(volume)
    if current is None or current == by_band or current not in policy.tier_names:
        return TierDecision(by_band, "Volume")
    low, high = policy.tier_band(current)
    percent = policy.spec.retier.hysteresis_percent
    # Integer arithmetic: 10 % past 100 is exactly 110, not 110.00000000000001.
    above_floor = volume * 100 >= low * (100 - percent)
    below_ceiling = high == float("inf") or volume * 100 < high * (100 + percent)
    if above_floor and below_ceiling:
        return TierDecision(current, "Volume")
    return TierDecision(by_band, "Volume")
