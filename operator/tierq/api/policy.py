"""TierPolicy: the two stores of the brief (customer tiers, duration classes) plus lanes.

One cluster-scoped object named `default` configures the whole scheduler. Cross-field rules
the API server can check are CEL rules here; the few it cannot (they span lists in ways
CEL's cost budget does not allow) are checked by `tierq.core.policy.compile_policy`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from tierq.api.common import ApiModel, Condition, Conditions, JsonDict, Name, cel

POLICY_NAME = "default"
MAX_TIERS = 16
MAX_CLASSES = 16
MAX_JOB_TYPES = 256
MAX_POOLS = 64
MAX_OVERRIDES = 256

# Job type names are task identifiers (task_01), which are not DNS labels.
TaskName = Annotated[
    str, Field(min_length=1, max_length=63, pattern=r"^[a-zA-Z0-9]([-_.a-zA-Z0-9]*[a-zA-Z0-9])?$")
]

Quantity = Annotated[int | str, Field(json_schema_extra={"x-kubernetes-int-or-string": True})]


def _keyed_list(max_items: int) -> JsonDict:
    return {
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
        "maxItems": max_items,
    }


class Tier(ApiModel):
    """A customer type by record volume: the band [minRecords, next tier's minRecords)."""

    name: Name
    """Tier name, e.g. small, medium, large."""
    min_records: Annotated[int, Field(ge=0)]
    """Active records from which a customer belongs to this tier (inclusive). The first tier
    starts at 0; each tier ends where the next begins, so bands never overlap or leave gaps."""
    description: Annotated[str, Field(max_length=256)] = ""
    """Free text shown by `tierq` and kept for humans."""


class DurationClass(ApiModel):
    """A job type by execution time: the jobs whose estimated run time is at most maxSeconds."""

    name: Name
    """Class name, e.g. instant, short, medium, long, marathon."""
    max_seconds: Annotated[int, Field(ge=1)] | None = None
    """Upper bound of estimated run time in seconds (inclusive). Leave it out on the last
    class to make it unbounded."""
    description: Annotated[str, Field(max_length=256)] = ""
    """Free text shown by `tierq` and kept for humans."""


class JobType(ApiModel):
    """A registered task the worker can run, and how to estimate its run time."""

    name: TaskName
    """The task name the worker knows, e.g. task_03 (written task-03 is not the same)."""
    seconds_per_record: Annotated[float, Field(gt=0)] | None = None
    """Cost per active record of the customer: estimate = secondsPerRecord x recordVolume."""
    expected_seconds: Annotated[int, Field(ge=0)] | None = None
    """A fixed estimate for tasks whose run time does not depend on the customer's volume."""
    description: Annotated[str, Field(max_length=256)] = ""
    """Free text shown by `tierq` and kept for humans."""

    model_config = {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                cel(
                    "has(self.secondsPerRecord) != has(self.expectedSeconds)",
                    "exactly one of secondsPerRecord and expectedSeconds must be set",
                )
            ]
        }
    }

    @model_validator(mode="after")
    def _one_estimate(self) -> JobType:
        if (self.seconds_per_record is None) == (self.expected_seconds is None):
            raise ValueError("exactly one of secondsPerRecord and expectedSeconds must be set")
        return self


class Toleration(ApiModel):
    """A pod toleration, as in core/v1 (the subset tierq needs)."""

    key: Annotated[str, Field(max_length=316)] | None = None
    """Taint key the toleration applies to; empty with operator Exists matches all."""
    operator: Literal["Exists", "Equal"] = "Equal"
    """Exists or Equal."""
    value: Annotated[str, Field(max_length=63)] | None = None
    """Taint value to match with operator Equal."""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    """Taint effect to match; empty matches all."""
    toleration_seconds: int | None = None
    """For NoExecute: how long the pod stays bound after the taint appears."""


class NodePool(ApiModel):
    """A set of nodes that lanes place their worker pods on."""

    name: Name
    """Pool name; pods of lanes using it get nodeSelector tierq.dev/pool=<name> by default."""
    node_selector: dict[str, str] | None = None
    """Node labels the worker pods select. Default: {tierq.dev/pool: <name>}."""
    tolerations: Annotated[list[Toleration], Field(max_length=16)] | None = None
    """Tolerations of the worker pods. Default: tierq.dev/pool=<name>:NoSchedule."""


