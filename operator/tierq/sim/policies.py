"""The policies a simulation compares, all run by the same scheduling core.

- `tierq`: the TierPolicy as given (lanes = tier x duration class, fair share inside a lane,
  borrowing inside a cohort);
- `fifo`: one queue over the same number of workers, what a plain Celery/RQ deployment does.
  Modelled with the core: one tier, one unbounded class, one lane of N slots, and every job
  submitted for one synthetic customer, so the order inside the lane is arrival order
  (the core's fair share has nobody to share with);
- `per-tier`: one queue per customer tier, first come first served inside it (a Celery
  queue per customer type). The same tiers and, per tier, the sum of the tierq lanes' slots.

A `PolicyModel` also says which scheduler customer a workload customer submits as.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tierq.api.policy import (
    DurationClass,
    LaneOverride,
    Lanes,
    LaneSettings,
    Tier,
    TierPolicySpec,
)
from tierq.core.policy import CompiledPolicy, compile_policy
from tierq.sim.workload import SimCustomer

POLICY_NAMES = ("tierq", "fifo", "per-tier")
_ANY = "any"


@dataclass(frozen=True)
class SchedulerCustomer:
    key: str
    site_id: int
    volume: int
    pin: str | None


@dataclass(frozen=True)
class PolicyModel:
    """A compiled policy and how the workload's customers map onto scheduler customers."""

    name: str
    policy: CompiledPolicy
    customers: tuple[SchedulerCustomer, ...]
    submit_as: tuple[int, ...]
    """Workload customer index -> index into `customers`."""

    @property
    def slots(self) -> int:
        return self.policy.total_slots


def tierq_model(policy: CompiledPolicy, customers: Sequence[SimCustomer]) -> PolicyModel:
    mapped = tuple(SchedulerCustomer(c.name, c.site_id, c.volume, None) for c in customers)
    return PolicyModel("tierq", policy, mapped, tuple(range(len(customers))))


def _single_class(spec: TierPolicySpec, tiers: list[Tier], overrides: list[LaneOverride],
                  default_slots: int) -> CompiledPolicy:
    pool = spec.node_pools[0].name
    return compile_policy(TierPolicySpec(
        tiers=tiers,
        duration_classes=[DurationClass(name=_ANY, description="every job")],
        job_types=list(spec.job_types),
        node_pools=[spec.node_pools[0]],
        lanes=Lanes(defaults=LaneSettings(max_running=default_slots, node_pool=pool),
                    overrides=overrides),
        estimates=spec.estimates,
    ))


def fifo_model(reference: CompiledPolicy, customers: Sequence[SimCustomer],
               slots: int | None = None) -> PolicyModel:
    """One FIFO queue of `slots` workers (default: the reference policy's total)."""
    total = reference.total_slots if slots is None else slots
    policy = _single_class(reference.spec, [Tier(name="all", min_records=0)], [], total)
    # Every workload customer submits as this one customer: plain arrival order.
    everyone = SchedulerCustomer("everyone", 1, 0, None)
    return PolicyModel("fifo", policy, (everyone,), (0,) * len(customers))


def tier_slots(reference: CompiledPolicy) -> dict[str, int]:
    """Slots per tier: the sum of the tier's lanes."""
    slots = dict.fromkeys(reference.tier_names, 0)
    for lane in reference.lanes.values():
        slots[lane.key.tier] += lane.max_running
    return slots


def per_tier_model(reference: CompiledPolicy, customers: Sequence[SimCustomer]) -> PolicyModel:
    """One FIFO queue per tier, each with the slots tierq gives the tier's lanes together."""
    slots = tier_slots(reference)
    overrides = [LaneOverride(tier=name, max_running=n) for name, n in slots.items()]
    policy = _single_class(reference.spec, list(reference.spec.tiers), overrides, 0)
    # One synthetic customer per tier, pinned there: FIFO inside the tier's queue. Customers
    # keep the tier the reference policy's volume rule gives them.
    tier_names = reference.tier_names
    mapped = tuple(
        SchedulerCustomer(f"tier-{name}", i + 1, 0, name) for i, name in enumerate(tier_names)
    )
    submit_as = tuple(tier_names.index(reference.tier_for_volume(c.volume)) for c in customers)
    return PolicyModel("per-tier", policy, mapped, submit_as)


def build_models(names: Sequence[str], reference: CompiledPolicy,
                 customers: Sequence[SimCustomer]) -> list[PolicyModel]:
    models = []
    for name in names:
        if name == "tierq":
            models.append(tierq_model(reference, customers))
        elif name == "fifo":
            models.append(fifo_model(reference, customers))
        elif name == "per-tier":
            models.append(per_tier_model(reference, customers))
        else:
            raise ValueError(f"unknown policy {name!r} (known: {', '.join(POLICY_NAMES)})")
    return models


# ---- what-if ---------------------------------------------------------------------------------
_LANE_FIELDS = {
    name: (info.alias or name) for name, info in LaneSettings.model_fields.items()
}
_BY_ALIAS = {alias.lower(): name for name, alias in _LANE_FIELDS.items()} | {
    name.lower(): name for name in _LANE_FIELDS
}


def _scalar(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("null", "none", ""):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def apply_what_if(spec: TierPolicySpec, knobs: Sequence[str]) -> TierPolicySpec:
    """A copy of `spec` with the knobs applied. Knobs:

    - `lane=<tier>.<class>:<field>=<value>[,<field>=<value>...]` (one lane),
    - `tier=<tier>:...` / `class=<class>:...` (every lane of a tier / duration class),
    - `<path.in.spec>=<value>`, e.g. `borrowing.maxBorrowerClassSeconds=7200`.

    Lane fields are LaneSettings' (maxRunning, maxRunningPerCustomer, cohort, maxLend...).
    A lane knob is appended as the most specific override, so it wins.
    """
    wire = spec.to_wire()
    for knob in knobs:
        head, sep, rest = knob.partition(":")
        scope, _, target = head.partition("=")
        if sep and scope in ("lane", "tier", "class"):
            override: dict[str, Any] = {}
            if scope == "lane":
                tier, dot, cls = target.partition(".")
                if not dot:
                    raise ValueError(f"--what-if {knob}: a lane is <tier>.<class>")
                override = {"tier": tier, "durationClass": cls}
            elif scope == "tier":
                override = {"tier": target}
            else:
                override = {"durationClass": target}
            for assignment in rest.split(","):
                key, eq, value = assignment.partition("=")
                field = _BY_ALIAS.get(key.strip().lower())
                if not eq or field is None:
                    raise ValueError(f"--what-if {knob}: {key!r} is not a lane setting "
                                     f"({', '.join(sorted(_LANE_FIELDS.values()))})")
                override[_LANE_FIELDS[field]] = _scalar(value.strip())
            wire.setdefault("lanes", {}).setdefault("overrides", []).append(override)
            continue
        path, eq, value = knob.partition("=")
        if not eq:
            raise ValueError(f"--what-if {knob}: expected lane=..., tier=..., class=... "
                             "or <path>=<value>")
        node = wire
        parts = path.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(f"--what-if {knob}: {part} is not an object")
            node = child
        node[parts[-1]] = _scalar(value)
    return TierPolicySpec.model_validate(wire)


def lane_slots_spec(spec: TierPolicySpec, slots: dict[str, dict[str, int]]) -> TierPolicySpec:
    """`spec` with maxRunning of the given lanes set (tier -> class -> slots)."""
    knobs = [f"lane={tier}.{cls}:maxRunning={n}"
             for tier, per_class in slots.items() for cls, n in per_class.items()]
    return apply_what_if(spec, knobs)
