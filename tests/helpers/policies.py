"""Small policies for scheduler tests: few lanes, known sizes."""

from __future__ import annotations

from typing import Any

from tierq.api.policy import (
    DurationClass,
    JobType,
    LaneOverride,
    Lanes,
    LaneSettings,
    NodePool,
    Tier,
    TierPolicySpec,
)


def small_spec(**lane_defaults: Any) -> TierPolicySpec:
    """Two tiers x two classes; task_a is 1 s/record, task_fixed 5 s flat."""
    settings = {"max_running": 1, "node_pool": "p"} | lane_defaults
    return TierPolicySpec(
        tiers=[Tier(name="small", min_records=0), Tier(name="large", min_records=100)],
        duration_classes=[DurationClass(name="quick", max_seconds=60),
                          DurationClass(name="slow")],
        job_types=[JobType(name="task_a", seconds_per_record=1.0),
                   JobType(name="task_fixed", expected_seconds=5)],
        node_pools=[NodePool(name="p")],
        lanes=Lanes(defaults=LaneSettings(**settings)),
    )


def with_overrides(spec: TierPolicySpec, *overrides: LaneOverride) -> TierPolicySpec:
    spec = spec.model_copy(deep=True)
    spec.lanes.overrides = list(overrides)
    return spec
