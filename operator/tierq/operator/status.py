"""Pure builders of what the operator writes: conditions, status bodies, Job outcomes.

Nothing here talks to the API; the shell (state.py) decides *when* to write, these decide
*what*. Status bodies are JSON merge patches of `.status`: a None clears a field, and the
conditions list is always sent whole (merge patch replaces lists).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tierq.api.tieredjob import Phase


def iso(ts: float | None) -> str | None:
    """RFC 3339 (seconds, UTC) as Kubernetes writes times; None stays None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str | None) -> float | None:
    """Epoch seconds of a Kubernetes timestamp; None when absent or unreadable."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def condition(type_: str, status: bool | None, reason: str, message: str, now: float,
              previous: Sequence[Mapping[str, Any]] = (),
              generation: int | None = None) -> dict[str, Any]:
    """One condition; lastTransitionTime moves only when the status itself changes."""
    text = "Unknown" if status is None else ("True" if status else "False")
    since = iso(now)
    for old in previous:
        if old.get("type") == type_ and old.get("status") == text:
            since = old.get("lastTransitionTime") or since
            break
    cond: dict[str, Any] = {"type": type_, "status": text, "reason": reason,
                            "message": message, "lastTransitionTime": since}
    if generation is not None:
        cond["observedGeneration"] = generation
    return cond


def merge_conditions(previous: Sequence[Mapping[str, Any]],
                     new: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """`previous` with the types of `new` replaced (order kept, new types appended)."""
    by_type = {cond["type"]: cond for cond in new}
    out = [by_type.pop(str(old.get("type")), dict(old)) for old in previous]
    out.extend(by_type.values())
    return out


# ---- TieredJob ------------------------------------------------------------------------------
@dataclass(slots=True)
class JobView:
    """Everything the status of one TieredJob shows, as the shell sees it now."""

    phase: Phase
    reason: str
    message: str
    tier: str | None = None
    duration_class: str | None = None
    lane: str | None = None
    estimated_seconds: float | None = None
    queued_at: float | None = None
    queue_position: int | None = None
    estimated_start: float | None = None
    job_name: str | None = None
    borrowed_from: str | None = None
    start_time: float | None = None
    completion_time: float | None = None
    attempts: int | None = None
    result: dict[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def placed(self, lane: str | None, estimate: float | None, queued_at: float | None
               ) -> JobView:
        """The same view with the lane (tier.class) it was admitted into filled in."""
        tier, _, cls = (lane or "").partition(".")
        self.tier, self.duration_class, self.lane = tier or None, cls or None, lane
        self.estimated_seconds, self.queued_at = estimate, queued_at
        return self


def tieredjob_status(view: JobView, previous: Sequence[Mapping[str, Any]], now: float,
                     generation: int | None) -> dict[str, Any]:
    """The merge patch of a TieredJob's status for `view`."""
    phase = view.phase
    waiting = phase in (Phase.PENDING, Phase.QUEUED)
    body: dict[str, Any] = {
        "observedGeneration": generation,
        "phase": phase.value,
        "reason": view.reason,
        "message": view.message,
        "tier": view.tier,
        "durationClass": view.duration_class,
        "lane": view.lane,
        "estimatedSeconds": (round(view.estimated_seconds, 3)
                             if view.estimated_seconds is not None else None),
        "queuedAt": iso(view.queued_at),
        "queuePosition": view.queue_position if phase is Phase.QUEUED else None,
        "estimatedStartTime": iso(view.estimated_start) if phase is Phase.QUEUED else None,
        "jobName": None if waiting else view.job_name,
        "borrowedFrom": None if waiting else view.borrowed_from,
        "startTime": None if waiting else iso(view.start_time),
        "completionTime": iso(view.completion_time) if phase.terminal else None,
        "attempts": view.attempts,
        "result": view.result,
    }
    resolved = phase is not Phase.PENDING or view.reason not in (
        "CustomerUnknown", "DuplicateSiteId", "UnknownTier", "NoPolicy")
    conds = [
        condition("CustomerResolved", resolved,
                  "Resolved" if resolved else view.reason,
                  "" if resolved else view.message, now, previous, generation),
        condition("Admitted", not waiting and view.reason != "UnknownJobType",
                  view.reason, f"Job {view.job_name}" if view.job_name else view.message, now,
                  previous, generation),
    ]
    if phase.terminal:
        conds.append(condition("Finished", phase is Phase.SUCCEEDED, view.reason, view.message,
                               now, previous, generation))
    body["conditions"] = merge_conditions(previous, conds)
    body.update(view.extra)
    return body


# ---- batch/v1 Job -> outcome -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class JobOutcome:
    """What a batch/v1 Job says about its TieredJob."""

    finished: bool
    succeeded: bool
    started: bool  # a pod has started (active/ready, or the Job already finished)
    reason: str
    message: str
    start_time: float | None
    completion_time: float | None
    attempts: int

    @property
    def duration(self) -> float | None:
        if self.start_time is None or self.completion_time is None:
            return None
        return max(0.0, self.completion_time - self.start_time)


def job_outcome(job: Mapping[str, Any]) -> JobOutcome:
    """Read a Job's status: its final conditions (Complete / Failed) decide the outcome."""
    status = job.get("status") or {}
    attempts = int(status.get("succeeded") or 0) + int(status.get("failed") or 0)
    active = int(status.get("active") or 0)
    start = parse_time(status.get("startTime"))
    for cond in status.get("conditions") or ():
        if cond.get("status") != "True" or cond.get("type") not in ("Complete", "Failed"):
            continue
        ok = cond["type"] == "Complete"
        end = parse_time(status.get("completionTime")) or parse_time(
            cond.get("lastTransitionTime"))
        reason = "Succeeded" if ok else (cond.get("reason") or "Failed")
        message = cond.get("message") or ("the Job completed" if ok else "the Job failed")
        return JobOutcome(True, ok, True, reason, message, start, end, max(attempts, 1))
    started = active > 0 or int(status.get("ready") or 0) > 0 or attempts > 0
    return JobOutcome(False, False, started, "Started" if started else "Admitted",
                      "a worker pod is running" if started else "the Job is starting",
                      start, None, attempts + active)


# ---- CustomerTier and TierPolicy --------------------------------------------------------------
def customer_status(*, tier: str | None, assigned_by: str | None, since: float | None,
                    queued: int, running: int, ready: bool, reason: str, message: str,
                    previous: Sequence[Mapping[str, Any]], now: float,
                    generation: int | None) -> dict[str, Any]:
    return {
        "observedGeneration": generation,
        "tier": tier,
        "assignedBy": assigned_by,
        "since": iso(since),
        "queued": queued,
        "running": running,
        "conditions": merge_conditions(previous, [
            condition("Ready", ready, reason, message, now, previous, generation)]),
    }


def policy_status(*, generation: int | None, active_generation: int | None, lanes: int | None,
                  total_slots: int | None, ok: bool, reason: str, message: str,
                  previous: Sequence[Mapping[str, Any]], now: float) -> dict[str, Any]:
    return {
        "observedGeneration": generation,
        "activeGeneration": active_generation,
        "lanes": lanes,
        "totalSlots": total_slots,
        "message": message,
        "conditions": merge_conditions(previous, [
            condition("Ready", ok, reason, message, now, previous, generation)]),
    }


def tier_change_message(old: str | None, new: str | None, assigned_by: str) -> str:
    """The Event text of a tier change, e.g. "moved from medium to large (pinned)"."""
    how = "pinned" if assigned_by == "Pinned" else "by volume"
    if old is None:
        return f"assigned to tier {new} ({how})"
    return f"moved from {old} to {new} ({how})"
