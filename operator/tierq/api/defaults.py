"""The default TierPolicy: the brief's three tiers, five duration classes and five tasks.

The chart's values.yaml renders the same policy; `tests/chart/test_chart.py` keeps the two
in step. Lane sizes come from `tierq simulate` on the brief's workload (see README).
"""

from __future__ import annotations

from tierq.api.policy import (
    Borrowing,
    DurationClass,
    JobType,
    LaneOverride,
    Lanes,
    LaneSettings,
    NodePool,
    ResourceRequirements,
    Tier,
    TierPolicySpec,
)

TIERS = (
    Tier(name="small", min_records=0, description="Low: fewer than 10,000 active records"),
    Tier(name="medium", min_records=10_000, description="Medium: 10,000 to 49,999"),
    Tier(name="large", min_records=50_000, description="High: 50,000 and more"),
)

DURATION_CLASSES = (
    DurationClass(name="instant", max_seconds=10, description="up to 10 s"),
    DurationClass(name="short", max_seconds=120, description="up to 2 min"),
    DurationClass(name="medium", max_seconds=1800, description="up to 30 min"),
    DurationClass(name="long", max_seconds=21600, description="up to 6 h"),
    DurationClass(name="marathon", description="longer than 6 h"),
)

JOB_TYPES = tuple(
    JobType(name=f"task_0{i}", seconds_per_record=spr, description=f"{spr:g} s per record")
    for i, spr in enumerate((0.001, 0.01, 0.1, 1.0, 10.0), start=1)
)

# Pools by run time: short work never queues behind node capacity taken by weeks-long work.
NODE_POOLS = (NodePool(name="interactive"), NodePool(name="standard"), NodePool(name="batch"))

CLASS_POOL = {
    "instant": "interactive",
    "short": "interactive",
    "medium": "standard",
    "long": "batch",
    "marathon": "batch",
}

# Worker slots per lane (tier -> class -> maxRunning): 44 in all. Sized with `tierq simulate`
# on the brief's workload (README, "Figures"): instant/short/medium lanes use less than one
# slot each and borrow inside their cohort, so one slot each keeps their waits at zero; long
# and marathon lanes get the rest, in proportion to their measured demand.
LANE_SLOTS: dict[str, dict[str, int]] = {
    "small": {"instant": 1, "short": 1, "medium": 1, "long": 2, "marathon": 3},
    "medium": {"instant": 1, "short": 1, "medium": 1, "long": 2, "marathon": 11},
    "large": {"instant": 1, "short": 1, "medium": 1, "long": 2, "marathon": 15},
}

# Only lanes bounded by at most 6 h borrow: long lanes take idle marathon slots, and a
# marathon lane that lent a slot gets it back within 6 h (jobs are never preempted).
MAX_BORROWER_CLASS_SECONDS = 21_600

# One customer's burst may take at most this many slots of a long-running lane, so the lane
# keeps room for other customers while the burst runs for days (no preemption).
MAX_RUNNING_PER_CUSTOMER = {"long": 2, "marathon": 8}


def default_lanes(slots: dict[str, dict[str, int]] | None = None) -> Lanes:
    """Lanes: one override per class (pool, cohort, cap), one per lane (its slots)."""
    slots = slots or LANE_SLOTS
    overrides = [
        LaneOverride(duration_class=cls, node_pool=pool, cohort=pool)
        for cls, pool in CLASS_POOL.items()
    ]
    overrides += [
        LaneOverride(duration_class=cls, max_running_per_customer=cap)
        for cls, cap in MAX_RUNNING_PER_CUSTOMER.items()
    ]
    overrides += [
        LaneOverride(tier=tier, duration_class=cls, max_running=n)
        for tier, per_class in slots.items()
        for cls, n in per_class.items()
    ]
    return Lanes(
        defaults=LaneSettings(
            max_running=2,
            node_pool="standard",
            backoff_limit=2,
            ttl_seconds_after_finished=3600,
            resources=ResourceRequirements(
                requests={"cpu": "100m", "memory": "128Mi"}, limits={"memory": "512Mi"}
            ),
        ),
        overrides=overrides,
    )


def default_policy_spec() -> TierPolicySpec:
    """A fresh copy of the default policy."""
    return TierPolicySpec(
        tiers=list(TIERS),
        duration_classes=list(DURATION_CLASSES),
        job_types=list(JOB_TYPES),
        node_pools=list(NODE_POOLS),
        lanes=default_lanes(),
        borrowing=Borrowing(max_borrower_class_seconds=MAX_BORROWER_CLASS_SECONDS),
    )
