"""The scheduler: lanes, their queues, admission, borrowing, re-tiering, explanations.

Pure and deterministic: no clock (callers pass `now`, in seconds), no I/O. The operator,
the simulator and the CLI drive the same object; the operator rebuilds it from the cluster
after a restart (`restore_running` + `submit`).

Order inside a lane
-------------------
1. Customers take turns by *start-time fair queuing*: each customer has a virtual finish tag
   in the lane that grows by the estimated seconds of every job it is admitted; the
   customer with the smallest tag goes next, so one who has used less of the lane goes
   first, and a customer who was idle re-enters at the lane's virtual time (no hoarded
   credit).
2. Priority is worth `fairness.priorityWeightSeconds` of tag per point (and of waiting,
   inside a customer's own queue), so a higher priority runs earlier without a strict
   level that could starve lower ones.
3. FIFO (the time a job was queued, then submission order) breaks ties.

Borrowing
---------
After every lane admitted what it could on its own slots, a lane whose class bound is at
most `borrowing.maxBorrowerClassSeconds` may take an idle slot of another lane of its
cohort (up to that lender's `maxLend`). Jobs are never preempted, so a lender gets the slot
back within the borrower's class bound.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum

from tierq.core.estimates import Estimator
from tierq.core.policy import CompiledPolicy, LaneConfig, LaneKey
from tierq.core.reasons import Reason
from tierq.core.tiers import AssignedBy, classify_customer


class JobState(Enum):
    PENDING = "Pending"
    QUEUED = "Queued"
    RUNNING = "Running"


@dataclass(slots=True, eq=False)
class Job:
    key: str
    customer: str
    job_type: str
    priority: int
    queued_at: float
    seq: int
    suspended: bool = False
    state: JobState = JobState.PENDING
    reason: Reason | None = None
    lane: str | None = None
    estimate: float = 0.0
    slot_lane: str | None = None  # whose slot a running job occupies (another lane: borrowed)
    started_at: float | None = None

    def order(self, weight: float) -> float:
        """Place inside its customer's queue: earlier and higher priority first."""
        return self.queued_at - self.priority * weight


@dataclass(slots=True)
class Customer:
    key: str
    site_id: int
    volume: int
    pin: str | None
    created: float
    tier: str | None = None
    assigned_by: AssignedBy = "Volume"
    since: float | None = None
    blocked: Reason | None = None
    problem: str | None = None

    @property
    def namespace(self) -> str:
        return self.key.split("/", 1)[0] if "/" in self.key else ""


@dataclass(frozen=True, slots=True)
class Admission:
    """A decision the operator turns into a batch/v1 Job."""

    job: str
    lane: str
    slot_lane: str

    @property
    def borrowed(self) -> bool:
        return self.lane != self.slot_lane


@dataclass(frozen=True, slots=True)
class TierChange:
    customer: str
    old: str | None
    new: str | None
    assigned_by: AssignedBy
    moved_jobs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Explanation:
    job: str
    state: str
    reason: Reason
    message: str
    lane: str | None = None
    position: int | None = None
    eta: float | None = None


@dataclass(frozen=True, slots=True)
class QueueSlot:
    position: int
    eta: float | None


@dataclass(frozen=True, slots=True)
class LaneStats:
    lane: str
    node_pool: str
    max_running: int
    used: int  # this lane's slots in use (own jobs and jobs borrowing them)
    running: int  # this lane's jobs running, on own or borrowed slots
    lent: int
    borrowed: int
    queued: int
    oldest_queued_at: float | None


class _Lane:
    """Runtime state of one lane: its per-customer queues and its slot accounting."""

    __slots__ = ("borrowed", "capped", "config", "customer_running", "entries", "finish",
                 "heads", "lent", "queued", "queues", "used", "version", "vtime")

    def __init__(self, config: LaneConfig) -> None:
        self.config = config
        self.queues: dict[str, list[tuple[float, int, Job]]] = {}
        self.entries: list[tuple[float, float, int, str, int]] = []  # the customers' heads
        self.version: dict[str, int] = {}
        self.heads: dict[str, float] = {}
        self.finish: dict[str, float] = {}
        self.vtime = 0.0
        self.capped: set[str] = set()
        self.customer_running: dict[str, int] = {}
        self.used = 0
        self.lent = 0
        self.borrowed = 0
        self.queued = 0

    @property
    def name(self) -> str:
        return self.config.name

    def free(self) -> int:
        return self.config.max_running - self.used

    def lendable(self) -> int:
        if self.config.cohort is None:
            return 0
        cap = self.config.max_lend
        by_lend = self.free() if cap is None else min(self.free(), cap - self.lent)
        return max(0, by_lend)

    def at_cap(self, customer: str) -> bool:
        cap = self.config.max_running_per_customer
        return cap is not None and self.customer_running.get(customer, 0) >= cap


