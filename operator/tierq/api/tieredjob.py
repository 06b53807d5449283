"""TieredJob: one execution of one task for one customer."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from tierq.api.common import ApiModel, Conditions, Name, cel
from tierq.api.policy import TaskName

IMMUTABLE = {"x-kubernetes-validations": [cel("self == oldSelf", "the field is immutable")]}


class Phase(StrEnum):
    """Where a TieredJob is in its life."""

    PENDING = "Pending"  # not yet in a lane: customer unknown, no policy, or a conflict
    QUEUED = "Queued"  # waiting in its lane (also while suspended)
    RUNNING = "Running"  # admitted: its Kubernetes Job exists
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"

    @property
    def terminal(self) -> bool:
        return self in (Phase.SUCCEEDED, Phase.FAILED)


class TieredJobSpec(ApiModel):
    """What to run, for whom."""

    customer: Annotated[str, Field(min_length=1, max_length=253, json_schema_extra=IMMUTABLE)]
    """Name of the CustomerTier (same namespace) this job runs for (immutable)."""
    job_type: Annotated[TaskName, Field(json_schema_extra=IMMUTABLE)]
    """A job type of the TierPolicy, e.g. task_03 (immutable)."""
    priority: Annotated[int, Field(ge=-1000, le=1000)] = 0
    """Higher runs earlier inside its lane; waiting ages every job, so none starves."""
    args: Annotated[list[Annotated[str, Field(max_length=1024)]], Field(max_length=32)] = []
    """Extra arguments passed to the worker after the job type and site id."""
    suspend: bool = False
    """True holds the job in its queue (it keeps its place); false releases it."""


class Progress(ApiModel):
    """Progress the worker reports while it runs."""

    records_done: Annotated[int, Field(ge=0)] = 0
    """Records processed so far."""
    records_total: Annotated[int, Field(ge=0)] = 0
    """Records the task will process."""
    updated_at: datetime | None = None
    """When the worker last reported."""


class TieredJobStatus(ApiModel):
    """Where the job is, and why."""

    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """The .metadata.generation the operator last acted on."""
    phase: Phase | None = None
    """Pending, Queued, Running, Succeeded or Failed."""
    reason: str | None = None
    """One CamelCase word: why the job is in its phase (e.g. LaneFull, CustomerUnknown)."""
    message: str | None = None
    """A sentence for humans about the phase."""
    tier: str | None = None
    """The customer's tier when the job was last queued."""
    duration_class: str | None = None
    """The duration class of the job's estimate."""
    lane: str | None = None
    """The lane: <tier>.<durationClass>."""
    estimated_seconds: Annotated[float, Field(ge=0)] | None = None
    """Estimated run time."""
    queued_at: datetime | None = None
    """When the job entered a queue; moving the customer keeps it (its place in time)."""
    queue_position: Annotated[int, Field(ge=0)] | None = None
    """1 = next to be admitted in its lane."""
    estimated_start_time: datetime | None = None
    """When the job is expected to start, from the lane's running jobs' estimates."""
    job_name: str | None = None
    """The batch/v1 Job running this TieredJob."""
    borrowed_from: str | None = None
    """The lane whose idle slot the job runs on, when it borrowed one."""
    start_time: datetime | None = None
    """When the Job was created (admission)."""
    completion_time: datetime | None = None
    """When the job succeeded or failed."""
    attempts: Annotated[int, Field(ge=0)] | None = None
    """Pods started for the job (1 + retries)."""
    progress: Progress | None = None
    """Records processed, as the worker reports them."""
    result: dict[str, str] | None = None
    """The worker's final summary (records, seconds), from its termination message."""
    conditions: Conditions = []
    """CustomerResolved, Admitted, Finished: each with a reason users can grep."""


__all__ = ["Name", "Phase", "Progress", "TieredJobSpec", "TieredJobStatus"]
