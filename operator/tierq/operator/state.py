"""The shell around one Scheduler: the cluster's objects in, API writes out.

Handlers (handlers.py) only *record* what they saw and mark objects dirty; one writer task
(`run`) turns that into decisions (`Scheduler.schedule`) and API writes, in passes:

    events --> [lock] scheduler + caches, dirty sets --> wake
    writer: [lock] schedule(now), plan Jobs / status bodies --> (no lock) write them

One pass's writes finish before the next pass plans, so two writes to one object never
race; while a pass writes, new events pile up and the next pass handles them together.
The scheduler is rebuilt from the API (never from a counter) when this replica becomes the
active one (`activate`, called by the policy daemon: on start and after a peering takeover).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast

import kopf
from pydantic import ValidationError

from tierq.api import contract as c
from tierq.api.policy import POLICY_NAME, TierPolicySpec
from tierq.api.resources import CUSTOMER_TIER, TIER_POLICY, TIERED_JOB
from tierq.api.tieredjob import Phase
from tierq.core.errors import PolicyError
from tierq.core.policy import CompiledPolicy, compile_policy
from tierq.core.reasons import Reason
from tierq.core.scheduler import JobState, QueueSlot, Scheduler
from tierq.operator import metrics
from tierq.operator.jobtemplate import JobRequest, build_job, job_name, shorten
from tierq.operator.kube import ApiException, Kube
from tierq.operator.settings import Settings
from tierq.operator.status import (
    JobOutcome,
    JobView,
    customer_status,
    job_outcome,
    parse_time,
    policy_status,
    tier_change_message,
    tieredjob_status,
)

log = logging.getLogger("tierq.operator")

PENDING_REASONS = {Reason.CUSTOMER_UNKNOWN, Reason.DUPLICATE_SITE_ID, Reason.UNKNOWN_TIER}
REFRESH_WRITE_BUDGET = 100  # queue-position rewrites per refresh round, queue heads first


def _key(meta: Mapping[str, Any]) -> str:
    return f"{meta.get('namespace', '')}/{meta['name']}"


def _ref(res_kind: str, meta: Mapping[str, Any]) -> dict[str, Any]:
    """The smallest body kopf needs to post an Event about an object."""
    return {"apiVersion": c.API_VERSION, "kind": res_kind,
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid") if k in meta}}


class Written(NamedTuple):
    """What was last written to a TieredJob's status, compactly (10,000 queued jobs must
    not keep 10,000 status bodies alive)."""

    digest: int
    lane: str | None
    reason: str | None
    position: int | None

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> Written:
        return cls(hash(json.dumps(body, sort_keys=True, default=str)), body.get("lane"),
                   body.get("reason"), body.get("queuePosition"))


@dataclass(slots=True)
class TJ:
    """One TieredJob as the shell knows it."""

    key: str
    meta: dict[str, Any]
    customer: str  # the CustomerTier's key: namespace/name
    job_type: str
    priority: int
    suspend: bool
    args: tuple[str, ...]
    annotations: dict[str, str]
    generation: int | None
    queued_at: float
    labels: dict[str, str]
    conditions: list[dict[str, Any]]
    phase: Phase | None
    written: Written | None = None
    job_name: str | None = None
    lane: str | None = None
    slot_lane: str | None = None
    estimate: float | None = None
    admitted_at: float | None = None
    outcome: JobOutcome | None = None
    failure: tuple[str, str, float] | None = None  # (reason, message, when): Failed, no Job

    @property
    def uid(self) -> str:
        return str(self.meta.get("uid", ""))

    @property
    def namespace(self) -> str:
        return str(self.meta.get("namespace", ""))

    @property
    def name(self) -> str:
        return str(self.meta["name"])

    @property
    def terminal(self) -> bool:
        return self.phase is not None and self.phase.terminal

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> TJ:
        meta, spec = body["metadata"], body.get("spec") or {}
        status = body.get("status") or {}
        created = parse_time(meta.get("creationTimestamp")) or time.time()
        phase = status.get("phase")
        return cls(
            key=_key(meta),
            meta={k: meta.get(k) for k in ("name", "namespace", "uid")},
            customer=f"{meta.get('namespace', '')}/{spec.get('customer', '')}",
            job_type=str(spec.get("jobType", "")),
            priority=int(spec.get("priority") or 0),
            suspend=bool(spec.get("suspend")),
            args=tuple(spec.get("args") or ()),
            annotations={k: v for k, v in (meta.get("annotations") or {}).items()
                         if k.startswith(c.SIM_ANNOTATION_PREFIX)},
            generation=meta.get("generation"),
            # A restart keeps a job's place in time: the queuedAt it was given first.
            queued_at=parse_time(status.get("queuedAt")) or created,
            labels=dict(meta.get("labels") or {}),
            conditions=list(status.get("conditions") or []),
            phase=Phase(phase) if isinstance(phase, str) and phase in set(Phase) else None,
            job_name=status.get("jobName"),
        )


@dataclass(slots=True)
class Cust:
    """One CustomerTier as the shell knows it."""

    key: str
    meta: dict[str, Any]
    site_id: int
    volume: int
    pin: str | None
    created: float
    generation: int | None
    labels: dict[str, str]
    conditions: list[dict[str, Any]]
    written: dict[str, Any] | None = None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Cust:
        meta, spec = body["metadata"], body.get("spec") or {}
        return cls(
            key=_key(meta),
            meta={k: meta.get(k) for k in ("name", "namespace", "uid")},
            site_id=int(spec.get("siteId") or 0),
            volume=int(spec.get("recordVolume") or 0),
            pin=spec.get("tier") or None,
            created=parse_time(meta.get("creationTimestamp")) or time.time(),
            generation=meta.get("generation"),
            labels=dict(meta.get("labels") or {}),
            conditions=list((body.get("status") or {}).get("conditions") or []),
        )


@dataclass(slots=True)
class Plan:
    """The writes of one pass, in the order they matter for latency."""

    creates: list[tuple[TJ, dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    statuses: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # path, body
    patches: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # labels
    events: list[tuple[dict[str, Any], str, str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.creates or self.statuses or self.patches or self.events)


class Shell:
    """One scheduler, its inputs (caches of the cluster's objects) and its writer."""

    def __init__(self, kube: Kube, settings: Settings,
                 namespaces: tuple[str, ...] = ()) -> None:
        self.kube = kube
        self.settings = settings
        self.namespaces = namespaces  # empty: the whole cluster
        self.lock = asyncio.Lock()
        self.write_lock = asyncio.Lock()
        self.wake = asyncio.Event()
        self.sem = asyncio.Semaphore(settings.write_concurrency)
        self.scheduler: Scheduler | None = None
        self.active = False  # this replica decides (the policy daemon runs here)
        self.policy_present: bool | None = None  # None: not known yet
        self.policy_meta: dict[str, Any] = {}
        self.policy_generation: int | None = None
        self.policy_conditions: list[dict[str, Any]] = []
        self.policy_error: str | None = None
        self.active_generation: int | None = None
        self.tjs: dict[str, TJ] = {}
        self.jobs_of: dict[str, set[str]] = {}  # customer key -> its TieredJobs' keys
        self.customers: dict[str, Cust] = {}
        self.dirty_jobs: set[str] = set()
        self.lazy_jobs: set[str] = set()  # written on the next refresh round
        self.dirty_customers: set[str] = set()
        self.dirty_policy = False
        self.refresh_due = False
        self.retry_at: float | None = None
        self.passes = 0
        self.on_pass: Callable[[], Awaitable[None]] | None = None  # tests/bench hook
        # kopf's Event queue lives in context variables set for handlers, not for tasks
        # started at startup: the writer posts Events in a handler's context.
        self.event_context: contextvars.Context | None = None

    def remember_context(self) -> None:
        if self.event_context is None:
            self.event_context = contextvars.copy_context()

    # ---- helpers ----------------------------------------------------------------------------
    def _add(self, tj: TJ) -> None:
        old = self.tjs.get(tj.key)
        if old is not None:
            self._drop(old)
        self.tjs[tj.key] = tj
        self.jobs_of.setdefault(tj.customer, set()).add(tj.key)

    def _drop(self, tj: TJ) -> None:
        self.tjs.pop(tj.key, None)
        owned = self.jobs_of.get(tj.customer)
        if owned is not None:
            owned.discard(tj.key)
            if not owned:
                del self.jobs_of[tj.customer]

    def _touch(self, *keys: str) -> None:
        self.dirty_jobs.update(keys)
        self.wake.set()

    def _touch_customer(self, key: str) -> None:
        if key in self.customers:
            self.dirty_customers.add(key)
            self.wake.set()

    def _event(self, plan: Plan, ref: dict[str, Any], type_: str, reason: str,
               message: str) -> None:
        if self.settings.post_events:
            plan.events.append((ref, type_, reason, message))

    def _submit(self, tj: TJ) -> None:
        """Give a TieredJob to the scheduler (queued, pending, or refused: unknown type)."""
        assert self.scheduler is not None
        result = self.scheduler.submit(tj.key, customer=tj.customer, job_type=tj.job_type,
                                       priority=tj.priority, suspended=tj.suspend,
                                       queued_at=tj.queued_at)
        if result is Reason.UNKNOWN_JOB_TYPE:
            tj.failure = (str(result), f"job type {tj.job_type!r} is not in the TierPolicy",
                          time.time())
        self._touch(tj.key)

    def _restore(self, tj: TJ, job: Mapping[str, Any], outcome: JobOutcome) -> None:
        """A Job exists for the TieredJob: it runs (on the lane the Job says)."""
        assert self.scheduler is not None
        meta = job["metadata"]
        labels, ann = meta.get("labels") or {}, meta.get("annotations") or {}
        lane = labels.get(c.LABEL_LANE)
        if lane is None or lane not in self.scheduler.policy.lanes:
            # The lane is gone from the policy; count the job on the lane it would have now.
            self._submit(tj)
            sjob = self.scheduler.jobs.get(tj.key)
            lane = sjob.lane if sjob is not None else None
            if lane is None:
                return
        slot = ann.get(c.ANNOTATION_SLOT_LANE) or lane
        if slot not in self.scheduler.policy.lanes:
            slot = lane
        started = parse_time(meta.get("creationTimestamp")) or time.time()
        estimate = float(ann.get(c.ANNOTATION_ESTIMATE) or 0.0)
        self.scheduler.restore_running(
            tj.key, customer=tj.customer, job_type=tj.job_type, lane=lane, slot_lane=slot,
            started_at=started, estimate=estimate, priority=tj.priority,
            queued_at=float(ann.get(c.ANNOTATION_QUEUED_AT) or tj.queued_at))
        tj.job_name, tj.lane, tj.slot_lane = meta["name"], lane, slot
        tj.estimate, tj.admitted_at, tj.outcome = estimate, started, outcome

    def _compile(self, body: Mapping[str, Any]) -> CompiledPolicy | None:
        """The policy in force after reading `body`; records why when it is invalid."""
        try:
            compiled = compile_policy(TierPolicySpec.model_validate(body.get("spec") or {}))
        except PolicyError as exc:
            self.policy_error = f"{exc.field}: {exc.message}"
            return None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            self.policy_error = f"spec.{where}: {first.get('msg', 'invalid')}"
            return None
        self.policy_error = None
        self.active_generation = body["metadata"].get("generation")
        return compiled

    # ---- rebuild (this replica becomes the active one) --------------------------------------
    async def _list(self, path: Callable[[str | None], str],
                    selector: str | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for ns in self.namespaces or (None,):
            items.extend([item async for item in self.kube.list_all(path(ns), selector)])
        return items

    async def activate(self) -> None:
        """Rebuild everything from the API, then start deciding. Idempotent."""
        async with self.write_lock, self.lock:
            self.active = False
            policy = await self.kube.get(Kube.custom_path(TIER_POLICY, None, POLICY_NAME))
            customers = await self._list(lambda ns: Kube.custom_path(CUSTOMER_TIER, ns))
            tieredjobs = await self._list(lambda ns: Kube.custom_path(TIERED_JOB, ns))
            # Jobs after TieredJobs: a Job is never older than its TieredJob.
            jobs = await self._list(Kube.jobs_path,
                                    f"{c.LABEL_MANAGED_BY}={c.MANAGED_BY}")
            self.tjs = {}
            self.jobs_of = {}
            self.customers = {}
            self.scheduler = None
            self.policy_present = policy is not None
            compiled = None
            if policy is not None:
                self._record_policy(policy)
                compiled = self._compile(policy)
            now = time.time()
            for body in customers:
                cust = Cust.from_body(body)
                self.customers[cust.key] = cust
            if compiled is not None:
                self.scheduler = Scheduler(compiled)
                for cust in sorted(self.customers.values(), key=lambda x: x.created):
                    self._upsert(cust, now, None)
            by_owner: dict[str, dict[str, Any]] = {}
            for job in jobs:
                for owner in job["metadata"].get("ownerReferences") or ():
                    if owner.get("kind") == "TieredJob":
                        by_owner[owner.get("uid", "")] = job
            for body in sorted(tieredjobs, key=lambda b: b["metadata"].get(
                    "creationTimestamp", "")):
                tj = TJ.from_body(body)
                self._add(tj)
                self._adopt(tj, by_owner.get(tj.uid))
            self.active = True
            self.dirty_jobs.update(self.tjs)
            self.dirty_customers.update(self.customers)
            self.dirty_policy = True
            log.info("rebuilt from the cluster: %d TieredJobs, %d customers, %d Jobs, policy %s",
                     len(self.tjs), len(self.customers), len(jobs),
                     "in force" if self.scheduler else "absent or invalid")
        self.wake.set()

    def _adopt(self, tj: TJ, job: Mapping[str, Any] | None) -> None:
        """Put one listed TieredJob where the cluster says it is."""
        if tj.terminal:
            return
        if job is not None:
            outcome = job_outcome(job)
            tj.job_name = job["metadata"]["name"]
            labels = job["metadata"].get("labels") or {}
            tj.lane = labels.get(c.LABEL_LANE)
            tj.admitted_at = parse_time(job["metadata"].get("creationTimestamp"))
            tj.outcome = outcome
            if not outcome.finished and self.scheduler is not None:
                self._restore(tj, job, outcome)
            return
        if tj.phase is Phase.RUNNING and tj.job_name:
            # Admitted before, but its Job is gone (deleted by hand, or by its TTL while the
            # operator was away): nothing can tell how it ended.
            tj.failure = ("JobDeleted", f"Job {tj.job_name} no longer exists", time.time())
            return
        if self.scheduler is not None:
            self._submit(tj)

    def deactivate(self) -> None:
        """Another replica decides now (or the policy is gone): stop admitting."""
        self.active = False

    # ---- policy -----------------------------------------------------------------------------
    def _record_policy(self, body: Mapping[str, Any]) -> None:
        meta = body["metadata"]
        self.policy_meta = {k: meta.get(k) for k in ("name", "uid")}
        self.policy_generation = meta.get("generation")
        self.policy_conditions = list((body.get("status") or {}).get("conditions") or [])

    async def on_policy(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        if body["metadata"].get("name") != POLICY_NAME:
            return
        async with self.lock:
            if event_type == "DELETED":
                self.policy_present = False
                self.scheduler = None
                self.active_generation = None
                self.dirty_jobs.update(self.tjs)
                self.dirty_customers.update(self.customers)
                self.wake.set()
                return
            self.policy_present = True
            generation = body["metadata"].get("generation")
            if generation == self.policy_generation and (self.scheduler or self.policy_error):
                return  # our own status write echoing back
            self._record_policy(body)
            if not self.active:
                return  # activate() compiles it
            compiled = self._compile(body)
            self.dirty_policy = True
            if compiled is None:
                self.wake.set()
                return
            now = time.time()
            if self.scheduler is None:
                self.scheduler = Scheduler(compiled)
                for cust in sorted(self.customers.values(), key=lambda x: x.created):
                    self._upsert(cust, now, None)
                for tj in self.tjs.values():
                    if not tj.terminal and tj.failure is None and tj.job_name is None:
                        self._submit(tj)
            else:
                for change in self.scheduler.set_policy(compiled, now):
                    self._tier_changed(change.customer, change.old, change.new,
                                       change.assigned_by)
            # Lanes, classes or caps may all have changed: every waiting job is rewritten.
            self.dirty_jobs.update(k for k, t in self.tjs.items() if not t.terminal)
            self.dirty_customers.update(self.customers)
            self.wake.set()

    # ---- customers --------------------------------------------------------------------------
    def _upsert(self, cust: Cust, now: float, plan_events: list[Any] | None) -> None:
        assert self.scheduler is not None
        change = self.scheduler.upsert_customer(
            cust.key, site_id=cust.site_id, volume=cust.volume, pin=cust.pin,
            created=cust.created, now=now)
        self.dirty_jobs.update(self.jobs_of.get(cust.key, ()))
        if change.old != change.new and change.old is not None:
            self._tier_changed(change.customer, change.old, change.new, change.assigned_by)
        self.dirty_customers.add(cust.key)

    def _tier_changed(self, key: str, old: str | None, new: str | None, by: str) -> None:
        cust = self.customers.get(key)
        if cust is None:
            return
        cust.meta["pendingEvent"] = tier_change_message(old, new, by)
        self.dirty_customers.add(key)
        self.dirty_jobs.update(self.jobs_of.get(key, ()))

    async def on_customer(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        key = _key(body["metadata"])
        async with self.lock:
            now = time.time()
            if event_type == "DELETED":
                gone = self.customers.pop(key, None)
                if gone is not None and self.scheduler is not None:
                    self._touch(*self.scheduler.remove_customer(key, now))
                return
            known = self.customers.get(key)
            generation = body["metadata"].get("generation")
            if known is not None and known.generation == generation and (
                    known.meta.get("uid") == body["metadata"].get("uid")):
                return  # status or labels only (our own writes)
            cust = Cust.from_body(body)
            if known is not None:
                cust.written, cust.conditions = known.written, known.conditions
            self.customers[key] = cust
            if self.scheduler is not None and self.active:
                self._upsert(cust, now, None)
            self.dirty_customers.add(key)
            self.wake.set()

    # ---- TieredJobs -------------------------------------------------------------------------
    async def on_tieredjob(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        meta = body["metadata"]
        key = _key(meta)
        if event_type == "DELETED":
            await self._tieredjob_deleted(key, meta.get("uid", ""))
            return
        async with self.lock:
            tj = self.tjs.get(key)
            if tj is not None and tj.uid == meta.get("uid"):
                if tj.generation == meta.get("generation"):
                    return  # status or labels only (our own writes)
                spec = body.get("spec") or {}
                tj.generation = meta.get("generation")
                tj.priority = int(spec.get("priority") or 0)
                tj.suspend = bool(spec.get("suspend"))
                if self.scheduler is not None and key in self.scheduler.jobs:
                    self.scheduler.update_job(key, priority=tj.priority, suspended=tj.suspend)
                self._touch(key)
                return
            tj = TJ.from_body(body)
            self._add(tj)
            if tj.terminal:
                return
            if self.scheduler is not None and self.active:
                self._submit(tj)
            else:
                self._touch(key)

    async def _tieredjob_deleted(self, key: str, uid: str) -> None:
        async with self.lock:
            tj = self.tjs.get(key)
            if tj is None or tj.uid != uid:
                return
            self._drop(tj)
            if self.scheduler is not None:
                self.scheduler.remove_job(key)
            self._touch_customer(tj.customer)
            self.wake.set()
            running = tj.job_name if not tj.terminal else None
        if running:
            # The owner reference would do it too, but only after the garbage collector
            # notices; the slot is free now, so is the Job's pod.
            await self.kube.delete(Kube.jobs_path(tj.namespace, running))

    # ---- batch/v1 Jobs ----------------------------------------------------------------------
    async def on_job(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        meta = body["metadata"]
        owner = next((o for o in meta.get("ownerReferences") or ()
                      if o.get("kind") == "TieredJob"), None)
        if owner is None:
            return
        key = f"{meta.get('namespace', '')}/{owner['name']}"
        outcome = job_outcome(body)
        async with self.lock:
            tj = self.tjs.get(key)
            if tj is None or tj.uid != owner.get("uid") or tj.terminal or (
                    tj.outcome is not None and tj.outcome.finished):
                return
            if tj.outcome == outcome and event_type != "DELETED":
                return
            sjob = self.scheduler.jobs.get(key) if self.scheduler else None
            if event_type == "DELETED" and not outcome.finished:
                tj.failure = ("JobDeleted", f"Job {meta['name']} was deleted before it ended",
                              time.time())
                if self.scheduler is not None:
                    self.scheduler.remove_job(key)
            elif outcome.finished:
                tj.outcome = outcome
                if self.scheduler is not None:
                    self.scheduler.finish(key, duration=outcome.duration,
                                          succeeded=outcome.succeeded)
                tier, _, cls = (tj.lane or "?.?").partition(".")
                metrics.FINISHED.labels(tier, cls, "Succeeded" if outcome.succeeded
                                        else "Failed").inc()
                if outcome.duration is not None:
                    metrics.RUN_TIME.labels(tier, cls).observe(outcome.duration)
            else:
                tj.job_name = meta["name"]
                if self.scheduler is not None and self.active and (
                        sjob is None or sjob.state is not JobState.RUNNING):
                    self._restore(tj, body, outcome)  # admitted by another replica
                else:
                    # A pod started: worth showing, not worth an API write in the middle of
                    # a burst of admissions. The next refresh round writes it, unless the
                    # job has finished by then (one write instead of two).
                    tj.outcome = outcome
                    self.lazy_jobs.add(key)
                    return
            self._touch(key)
            self._touch_customer(tj.customer)

    # ---- the writer -------------------------------------------------------------------------
    async def run(self) -> None:
        """Forever: wait for work, then one pass (decide, then write)."""
        while True:
            await self.wake.wait()
            self.wake.clear()
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("a scheduling pass failed; retrying on the next event")
                await asyncio.sleep(1)
                self.wake.set()

    def request_refresh(self) -> None:
        """Rewrite queue positions and ETAs (they drift as other jobs move)."""
        self.refresh_due = True
        self.wake.set()

    async def step(self) -> None:
        async with self.write_lock:
            async with self.lock:
                plan = self._plan(time.time())
            if plan:
                log.debug("pass: %d Jobs, %d statuses, %d label patches, %d events",
                          len(plan.creates), len(plan.statuses), len(plan.patches),
                          len(plan.events))
                await self._execute(plan)
            self.passes += 1
        if self.on_pass is not None:
            await self.on_pass()

    def _plan(self, now: float) -> Plan:
        plan = Plan()
        sched = self.scheduler if self.active else None
        if sched is not None:
            t0 = time.perf_counter()
            admissions = sched.schedule(now)
            metrics.DECISION_LATENCY.observe(time.perf_counter() - t0)
            for adm in admissions:
                self._plan_admission(plan, sched, adm.job, adm.lane, adm.slot_lane, now)
        refresh, self.refresh_due = self.refresh_due, False
        if refresh:
            self.dirty_jobs.update(self.lazy_jobs)
            self.lazy_jobs = set()
        if refresh and sched is not None:
            self.dirty_jobs.update(k for k, j in sched.jobs.items()
                                   if j.state is JobState.QUEUED)
        dirty, self.dirty_jobs = self.dirty_jobs, set()
        slots: dict[str, QueueSlot] = {}
        if sched is not None:
            lanes = {j.lane for k in dirty if (j := sched.jobs.get(k)) is not None
                     and j.state is JobState.QUEUED and j.lane}
            if lanes:
                slots = sched.queue_slots(now, lanes)
        budget = REFRESH_WRITE_BUDGET
        for key in sorted(dirty, key=lambda k: slots[k].position if k in slots else 0):
            tj = self.tjs.get(key)
            if tj is None:
                continue
            view = self._view(tj, sched, slots)
            if view is None:
                continue
            if refresh and self._minor(tj, view):
                if budget <= 0:
                    continue
                budget -= 1
            self._plan_status(plan, tj, view, now)
        for key in self.dirty_customers:
            cust = self.customers.get(key)
            if cust is not None:
                self._plan_customer(plan, cust, now)
        self.dirty_customers = set()
        if self.dirty_policy and self.policy_present and self.active:
            self._plan_policy(plan, now)
        self.dirty_policy = False
        if refresh and sched is not None:
            for stats in sched.lane_stats():
                metrics.LANE_QUEUED.labels(stats.lane).set(stats.queued)
                metrics.LANE_RUNNING.labels(stats.lane).set(stats.running)
                metrics.LANE_SLOTS.labels(stats.lane).set(stats.max_running)
        return plan

    @staticmethod
    def _minor(tj: TJ, view: JobView) -> bool:
        """A periodic rewrite that only moves the position a little is not worth an API
        write: small moves are left for later rounds, the head of every queue goes first."""
        old = tj.written
        if old is None or tj.phase is not Phase.QUEUED or view.phase is not Phase.QUEUED:
            return False
        if old.lane != view.lane or old.reason != view.reason:
            return False
        before, after = old.position, view.queue_position
        if before is None or after is None:
            return False
        return abs(before - after) < max(1, before // 10) and after > 10

    def _plan_admission(self, plan: Plan, sched: Scheduler, key: str, lane: str,
                        slot_lane: str, now: float) -> None:
        tj = self.tjs.get(key)
        sjob = sched.jobs.get(key)
        owner = sched.customers.get(tj.customer) if tj else None
        if tj is None or sjob is None or owner is None:
            sched.remove_job(key)  # vanished meanwhile; free the slot again
            return
        tier, _, cls = lane.partition(".")
        tj.lane, tj.slot_lane, tj.estimate = lane, slot_lane, sjob.estimate
        tj.admitted_at, tj.job_name, tj.outcome = now, job_name(tj.name, tj.uid), None
        req = JobRequest(
            name=tj.name, namespace=tj.namespace, uid=tj.uid, customer=tj.customer.split("/")[1],
            job_type=tj.job_type, site_id=owner.site_id, tier=tier, duration_class=cls,
            lane=lane, slot_lane=slot_lane, estimate=sjob.estimate, queued_at=tj.queued_at,
            priority=tj.priority, args=tj.args, annotations=tj.annotations)
        job = build_job(req, sched.policy.lanes[lane], self.settings)
        view = self._view(tj, sched, {})
        assert view is not None
        body = self._status_body(plan, tj, view, now)
        tj.written = Written.of(body)
        plan.creates.append((tj, job, body))
        metrics.ADMISSIONS.labels(lane, tier, cls, str(slot_lane != lane).lower()).inc()
        metrics.QUEUE_WAIT.labels(tier, cls).observe(max(0.0, now - tj.queued_at))
        self.dirty_customers.add(tj.customer)
        self.dirty_jobs.discard(key)

    def _view(self, tj: TJ, sched: Scheduler | None,
              slots: Mapping[str, QueueSlot]) -> JobView | None:
        """What the status of `tj` should show now; None: nothing to say (yet)."""
        outcome = tj.outcome
        if outcome is not None and outcome.finished:
            phase = Phase.SUCCEEDED if outcome.succeeded else Phase.FAILED
            return JobView(phase, outcome.reason, outcome.message, job_name=tj.job_name,
                           borrowed_from=self._borrowed(tj), start_time=tj.admitted_at,
                           completion_time=outcome.completion_time or time.time(),
                           attempts=outcome.attempts).placed(tj.lane, tj.estimate,
                                                             tj.queued_at)
        if tj.failure is not None:
            return JobView(Phase.FAILED, tj.failure[0], tj.failure[1], job_name=tj.job_name,
                           completion_time=tj.failure[2]).placed(tj.lane, tj.estimate,
                                                               tj.queued_at)
        sjob = sched.jobs.get(tj.key) if sched is not None else None
        if tj.job_name and (sjob is None or sjob.state is JobState.RUNNING) and (
                tj.admitted_at is not None):
            reason = outcome.reason if outcome is not None and outcome.started else (
                str(sjob.reason) if sjob is not None and sjob.reason else "Admitted")
            message = (outcome.message if outcome is not None and outcome.started
                       else f"Job {tj.job_name} created in lane {tj.lane}")
            return JobView(Phase.RUNNING, reason, message, job_name=tj.job_name,
                           borrowed_from=self._borrowed(tj), start_time=tj.admitted_at,
                           attempts=outcome.attempts if outcome is not None else None,
                           ).placed(tj.lane, tj.estimate, tj.queued_at)
        if sched is None:
            if self.policy_present is False:
                return JobView(Phase.PENDING, str(Reason.NO_POLICY),
                               f"no TierPolicy '{POLICY_NAME}' exists")
            return None  # a policy exists: the rebuild will place the job
        if sjob is None:
            return None
        if sjob.state is JobState.PENDING:
            expl = sched.explain(tj.key, time.time())
            return JobView(Phase.PENDING, str(expl.reason), expl.message)
        tj.lane, tj.estimate = sjob.lane, sjob.estimate
        tier, _, cls = (sjob.lane or "").partition(".")
        slot = slots.get(tj.key)
        why, message = sched.waiting_reason(tj.key)
        return JobView(Phase.QUEUED, str(why), message, tier=tier, duration_class=cls,
                       lane=sjob.lane, estimated_seconds=sjob.estimate,
                       queued_at=tj.queued_at,
                       queue_position=slot.position if slot else None,
                       estimated_start=slot.eta if slot else None)

    @staticmethod
    def _borrowed(tj: TJ) -> str | None:
        return tj.slot_lane if tj.slot_lane and tj.slot_lane != tj.lane else None

    def _status_body(self, plan: Plan, tj: TJ, view: JobView, now: float) -> dict[str, Any]:
        """The status body for `view`; Events and label changes that go with it."""
        body = tieredjob_status(view, tj.conditions, now, tj.generation)
        ref = _ref("TieredJob", tj.meta)
        if view.phase is not tj.phase or (
                tj.written is not None and tj.written.lane != body.get("lane")
                and view.phase is Phase.QUEUED):
            moved = tj.phase is view.phase
            kind = "Warning" if view.phase in (Phase.FAILED, Phase.PENDING) else "Normal"
            reason = "Moved" if moved else view.reason
            message = (f"moved to lane {view.lane}" if moved else
                       f"{view.phase.value}: {view.message}")
            self._event(plan, ref, kind, reason, message)
        labels = {c.LABEL_CUSTOMER: shorten(tj.customer.split("/")[1])}
        if view.tier:
            labels[c.LABEL_TIER] = view.tier
        if view.duration_class:
            labels[c.LABEL_CLASS] = view.duration_class
        if any(tj.labels.get(k) != v for k, v in labels.items()):
            tj.labels.update(labels)
            plan.patches.append((Kube.custom_path(TIERED_JOB, tj.namespace, tj.name),
                                 {"metadata": {"labels": labels}}))
        tj.conditions, tj.phase = body["conditions"], view.phase
        return body

    def _plan_status(self, plan: Plan, tj: TJ, view: JobView, now: float) -> None:
        before = tj.written
        body = self._status_body(plan, tj, view, now)
        tj.written = Written.of(body)
        if tj.written != before:
            plan.statuses.append(
                (Kube.custom_path(TIERED_JOB, tj.namespace, tj.name, "status"), body))

    def _plan_customer(self, plan: Plan, cust: Cust, now: float) -> None:
        sched = self.scheduler
        owner = sched.customers.get(cust.key) if sched is not None else None
        ref = _ref("CustomerTier", cust.meta)
        if sched is None or owner is None:
            body = customer_status(
                tier=None, assigned_by=None, since=None, queued=0, running=0, ready=False,
                reason=str(Reason.NO_POLICY), message=f"no valid TierPolicy '{POLICY_NAME}'",
                previous=cust.conditions, now=now, generation=cust.generation)
        else:
            queued, running = sched.counts_for(cust.key)
            ready = owner.blocked is None and owner.tier is not None
            reason = "Tiered" if ready else str(owner.blocked or Reason.UNKNOWN_TIER)
            message = (f"tier {owner.tier} ({owner.assigned_by.lower()})" if ready
                       else owner.problem or "cannot be tiered")
            body = customer_status(
                tier=owner.tier, assigned_by=owner.assigned_by, since=owner.since,
                queued=queued, running=running, ready=ready, reason=reason, message=message,
                previous=cust.conditions, now=now, generation=cust.generation)
            if owner.tier and cust.labels.get(c.LABEL_TIER) != owner.tier:
                cust.labels[c.LABEL_TIER] = owner.tier
                plan.patches.append((Kube.custom_path(CUSTOMER_TIER, cust.meta["namespace"],
                                                      cust.meta["name"]),
                                     {"metadata": {"labels": {c.LABEL_TIER: owner.tier}}}))
        pending = cust.meta.pop("pendingEvent", None)
        if pending:
            self._event(plan, ref, "Normal", "TierChanged", pending)
        old_ready = next((x for x in cust.conditions if x.get("type") == "Ready"), None)
        new_ready = body["conditions"][-1] if body["conditions"] else None
        for cond in body["conditions"]:
            if cond["type"] == "Ready":
                new_ready = cond
        if new_ready and (old_ready is None or old_ready.get("reason") != new_ready["reason"]):
            self._event(plan, ref, "Normal" if new_ready["status"] == "True" else "Warning",
                        new_ready["reason"], new_ready["message"])
        if body != cust.written:
            cust.written, cust.conditions = body, body["conditions"]
            plan.statuses.append((Kube.custom_path(CUSTOMER_TIER, cust.meta["namespace"],
                                                   cust.meta["name"], "status"), body))

    def _plan_policy(self, plan: Plan, now: float) -> None:
        sched = self.scheduler
        ok = self.policy_error is None and sched is not None
        if ok:
            assert sched is not None
            message = f"in force: {len(sched.policy.lanes)} lanes"
            reason = "Valid"
        else:
            keep = " (the last valid generation stays in force)" if sched else ""
            message = f"{self.policy_error}{keep}"
            reason = "InvalidPolicy"
        body = policy_status(
            generation=self.policy_generation, active_generation=self.active_generation,
            lanes=len(sched.policy.lanes) if sched else None,
            total_slots=sched.policy.total_slots if sched else None, ok=ok, reason=reason,
            message=message, previous=self.policy_conditions, now=now)
        self.policy_conditions = body["conditions"]
        ref = {"apiVersion": c.API_VERSION, "kind": "TierPolicy", "metadata": self.policy_meta}
        if not ok:
            self._event(plan, ref, "Warning", reason, message)
        plan.statuses.append((Kube.custom_path(TIER_POLICY, None, POLICY_NAME, "status"), body))

    # ---- writes -----------------------------------------------------------------------------
    async def _execute(self, plan: Plan) -> None:
        ctx = self.event_context
        if ctx is not None:
            for ref, type_, reason, message in plan.events:
                ctx.run(kopf.event, cast(kopf.Body, ref), type=type_, reason=reason,
                        message=message)
        tasks = [self._admit(tj, job, body) for tj, job, body in plan.creates]
        tasks += [self._write("status", self.kube.merge_patch(p, {"status": b}))
                  for p, b in plan.statuses]
        tasks += [self._write("labels", self.kube.merge_patch(p, b)) for p, b in plan.patches]
        await asyncio.gather(*tasks)

    async def _write(self, kind: str, call: Awaitable[Any]) -> bool:
        async with self.sem:
            try:
                await call
                return True
            except ApiException as exc:
                if exc.status != 404:  # deleted meanwhile: nothing to write to
                    metrics.WRITE_ERRORS.labels(kind).inc()
                    log.warning("%s write failed: %s %s", kind, exc.status, exc.reason)
                return False

    async def _admit(self, tj: TJ, job: dict[str, Any], status: dict[str, Any]) -> bool:
        """Create the Job (409 from our own earlier try is success), then say so."""
        path = Kube.jobs_path(tj.namespace)
        async with self.sem:
            try:
                await self.kube.create(path, job)
            except ApiException as exc:
                if exc.status != 409 or not await self._ours(tj, job["metadata"]["name"]):
                    metrics.WRITE_ERRORS.labels("job").inc()
                    log.warning("creating Job %s/%s failed: %s %s", tj.namespace,
                                job["metadata"]["name"], exc.status, exc.reason)
                    await self._unadmit(tj)
                    return False
        return await self._write("status", self.kube.merge_patch(
            Kube.custom_path(TIERED_JOB, tj.namespace, tj.name, "status"), {"status": status}))

    async def _ours(self, tj: TJ, name: str) -> bool:
        existing = await self.kube.get(Kube.jobs_path(tj.namespace, name))
        owners = (existing or {}).get("metadata", {}).get("ownerReferences") or ()
        return any(o.get("uid") == tj.uid for o in owners)

    async def _unadmit(self, tj: TJ) -> None:
        """The Job could not be created: back to the queue, tried again a little later."""
        async with self.lock:
            if self.scheduler is not None and self.tjs.get(tj.key) is tj:
                self.scheduler.remove_job(tj.key)
                tj.job_name = tj.admitted_at = None
                tj.phase = None
                self._submit(tj)
        asyncio.get_running_loop().call_later(2.0, self.wake.set)