class Scheduler:
    """All queues and slots of one cluster, and every admission decision."""

    def __init__(self, policy: CompiledPolicy) -> None:
        self.policy = policy
        self.estimator = Estimator()
        self.jobs: dict[str, Job] = {}
        self.customers: dict[str, Customer] = {}
        # Indexes, so no event scans every job or customer.
        self._jobs_of: dict[str, set[str]] = {}  # customer key -> job keys (known or not)
        self._sites: dict[tuple[str, int], set[str]] = {}  # (namespace, siteId) -> customers
        self._lanes: dict[str, _Lane] = {}
        self._cohorts: dict[str, list[_Lane]] = {}
        self._build_lanes(policy)
        self._seq = itertools.count()

    def _build_lanes(self, policy: CompiledPolicy) -> dict[str, _Lane]:
        """Fresh lanes for a policy; returns the previous ones."""
        previous = self._lanes
        self._lanes = {name: _Lane(c) for name, c in policy.lanes.items()}
        self._cohorts = {}
        for lane in self._lanes.values():
            if lane.config.cohort is not None:
                self._cohorts.setdefault(lane.config.cohort, []).append(lane)
        return previous

    # ---- policy -----------------------------------------------------------------------
    @property
    def _weight(self) -> float:
        return float(self.policy.spec.fairness.priority_weight_seconds)

    def set_policy(self, policy: CompiledPolicy, now: float) -> list[TierChange]:
        """Put a new policy in force. Running jobs keep their slots (a lowered maxRunning
        only stops admissions until the lane drains below it); queued jobs are re-laned."""
        self.policy = policy
        old_lanes = self._build_lanes(policy)
        for name, lane in self._lanes.items():
            previous = old_lanes.get(name)
            if previous is not None:
                lane.finish = previous.finish
                lane.vtime = previous.vtime
        for job in self.jobs.values():
            if job.state is JobState.RUNNING:
                self._count_running(job, +1)
            else:
                job.state = JobState.PENDING  # the new lanes' queues are empty: re-place it
        changes = [self._retier(c, now) for c in self.customers.values()]
        return [c for c in changes if c.old != c.new or c.moved_jobs]

    # ---- customers ----------------------------------------------------------------------
    def upsert_customer(self, key: str, *, site_id: int, volume: int, pin: str | None,
                        created: float, now: float) -> TierChange:
        """Add or update a customer; its queued jobs follow a tier change."""
        customer = self.customers.get(key)
        if customer is None:
            customer = self.customers[key] = Customer(key, site_id, volume, pin, created)
        else:
            if customer.site_id != site_id:
                self._sites[(customer.namespace, customer.site_id)].discard(key)
                self._check_duplicates(customer.namespace, customer.site_id, now)
            customer.site_id, customer.volume, customer.pin = site_id, volume, pin
        self._sites.setdefault((customer.namespace, site_id), set()).add(key)
        self._check_duplicates(customer.namespace, site_id, now)
        return self._retier(customer, now)

    def remove_customer(self, key: str, now: float) -> list[str]:
        """Forget a customer: its queued jobs go back to Pending (nothing is dropped)."""
        customer = self.customers.pop(key, None)
        if customer is None:
            return []
        pending = []
        for job_key in sorted(self._jobs_of.get(key, ())):
            job = self.jobs[job_key]
            if job.state is JobState.QUEUED:
                self._dequeue(job)
            if job.state is not JobState.RUNNING:
                job.state, job.reason, job.lane = JobState.PENDING, Reason.CUSTOMER_UNKNOWN, None
                pending.append(job_key)
        self._sites[(customer.namespace, customer.site_id)].discard(key)
        self._check_duplicates(customer.namespace, customer.site_id, now)
        return pending

    def _check_duplicates(self, namespace: str, site_id: int, now: float) -> None:
        """Two customers with one siteId in a namespace: the older keeps it, newer ones wait."""
        group = sorted((self.customers[k] for k in self._sites.get((namespace, site_id), ())),
                       key=lambda c: (c.created, c.key))
        if group:
            for i, c in enumerate(group):
                blocked = Reason.DUPLICATE_SITE_ID if i else None
                if c.blocked is not blocked and (blocked or c.blocked is Reason.DUPLICATE_SITE_ID):
                    c.blocked = blocked
                    c.problem = (f"siteId {c.site_id} is already used by {group[0].key}"
                                 if blocked else None)
                    self._retier(c, now)

    def _retier(self, customer: Customer, now: float) -> TierChange:
        decision = classify_customer(self.policy, customer.volume, customer.pin, customer.tier)
        old = customer.tier
        if decision.tier is None:
            customer.blocked, customer.problem = Reason.UNKNOWN_TIER, decision.problem
        elif customer.blocked is Reason.UNKNOWN_TIER:
            customer.blocked, customer.problem = None, None
        customer.tier, customer.assigned_by = decision.tier, decision.assigned_by
        if customer.tier != old or customer.since is None:
            customer.since = now
        moved = []
        for job_key in sorted(self._jobs_of.get(customer.key, ()),
                              key=lambda k: self.jobs[k].seq):
            job = self.jobs[job_key]
            if job.state is JobState.RUNNING:
                continue  # running jobs finish where they are
            before = job.lane if job.state is JobState.QUEUED else None
            self._place(job, customer)
            if job.lane != before and before is not None:
                moved.append(job_key)
        return TierChange(customer.key, old, customer.tier, customer.assigned_by, tuple(moved))

    # ---- jobs ---------------------------------------------------------------------------
    def submit(self, key: str, *, customer: str, job_type: str, priority: int = 0,
               suspended: bool = False, queued_at: float) -> Job | Reason:
        """Queue a job (or hold it Pending); an unknown job type is refused with a reason."""
        existing = self.jobs.get(key)
        if existing is not None:
            self.update_job(key, priority=priority, suspended=suspended)
            return existing
        if job_type not in self.policy.job_types:
            return Reason.UNKNOWN_JOB_TYPE
        job = Job(key, customer, job_type, priority, queued_at, next(self._seq),
                  suspended=suspended)
        self.jobs[key] = job
        self._jobs_of.setdefault(customer, set()).add(key)
        self._place(job, self.customers.get(customer))
        return job

    def update_job(self, key: str, *, priority: int | None = None,
                   suspended: bool | None = None) -> None:
        job = self.jobs[key]
        changed = (priority is not None and priority != job.priority) or (
            suspended is not None and suspended != job.suspended)
        if not changed or job.state is JobState.RUNNING:
            if job.state is JobState.RUNNING and suspended is not None:
                job.suspended = suspended
            return
        if job.state is JobState.QUEUED:
            self._dequeue(job)
        if priority is not None:
            job.priority = priority
        if suspended is not None:
            job.suspended = suspended
        self._place(job, self.customers.get(job.customer))

    def remove_job(self, key: str) -> Job | None:
        """Forget a job (deleted, or finished); a running one frees its slot."""
        job = self.jobs.pop(key, None)
        if job is None:
            return None
        if job.state is JobState.QUEUED:
            self._dequeue(job)
        elif job.state is JobState.RUNNING:
            self._count_running(job, -1)
        owned = self._jobs_of.get(job.customer)
        if owned is not None:
            owned.discard(key)
            if not owned:
                del self._jobs_of[job.customer]
        return job

    def finish(self, key: str, *, duration: float | None, succeeded: bool = True) -> Job | None:
        """A job ended: free its slot, and learn from its duration when it succeeded."""
        job = self.remove_job(key)
        if job is not None and succeeded and duration is not None and duration >= 0:
            self.estimator.observe(self.policy, job.job_type, job.customer, duration)
        return job

    def restore_running(self, key: str, *, customer: str, job_type: str, lane: str,
                        slot_lane: str | None, started_at: float, estimate: float,
                        priority: int = 0, queued_at: float | None = None) -> Job:
        """Rebuild a running job from its Kubernetes Job after a restart."""
        self.remove_job(key)
        job = Job(key, customer, job_type, priority,
                  queued_at if queued_at is not None else started_at, next(self._seq),
                  state=JobState.RUNNING, lane=lane, estimate=estimate,
                  slot_lane=slot_lane or lane, started_at=started_at, reason=Reason.ADMITTED)
        self.jobs[key] = job
        self._jobs_of.setdefault(customer, set()).add(key)
        self._count_running(job, +1)
        return job

    # ---- placement ----------------------------------------------------------------------
    def _place(self, job: Job, customer: Customer | None) -> None:
        """Put a not-running job where it belongs: a lane's queue, or Pending with a reason."""
        if job.state is JobState.QUEUED:
            self._dequeue(job)
        if customer is None:
            job.state, job.reason, job.lane = JobState.PENDING, Reason.CUSTOMER_UNKNOWN, None
            return
        if customer.blocked is not None or customer.tier is None:
            job.state, job.reason, job.lane = (
                JobState.PENDING, customer.blocked or Reason.UNKNOWN_TIER, None)
            return
        job.estimate = self.estimator.estimate(self.policy, job.job_type, customer.key,
                                               customer.volume)
        cls = self.policy.class_for_seconds(job.estimate)
        job.lane = LaneKey(customer.tier, cls).name
        job.state = JobState.QUEUED
        job.reason = Reason.SUSPENDED if job.suspended else Reason.WAITING_FOR_TURN
        if not job.suspended:
            self._enqueue(job)

    def _enqueue(self, job: Job) -> None:
        assert job.lane is not None
        lane = self._lanes[job.lane]
        queue = lane.queues.setdefault(job.customer, [])
        heapq.heappush(queue, (job.order(self._weight), job.seq, job))
        lane.queued += 1
        if queue[0][2] is job and job.customer not in lane.capped:
            self._push_head(lane, job.customer)

    def _dequeue(self, job: Job) -> None:
        """Take a queued job out of its lane (lazily: its heap entry is skipped later).

        Call it before changing the flags that decide whether the job sits in a heap."""
        in_heap = job.state is JobState.QUEUED and not job.suspended and job.lane is not None
        job.state = JobState.PENDING  # marks the heap entry stale
        if not in_heap:
            return
        assert job.lane is not None
        lane = self._lanes[job.lane]
        queue = lane.queues[job.customer]
        lane.queued -= 1
        was_head = queue[0][2] is job
        self._clean_top(lane, job.customer)
        if was_head and job.customer not in lane.capped:
            self._push_head(lane, job.customer)

    def _clean_top(self, lane: _Lane, customer: str) -> None:
        queue = lane.queues[customer]
        while queue and not self._is_queued_in(queue[0][2], lane):
            heapq.heappop(queue)
        if not queue:
            del lane.queues[customer]

    @staticmethod
    def _is_queued_in(job: Job, lane: _Lane) -> bool:
        return job.state is JobState.QUEUED and job.lane == lane.name and not job.suspended

    def _push_head(self, lane: _Lane, customer: str) -> None:
        """(Re)announce a customer's head job to its lane; older announcements go stale."""
        version = lane.version.get(customer, 0) + 1
        lane.version[customer] = version
        queue = lane.queues.get(customer)
        if not queue:
            return
        head = queue[0][2]
        start = max(lane.finish.get(customer, 0.0), lane.vtime)
        key = start - head.priority * self._weight
        heapq.heappush(lane.entries, (key, queue[0][0], head.seq, customer, version))

    def _pop_customer(self, lane: _Lane) -> str | None:
        """The customer whose turn it is in the lane, skipping capped ones (parked)."""
        while lane.entries:
            _, _, _, customer, version = lane.entries[0]
            if lane.version.get(customer) != version or customer not in lane.queues:
                heapq.heappop(lane.entries)
                continue
            if lane.at_cap(customer):
                heapq.heappop(lane.entries)
                lane.capped.add(customer)
                continue
            return customer
        return None

    # ---- admission ----------------------------------------------------------------------
    def schedule(self, now: float) -> list[Admission]:
        """Admit every job that may start now. The caller creates one Job per Admission."""
        admissions: list[Admission] = []
        for lane in self._lanes.values():
            while lane.entries and lane.free() > 0:
                admitted = self._admit_head(lane, lane, now)
                if admitted is None:
                    break
                admissions.append(admitted)
        for members in self._cohorts.values():
            borrowers = [m for m in members if m.entries and m.config.may_borrow]
            if not borrowers:
                continue
            # Slots still free after the own pass are idle: their lane has nothing to admit.
            lenders = [m for m in members if m.lendable() > 0]
            if not lenders:
                continue
            for lane in borrowers:
                while lane.entries:
                    lender = max((m for m in lenders if m is not lane and m.lendable() > 0),
                                 key=_Lane.lendable, default=None)
                    if lender is None:
                        break
                    admitted = self._admit_head(lane, lender, now)
                    if admitted is None:
                        break
                    admissions.append(admitted)
        return admissions

    def _admit_head(self, lane: _Lane, slot: _Lane, now: float) -> Admission | None:
        customer = self._pop_customer(lane)
        if customer is None:
            return None
        heapq.heappop(lane.entries)
        queue = lane.queues[customer]
        _, _, job = heapq.heappop(queue)
        lane.queued -= 1
        start = max(lane.finish.get(customer, 0.0), lane.vtime)
        lane.vtime = start
        cost = max(job.estimate, float(self.policy.spec.fairness.min_job_cost_seconds))
        lane.finish[customer] = start + cost
        job.state, job.slot_lane, job.started_at = JobState.RUNNING, slot.name, now
        job.reason = Reason.ADMITTED if slot is lane else Reason.BORROWED
        self._count_running(job, +1)
        self._clean_top(lane, customer)
        if customer in lane.queues:
            self._push_head(lane, customer)
        return Admission(job.key, lane.name, slot.name)

    def _count_running(self, job: Job, delta: int) -> None:
        lane = self._lanes.get(job.lane or "")
        slot = self._lanes.get(job.slot_lane or "")
        if slot is not None:
            slot.used += delta
        if lane is not None:
            count = lane.customer_running.get(job.customer, 0) + delta
            if count:
                lane.customer_running[job.customer] = count
            else:
                lane.customer_running.pop(job.customer, None)
            if delta < 0 and job.customer in lane.capped and not lane.at_cap(job.customer):
                lane.capped.discard(job.customer)
                self._push_head(lane, job.customer)
        if lane is not None and slot is not None and lane is not slot:
            lane.borrowed += delta
            slot.lent += delta

    # ---- what users ask ----------------------------------------------------------------
    def lane_order(self, lane_name: str) -> Iterator[Job]:
        """The lane's queued jobs in the order they would be admitted (caps aside)."""
        lane = self._lanes[lane_name]
        queues = {c: sorted((e for e in q if self._is_queued_in(e[2], lane)),
                            key=lambda e: (e[0], e[1]))
                  for c, q in lane.queues.items()}
        finish = dict(lane.finish)
        vtime = lane.vtime
        cursor = dict.fromkeys(queues, 0)
        heap: list[tuple[float, float, int, str]] = []
        for c, q in queues.items():
            if q:
                start = max(finish.get(c, 0.0), vtime)
                heap.append((start - q[0][2].priority * self._weight, q[0][0], q[0][1], c))
        heapq.heapify(heap)
        min_cost = float(self.policy.spec.fairness.min_job_cost_seconds)
        while heap:
            _, _, _, c = heapq.heappop(heap)
            job = queues[c][cursor[c]][2]
            cursor[c] += 1
            start = max(finish.get(c, 0.0), vtime)
            vtime = start
            finish[c] = start + max(job.estimate, min_cost)
            yield job
            if cursor[c] < len(queues[c]):
                head = queues[c][cursor[c]]
                start = max(finish[c], vtime)
                heapq.heappush(heap, (start - head[2].priority * self._weight, head[0],
                                      head[1], c))

    def queue_slots(self, now: float, lanes: Iterable[str] | None = None) -> dict[str, QueueSlot]:
        """Position (1 = next) and estimated start of every queued job.

        The ETA gives each job, in admission order, the lane's earliest free slot; a slot
        frees when its running job reaches its estimate. Per-customer caps and borrowing are
        left out: the ETA is an estimate, and says so in the docs.
        """
        result: dict[str, QueueSlot] = {}
        ends: dict[str, list[float]] = {}
        for job in self.jobs.values():
            if job.state is JobState.RUNNING and job.slot_lane is not None:
                ends.setdefault(job.slot_lane, []).append(
                    max(now, (job.started_at or now) + job.estimate))
        for name in lanes if lanes is not None else self._lanes:
            lane = self._lanes[name]
            free_at = [now] * max(0, lane.free()) + ends.get(name, [])
            free_at = sorted(free_at)[: max(0, lane.config.max_running)]
            heapq.heapify(free_at)
            for position, job in enumerate(self.lane_order(name), start=1):
                eta = None
                if free_at:
                    eta = heapq.heappop(free_at)
                    heapq.heappush(free_at, eta + job.estimate)
                result[job.key] = QueueSlot(position, eta)
        return result

    def explain(self, key: str, now: float) -> Explanation:
        """Why a job is where it is, in one reason and one sentence."""
        job = self.jobs.get(key)
        if job is None:
            return Explanation(key, "Unknown", Reason.NOT_FOUND, "no such job in the scheduler")
        state = job.state.value
        if job.state is JobState.RUNNING:
            where = (f"on a slot borrowed from {job.slot_lane}" if job.slot_lane != job.lane
                     else "on its own slot")
            return Explanation(key, state, job.reason or Reason.ADMITTED,
                               f"running in lane {job.lane} {where}", job.lane)
        if job.state is JobState.PENDING:
            customer = self.customers.get(job.customer)
            reason = job.reason or Reason.CUSTOMER_UNKNOWN
            if customer is None:
                message = f"customer {job.customer} does not exist (yet)"
            else:
                message = customer.problem or f"customer {job.customer} cannot be tiered"
            return Explanation(key, state, reason, message)
        reason, message = self.waiting_reason(key)
        slot = self.queue_slots(now, [job.lane]).get(key) if job.lane else None
        position, eta = (slot.position, slot.eta) if slot else (None, None)
        if position is not None:
            message += f"; position {position}"
        return Explanation(key, state, reason, message, job.lane, position, eta)

    def waiting_reason(self, key: str) -> tuple[Reason, str]:
        """Why a queued job is not running now, without walking its queue (cheap enough to
        ask for every queued job on every status refresh)."""
        job = self.jobs[key]
        if job.state is not JobState.QUEUED or job.lane is None:
            return job.reason or Reason.CUSTOMER_UNKNOWN, f"the job is {job.state.value}"
        lane = self._lanes[job.lane]
        cfg = lane.config
        if job.suspended:
            return Reason.SUSPENDED, "spec.suspend is true: held in its queue"
        if cfg.max_running == 0:
            return Reason.LANE_CLOSED, f"lane {lane.name} has maxRunning 0"
        if lane.at_cap(job.customer):
            return Reason.CUSTOMER_CAP_REACHED, (
                f"customer has {lane.customer_running.get(job.customer, 0)} of "
                f"{cfg.max_running_per_customer} jobs running in lane {lane.name}")
        if lane.free() <= 0:
            message = f"lane {lane.name} is full: {lane.used} of {cfg.max_running} slots used"
            if not cfg.may_borrow:
                message += " (it may not borrow: its class is unbounded or above the limit)"
            else:
                message += f"; no idle slot to borrow in cohort {cfg.cohort}"
            return Reason.LANE_FULL, message
        return Reason.WAITING_FOR_TURN, f"waiting for its turn in lane {lane.name}"

    def jobs_of(self, customer: str) -> frozenset[str]:
        """Keys of the jobs (any state) that name this customer, known to it or not."""
        return frozenset(self._jobs_of.get(customer, ()))

    def lane_stats(self) -> list[LaneStats]:
        oldest: dict[str, float] = {}
        for job in self.jobs.values():
            if job.state is JobState.QUEUED and job.lane and not job.suspended:
                oldest[job.lane] = min(oldest.get(job.lane, job.queued_at), job.queued_at)
        return [
            LaneStats(
                lane=name,
                node_pool=lane.config.node_pool.name,
                max_running=lane.config.max_running,
                used=lane.used,
                running=sum(lane.customer_running.values()),
                lent=lane.lent,
                borrowed=lane.borrowed,
                queued=lane.queued,
                oldest_queued_at=oldest.get(name),
            )
            for name, lane in self._lanes.items()
        ]

    def counts_for(self, customer: str) -> tuple[int, int]:
        """(queued, running) jobs of a customer."""
        queued = running = 0
        for key in self._jobs_of.get(customer, ()):
            state = self.jobs[key].state
            queued += state is JobState.QUEUED
            running += state is JobState.RUNNING
        return queued, running
