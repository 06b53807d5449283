"""Errors of the core. Each names the field it is about, so a user can find it."""

from __future__ import annotations


class PolicyError(ValueError):
    """A TierPolicy that cannot be put in force."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
