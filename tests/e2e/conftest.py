"""Fixtures of the end-to-end scenarios (defined in helpers.py, registered here)."""

from e2e.helpers import policy, start_operator, test_policy, tierq_crds

__all__ = ["policy", "start_operator", "test_policy", "tierq_crds"]
