"""kopf handlers: translate watch events into calls on the shell (state.py).

Raw watch events (`kopf.on.event`) rather than create/update handlers: the shell is
idempotent and event-driven, so it needs no per-object progress kept in annotations, and
objects stay clean. The one daemon marks the replica that decides (see `leader`).
"""

from __future__ import annotations

from typing import Any

import kopf

from tierq.api import contract as c
from tierq.api.policy import POLICY_NAME
from tierq.api.resources import CUSTOMER_TIER, TIER_POLICY, TIERED_JOB
from tierq.operator.state import Shell


def _shell(memo: Any) -> Shell:
    shell: Shell = memo.shell
    shell.remember_context()
    return shell


@kopf.on.event(TIER_POLICY.group, TIER_POLICY.version, TIER_POLICY.plural)
async def policy_event(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    await _shell(memo).on_policy(type, body)


@kopf.on.event(CUSTOMER_TIER.group, CUSTOMER_TIER.version, CUSTOMER_TIER.plural)
async def customer_event(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    await _shell(memo).on_customer(type, body)


@kopf.on.event(TIERED_JOB.group, TIERED_JOB.version, TIERED_JOB.plural)
async def tieredjob_event(type: str | None, body: kopf.Body, memo: kopf.Memo,
                          **_: Any) -> None:
    await _shell(memo).on_tieredjob(type, body)


@kopf.on.event("batch", "v1", "jobs", labels={c.LABEL_MANAGED_BY: c.MANAGED_BY})
async def job_event(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    await _shell(memo).on_job(type, body)


def _is_default(name: str, **_: Any) -> bool:
    return name == POLICY_NAME


@kopf.daemon(TIER_POLICY.group, TIER_POLICY.version, TIER_POLICY.plural, when=_is_default,
             cancellation_timeout=5.0, backoff=5.0)
async def leader(stopped: kopf.DaemonStopped, memo: kopf.Memo, **_: Any) -> None:
    """Runs while this replica is the active one and the policy exists.

    kopf stops daemons when peering pauses the operator and starts them again when it
    resumes, so this is where the scheduler is rebuilt from the cluster (a takeover sees
    the Jobs the other replica made) and where the safety-net timer ticks.
    """
    shell = _shell(memo)
    await shell.activate()
    try:
        interval = min(shell.settings.refresh_seconds, shell.settings.resync_seconds)
        while not stopped:
            await stopped.wait(interval)
            shell.request_refresh()
    finally:
        shell.deactivate()
