"""Compile a TierPolicySpec into the lookup tables the scheduler works with.

The API server already rejects most bad policies (schema and CEL rules on the CRD); this
checks what CEL cannot, and resolves the lanes' defaults and overrides once, so that no
decision has to merge settings again.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import NamedTuple

from tierq.api.contract import LABEL_POOL
from tierq.api.policy import (
    DurationClass,
    JobType,
    LaneOverride,
    LaneSettings,
    NodePool,
    ResourceRequirements,
    Tier,
    TierPolicySpec,
    Toleration,
)
from tierq.core.errors import PolicyError


class LaneKey(NamedTuple):
    """A lane: one tier x one duration class."""

    tier: str
    duration_class: str

    @property
    def name(self) -> str:
        return f"{self.tier}.{self.duration_class}"


@dataclass(frozen=True, slots=True)
class LaneConfig:
    """A lane's resolved settings (defaults merged with its overrides)."""

    key: LaneKey
    max_running: int
    max_running_per_customer: int | None
    node_pool: NodePool
    cohort: str | None
    max_lend: int | None
    may_borrow: bool
    class_max_seconds: int | None
    resources: ResourceRequirements | None
    backoff_limit: int
    active_deadline_seconds: int | None
    ttl_seconds_after_finished: int | None

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def node_selector(self) -> dict[str, str]:
        return dict(self.node_pool.node_selector or {LABEL_POOL: self.node_pool.name})

    @property
    def tolerations(self) -> list[Toleration]:
        if self.node_pool.tolerations is not None:
            return list(self.node_pool.tolerations)
        return [Toleration(key=LABEL_POOL, operator="Equal", value=self.node_pool.name,
                           effect="NoSchedule")]


_SETTINGS = tuple(LaneSettings.model_fields)


@dataclass(frozen=True)
class CompiledPolicy:
    """A valid policy, ready for decisions: O(log n) tier and class look-ups, lanes by name."""

    spec: TierPolicySpec
    tiers: tuple[Tier, ...]
    classes: tuple[DurationClass, ...]
    job_types: dict[str, JobType]
    lanes: dict[str, LaneConfig]
    tier_floors: tuple[int, ...]
    class_bounds: tuple[float, ...]

    @property
    def tier_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tiers)

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.classes)

    @property
    def total_slots(self) -> int:
        return sum(lane.max_running for lane in self.lanes.values())

    def lane(self, tier: str, duration_class: str) -> LaneConfig:
        return self.lanes[LaneKey(tier, duration_class).name]

    def tier_index(self, name: str) -> int:
        return self.tier_names.index(name)

    def tier_band(self, name: str) -> tuple[int, float]:
        """[low, high) record volumes of a tier."""
        i = self.tier_index(name)
        high = self.tier_floors[i + 1] if i + 1 < len(self.tiers) else float("inf")
        return self.tier_floors[i], high

    def tier_for_volume(self, volume: int) -> str:
        return self.tiers[bisect.bisect_right(self.tier_floors, volume) - 1].name

    def class_for_seconds(self, seconds: float) -> str:
        """The first class whose bound holds the estimate (bounds are inclusive)."""
        return self.classes[bisect.bisect_left(self.class_bounds, seconds)].name


def _check_order(spec: TierPolicySpec) -> None:
    if spec.tiers[0].min_records != 0:
        raise PolicyError("spec.tiers[0].minRecords", "the first tier must start at 0 records")
    for i in range(1, len(spec.tiers)):
        if spec.tiers[i].min_records <= spec.tiers[i - 1].min_records:
            raise PolicyError(
                f"spec.tiers[{i}].minRecords",
                f"{spec.tiers[i].min_records} is not above the previous tier's "
                f"{spec.tiers[i - 1].min_records}: bands must ascend and cannot overlap",
            )
    previous: int | None = 0
    for i, cls in enumerate(spec.duration_classes):
        if previous is None:
            raise PolicyError(f"spec.durationClasses[{i}]",
                              "only the last duration class may be unbounded")
        if cls.max_seconds is not None and cls.max_seconds <= previous:
            raise PolicyError(f"spec.durationClasses[{i}].maxSeconds",
                              f"{cls.max_seconds} does not ascend")
        previous = cls.max_seconds
    for field, names in (("tiers", [t.name for t in spec.tiers]),
                         ("durationClasses", [c.name for c in spec.duration_classes]),
                         ("jobTypes", [j.name for j in spec.job_types]),
                         ("nodePools", [p.name for p in spec.node_pools])):
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                raise PolicyError(f"spec.{field}[{i}].name", f"duplicate name {name!r}")
            seen.add(name)


