"""The reason vocabulary: one CamelCase word per situation, as users grep for them."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    # Pending: not in a lane
    CUSTOMER_UNKNOWN = "CustomerUnknown"
    DUPLICATE_SITE_ID = "DuplicateSiteId"
    UNKNOWN_TIER = "UnknownTier"
    NO_POLICY = "NoPolicy"
    # Failed before queueing
    UNKNOWN_JOB_TYPE = "UnknownJobType"
    # Queued, not admitted yet
    SUSPENDED = "Suspended"
    LANE_CLOSED = "LaneClosed"
    LANE_FULL = "LaneFull"
    CUSTOMER_CAP_REACHED = "CustomerCapReached"
    WAITING_FOR_TURN = "WaitingForTurn"
    # Running
    ADMITTED = "Admitted"
    BORROWED = "AdmittedOnBorrowedSlot"
    NOT_FOUND = "NotFound"
