"""Fixtures for scheduler tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from helpers.policies import small_spec
from tierq.api.defaults import default_policy_spec
from tierq.api.policy import TierPolicySpec
from tierq.core.policy import CompiledPolicy, compile_policy
from tierq.core.scheduler import Scheduler


@pytest.fixture
def default_policy() -> CompiledPolicy:
    return compile_policy(default_policy_spec())


@pytest.fixture
def make_scheduler() -> Callable[..., Scheduler]:
    def make(spec: TierPolicySpec | None = None) -> Scheduler:
        return Scheduler(compile_policy(spec or small_spec()))

    return make