def _specificity(override: LaneOverride) -> int:
    return (2 if override.tier else 0) + (1 if override.duration_class else 0)


def _resolve_lane(spec: TierPolicySpec, tier: str, cls: DurationClass,
                  pools: dict[str, NodePool]) -> LaneConfig:
    merged = spec.lanes.defaults.model_dump(include=set(_SETTINGS))
    matching = [
        o for o in spec.lanes.overrides
        if o.tier in (None, tier) and o.duration_class in (None, cls.name)
    ]
    for override in sorted(matching, key=_specificity):  # stable: later wins at equal rank
        for name in _SETTINGS:
            value = getattr(override, name)
            if value is not None:
                merged[name] = value
    lane = LaneKey(tier, cls.name)
    field = f"spec.lanes (lane {lane.name})"
    if merged["max_running"] is None:
        raise PolicyError(f"{field}.maxRunning", "no maxRunning in defaults or overrides")
    if merged["node_pool"] is None:
        raise PolicyError(f"{field}.nodePool", "no nodePool in defaults or overrides")
    if merged["node_pool"] not in pools:
        raise PolicyError(f"{field}.nodePool", f"unknown node pool {merged['node_pool']!r}")
    deadline = merged["active_deadline_seconds"]
    if deadline is None and cls.max_seconds is not None:
        deadline = 2 * cls.max_seconds + 60  # the estimate is an estimate
    may_borrow = (
        merged["max_running"] > 0  # maxRunning 0 closes a lane: it does not borrow either
        and merged["cohort"] is not None
        and cls.max_seconds is not None
        and cls.max_seconds <= spec.borrowing.max_borrower_class_seconds
    )
    resources = merged["resources"]
    return LaneConfig(
        key=lane,
        max_running=merged["max_running"],
        max_running_per_customer=merged["max_running_per_customer"],
        node_pool=pools[merged["node_pool"]],
        cohort=merged["cohort"],
        max_lend=merged["max_lend"],
        may_borrow=may_borrow,
        class_max_seconds=cls.max_seconds,
        resources=ResourceRequirements.model_validate(resources) if resources else None,
        backoff_limit=merged["backoff_limit"] if merged["backoff_limit"] is not None else 2,
        active_deadline_seconds=deadline,
        ttl_seconds_after_finished=merged["ttl_seconds_after_finished"],
    )


def compile_policy(spec: TierPolicySpec) -> CompiledPolicy:
    """Validate what the CRD cannot and resolve every lane; raise PolicyError naming the field."""
    _check_order(spec)
    tier_names = {t.name for t in spec.tiers}
    class_names = {c.name for c in spec.duration_classes}
    pools = {p.name: p for p in spec.node_pools}
    for i, override in enumerate(spec.lanes.overrides):
        if override.tier is not None and override.tier not in tier_names:
            raise PolicyError(f"spec.lanes.overrides[{i}].tier",
                              f"unknown tier {override.tier!r}")
        if override.duration_class is not None and override.duration_class not in class_names:
            raise PolicyError(f"spec.lanes.overrides[{i}].durationClass",
                              f"unknown duration class {override.duration_class!r}")
        if override.node_pool is not None and override.node_pool not in pools:
            raise PolicyError(f"spec.lanes.overrides[{i}].nodePool",
                              f"unknown node pool {override.node_pool!r}")
    lanes = {
        LaneKey(t.name, c.name).name: _resolve_lane(spec, t.name, c, pools)
        for t in spec.tiers
        for c in spec.duration_classes
    }
    cohort_pool: dict[str, str] = {}
    for lane in lanes.values():
        if lane.cohort is None:
            continue
        pool = cohort_pool.setdefault(lane.cohort, lane.node_pool.name)
        if pool != lane.node_pool.name:
            raise PolicyError(
                f"spec.lanes (lane {lane.name}).cohort",
                f"cohort {lane.cohort!r} spans node pools {pool!r} and "
                f"{lane.node_pool.name!r}; a cohort lends slots inside one pool",
            )
    return CompiledPolicy(
        spec=spec,
        tiers=tuple(spec.tiers),
        classes=tuple(spec.duration_classes),
        job_types={j.name: j for j in spec.job_types},
        lanes=lanes,
        tier_floors=tuple(t.min_records for t in spec.tiers),
        class_bounds=tuple(
            float(c.max_seconds) if c.max_seconds is not None else float("inf")
            for c in spec.duration_classes
        ),
    )