class ResourceRequirements(ApiModel):
    """Container resources of a worker pod."""

    requests: dict[str, Quantity] | None = None
    """Minimum resources, e.g. {cpu: 250m, memory: 256Mi}."""
    limits: dict[str, Quantity] | None = None
    """Maximum resources, e.g. {memory: 512Mi}."""


class LaneSettings(ApiModel):
    """Settings of a lane (tier x duration class). Every key may be overridden per lane."""

    max_running: Annotated[int, Field(ge=0, le=100_000)] | None = None
    """Worker slots: jobs of this lane that may run at once (0 closes the lane)."""
    max_running_per_customer: Annotated[int, Field(ge=1, le=100_000)] | None = None
    """Jobs of one customer that may run at once in this lane. Unset: no per-customer cap."""
    node_pool: Name | None = None
    """Name of the node pool (spec.nodePools) the lane's pods run on."""
    cohort: Name | None = None
    """Lanes of one cohort lend idle slots to each other (see spec.borrowing). All lanes of
    a cohort must use the same node pool. Unset: the lane neither lends nor borrows."""
    max_lend: Annotated[int, Field(ge=0)] | None = None
    """Slots this lane lends to its cohort at most. Unset: all of its idle slots."""
    resources: ResourceRequirements | None = None
    """Container resources of the lane's worker pods."""
    backoff_limit: Annotated[int, Field(ge=0, le=100)] | None = None
    """Retries of a failed worker pod (the Job's backoffLimit)."""
    active_deadline_seconds: Annotated[int, Field(ge=1)] | None = None
    """The Job's activeDeadlineSeconds. Unset: twice the class bound, none if unbounded."""
    ttl_seconds_after_finished: Annotated[int, Field(ge=0)] | None = None
    """The Job's ttlSecondsAfterFinished: finished Jobs are cleaned up after it."""


class LaneOverride(LaneSettings):
    """Settings for the lanes it matches: one tier, one duration class, or one lane."""

    tier: Name | None = None
    """Tier the override applies to; unset: every tier."""
    duration_class: Name | None = None
    """Duration class the override applies to; unset: every class."""

    model_config = {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                cel(
                    "has(self.tier) || has(self.durationClass)",
                    "an override names a tier, a durationClass or both",
                )
            ]
        }
    }


class Lanes(ApiModel):
    """The lanes: defaults for all, then overrides (class-wide, tier-wide, then per lane)."""

    defaults: LaneSettings
    """Settings every lane starts from; maxRunning and nodePool are required here."""
    overrides: Annotated[list[LaneOverride], Field(max_length=MAX_OVERRIDES)] = []
    """Applied from least to most specific: class-only, tier-only, then tier+class."""

    model_config = {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                cel("has(self.defaults.maxRunning) && has(self.defaults.nodePool)",
                    "lanes.defaults must set maxRunning and nodePool", ".defaults"),
            ]
        }
    }


class Borrowing(ApiModel):
    """Borrowing of idle slots inside a cohort, without preemption."""

    max_borrower_class_seconds: Annotated[int, Field(ge=0)] = 1800
    """Only lanes whose duration class is bounded by at most this many seconds may borrow,
    so a lender always gets its slot back within this bound (jobs are never preempted)."""


class Retier(ApiModel):
    """How customers move between tiers when their record volume changes."""

    hysteresis_percent: Annotated[int, Field(ge=0, le=100)] = 10
    """A customer leaves its tier only when its volume is this many percent past the band
    edge, so a customer hovering at an edge does not flap."""


class Fairness(ApiModel):
    """Order inside a lane: priority, then fair share among customers, then FIFO."""

    priority_weight_seconds: Annotated[int, Field(ge=0)] = 600
    """One point of TieredJob priority is worth this many seconds of waiting (and of fair
    share credit). Waiting ages every job, so none starves."""
    min_job_cost_seconds: Annotated[int, Field(ge=1)] = 1
    """Fair share charges a customer at least this much per admitted job."""


class Estimates(ApiModel):
    """How run-time estimates learn from finished jobs."""

    ewma_alpha: Annotated[float, Field(gt=0, le=1)] = 0.3
    """Weight of the newest observed duration in the (job type, customer) moving average."""


