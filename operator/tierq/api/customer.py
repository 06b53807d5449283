"""CustomerTier: one customer (a row of the application's Site table) and its tier."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from tierq.api.common import ApiModel, Conditions, Name, cel

AssignedBy = Literal["Volume", "Pinned"]


class CustomerTierSpec(ApiModel):
    """The customer as the application knows it. `kubectl patch` spec.tier to move it."""

    site_id: Annotated[
        int,
        Field(
            ge=0,
            json_schema_extra={
                "x-kubernetes-validations": [cel("self == oldSelf", "siteId is immutable")]
            },
        ),
    ]
    """The customer's id in the application's Site table (immutable)."""
    display_name: Annotated[str, Field(max_length=100)] = ""
    """The Site's name, for humans."""
    record_volume: Annotated[int, Field(ge=0)] = 0
    """Active user records of the customer; the volume rule picks the tier from it."""
    tier: Name | None = None
    """A pin: puts the customer in this tier whatever its volume. Remove it to return the
    customer to the volume rule. Must name a tier of the TierPolicy."""


class CustomerTierStatus(ApiModel):
    """The tier the operator assigned and the customer's work in flight."""

    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """The .metadata.generation the operator last acted on."""
    tier: str | None = None
    """The effective tier: the pin, else the volume band (with hysteresis)."""
    assigned_by: AssignedBy | None = None
    """Volume (the band rule) or Pinned (spec.tier)."""
    since: datetime | None = None
    """When the customer entered its current tier."""
    queued: Annotated[int, Field(ge=0)] | None = None
    """TieredJobs of this customer waiting in a lane."""
    running: Annotated[int, Field(ge=0)] | None = None
    """TieredJobs of this customer running now."""
    conditions: Conditions = []
    """Ready: the customer is tiered and its jobs can be admitted; reasons include
    Tiered, UnknownTier, DuplicateSiteId, NoPolicy."""
