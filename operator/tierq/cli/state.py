"""Rebuild the scheduling core from listed objects, so the CLI explains as the operator does.

The operator keeps a `Scheduler` in memory; the CLI cannot see it, but it can build the
same one from the TierPolicy, the CustomerTiers and the TieredJobs (running jobs restored
on their slots, the others queued by their `queuedAt`). `explain`, `queue_slots` and
`lane_stats` then answer from the lanes' live state with the core's own rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from tierq.api.defaults import default_policy_spec
from tierq.api.policy import TierPolicySpec
from tierq.api.tieredjob import Phase
from tierq.core.policy import CompiledPolicy, compile_policy
from tierq.core.scheduler import Scheduler


def parse_time(value: Any) -> float | None:
    """RFC 3339 (what the API server writes) -> seconds since the epoch."""
    if not value:
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def format_time(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def object_key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata", {})
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def customer_key(job: Mapping[str, Any]) -> str:
    return f"{job.get('metadata', {}).get('namespace', '')}/{job.get('spec', {}).get('customer')}"


def policy_from(obj: Mapping[str, Any] | None) -> tuple[CompiledPolicy, bool]:
    """The compiled TierPolicy object, or the built-in default (False: not from the cluster)."""
    if obj is None:
        return compile_policy(default_policy_spec()), False
    return compile_policy(TierPolicySpec.model_validate(obj.get("spec", {}))), True


def build_scheduler(policy: CompiledPolicy, customers: Iterable[Mapping[str, Any]],
                    jobs: Iterable[Mapping[str, Any]], now: float) -> Scheduler:
    scheduler = Scheduler(policy)
    for obj in customers:
        spec = obj.get("spec", {})
        created = parse_time(obj.get("metadata", {}).get("creationTimestamp")) or now
        scheduler.upsert_customer(object_key(obj), site_id=int(spec.get("siteId", 0)),
                                  volume=int(spec.get("recordVolume", 0)),
                                  pin=spec.get("tier"), created=created, now=now)
    waiting: list[tuple[float, str, Mapping[str, Any]]] = []
    for obj in jobs:
        status = obj.get("status") or {}
        phase = status.get("phase")
        if phase in (Phase.SUCCEEDED, Phase.FAILED):
            continue
        spec = obj.get("spec", {})
        created = parse_time(obj.get("metadata", {}).get("creationTimestamp")) or now
        if phase == Phase.RUNNING and status.get("lane"):
            started = parse_time(status.get("startTime")) or created
            scheduler.restore_running(
                object_key(obj), customer=customer_key(obj), job_type=spec.get("jobType", ""),
                lane=status["lane"], slot_lane=status.get("borrowedFrom"), started_at=started,
                estimate=float(status.get("estimatedSeconds") or 0.0),
                priority=int(spec.get("priority", 0)),
                queued_at=parse_time(status.get("queuedAt")))
            continue
        queued_at = parse_time(status.get("queuedAt")) or created
        waiting.append((queued_at, object_key(obj), obj))
    for queued_at, key, obj in sorted(waiting, key=lambda w: (w[0], w[1])):
        spec = obj.get("spec", {})
        scheduler.submit(key, customer=customer_key(obj), job_type=spec.get("jobType", ""),
                         priority=int(spec.get("priority", 0)),
                         suspended=bool(spec.get("suspend", False)), queued_at=queued_at)
    return scheduler