class TierPolicySpec(ApiModel):
    """The scheduler's configuration: tiers, duration classes, job types, pools and lanes."""

    tiers: Annotated[list[Tier], Field(min_length=1, json_schema_extra=_keyed_list(MAX_TIERS))]
    """Customer types by record volume, in ascending order of minRecords, the first at 0."""
    duration_classes: Annotated[
        list[DurationClass], Field(min_length=1, json_schema_extra=_keyed_list(MAX_CLASSES))
    ]
    """Job types by execution time, in ascending order of maxSeconds; only the last may be
    unbounded."""
    job_types: Annotated[list[JobType], Field(json_schema_extra=_keyed_list(MAX_JOB_TYPES))]
    """The registered tasks and their run-time estimates."""
    node_pools: Annotated[
        list[NodePool], Field(min_length=1, json_schema_extra=_keyed_list(MAX_POOLS))
    ]
    """The node pools lanes place worker pods on."""
    lanes: Lanes
    """Worker slots and placement per lane."""
    borrowing: Borrowing = Field(default_factory=Borrowing)
    """Lending of idle slots inside a cohort."""
    retier: Retier = Field(default_factory=Retier)
    """Hysteresis of tier changes."""
    fairness: Fairness = Field(default_factory=Fairness)
    """Order of jobs inside a lane."""
    estimates: Estimates = Field(default_factory=Estimates)
    """Learning of run-time estimates."""

    model_config = {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                cel("self.tiers[0].minRecords == 0", "the first tier must start at 0 records",
                    ".tiers"),
                cel(
                    "self.tiers.map(t, t.minRecords).isSorted() && "
                    "self.tiers.all(a, self.tiers.exists_one(b, b.minRecords == a.minRecords))",
                    "tiers must be in strictly ascending order of minRecords (bands cannot "
                    "overlap)",
                    ".tiers",
                ),
                cel(
                    "self.durationClasses.filter(c, has(c.maxSeconds))"
                    ".map(c, c.maxSeconds).isSorted() && self.durationClasses.all(a, "
                    "!has(a.maxSeconds) || self.durationClasses.exists_one(b, "
                    "has(b.maxSeconds) && b.maxSeconds == a.maxSeconds))",
                    "durationClasses must be in strictly ascending order of maxSeconds",
                    ".durationClasses",
                ),
                cel(
                    "self.durationClasses.all(c, has(c.maxSeconds) || "
                    "c.name == self.durationClasses[self.durationClasses.size() - 1].name)",
                    "only the last duration class may be unbounded (no maxSeconds)",
                    ".durationClasses",
                ),
                cel(
                    "!has(self.lanes.overrides) || self.lanes.overrides.all(o, !has(o.tier) || "
                    "self.tiers.exists(t, t.name == o.tier))",
                    "a lane override names a tier that is not in spec.tiers",
                    ".lanes.overrides",
                ),
                cel(
                    "!has(self.lanes.overrides) || self.lanes.overrides.all(o, "
                    "!has(o.durationClass) || "
                    "self.durationClasses.exists(c, c.name == o.durationClass))",
                    "a lane override names a duration class that is not in "
                    "spec.durationClasses",
                    ".lanes.overrides",
                ),
                cel(
                    "!has(self.lanes.overrides) || self.lanes.overrides.all(o, !has(o.nodePool) || "
                    "self.nodePools.exists(p, p.name == o.nodePool)) && "
                    "(!has(self.lanes.defaults.nodePool) || "
                    "self.nodePools.exists(p, p.name == self.lanes.defaults.nodePool))",
                    "a lane names a nodePool that is not in spec.nodePools",
                    ".lanes",
                ),
            ]
        }
    }


class TierPolicyStatus(ApiModel):
    """What the operator made of the policy."""

    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """The .metadata.generation the operator last read."""
    active_generation: Annotated[int, Field(ge=0)] | None = None
    """The generation in force: the last valid one (an invalid edit leaves the previous)."""
    lanes: Annotated[int, Field(ge=0)] | None = None
    """Number of lanes (tiers x duration classes)."""
    total_slots: Annotated[int, Field(ge=0)] | None = None
    """Sum of maxRunning over all lanes."""
    message: str | None = None
    """Why the policy is or is not in force."""
    conditions: Conditions = []
    """Ready: the current generation is valid and in force."""


__all__ = [
    "POLICY_NAME",
    "Borrowing",
    "Condition",
    "DurationClass",
    "Estimates",
    "Fairness",
    "JobType",
    "LaneOverride",
    "LaneSettings",
    "Lanes",
    "NodePool",
    "ResourceRequirements",
    "Retier",
    "Tier",
    "TierPolicySpec",
    "TierPolicyStatus",
    "Toleration",
]
