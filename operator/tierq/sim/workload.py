"""Workloads: who submits which job when, and how long it really runs.

A workload is columnar (one `array` per field) because a million arrivals as objects would
cost more memory and time than the simulation itself. It is generated from the brief's model
(`generate_workload`), seeded and therefore reproducible, or read from a YAML/JSON file
(`load_workload`).

The brief's model
-----------------
- customers in the three bands of the Site table: Low 500-10,000 records, Medium
  10,000-50,000, High 50,000-200,000 (log-uniform inside a band);
- the five tasks at 0.001 / 0.01 / 0.1 / 1 / 10 seconds per record, so a job runs
  seconds-per-record x records: from half a second to weeks;
- steady Poisson arrivals, each job of a uniformly chosen customer and a job type drawn
  from a mix where short tasks are frequent and long ones rare;
- bursts: a medium or large customer submits hundreds of long jobs at the same instant;
- the arrival rate is set so that steady work plus burst work is `load` of the slots over
  the horizon.
"""

from __future__ import annotations

import json
import math
import random
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tierq.core.estimates import model_estimate
from tierq.core.policy import CompiledPolicy

# The brief's bands of Site.record_capacity, as (name, lowest, highest) records.
BANDS: tuple[tuple[str, int, int], ...] = (
    ("small", 500, 10_000),
    ("medium", 10_000, 50_000),
    ("large", 50_000, 200_000),
)

# Short tasks are frequent, long ones rare: the common shape of a SaaS job mix. The mix is
# an assumption (the brief gives none); `--mix` changes it.
DEFAULT_MIX: dict[str, float] = {
    "task_01": 0.40,
    "task_02": 0.30,
    "task_03": 0.18,
    "task_04": 0.09,
    "task_05": 0.03,
}

# Many small customers, few large ones.
DEFAULT_CUSTOMER_SHARES: tuple[float, float, float] = (0.70, 0.22, 0.08)

# (band of the customer, job type) a burst is made of: hundreds of jobs of hours each.
BURST_KINDS: tuple[tuple[str, str], ...] = (("medium", "task_04"), ("large", "task_03"))


@dataclass(frozen=True, slots=True)
class SimCustomer:
    name: str
    site_id: int
    volume: int


@dataclass(frozen=True)
class WorkloadParams:
    """Knobs of the generated workload; the defaults are the README's demo."""

    jobs: int = 20_000
    seed: int = 1
    load: float = 0.7
    """Offered work (steady + bursts) over the horizon, as a fraction of all slots. 0.7: a
    cluster sized with the usual 30% headroom; at 0.9 lanes that must each keep a slot for
    short work leave too few for the long work (see the README's figures)."""
    slots: int = 44
    """Worker slots the load is relative to (the policy's total)."""
    customers: int = 300
    customer_shares: tuple[float, float, float] = DEFAULT_CUSTOMER_SHARES
    mix: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    bursts: int | None = None
    """Number of bursts; None: one per 4,000 jobs."""
    burst_min: int = 100
    burst_max: int = 400
    noise: float = 0.0
    """Sigma of a log-normal factor on the real run time; the estimate stays the model's."""


@dataclass
class Workload:
    """Customers and arrivals, sorted by time. Index i of every array is the i-th job."""

    customers: list[SimCustomer]
    job_types: tuple[str, ...]
    time: array[float] = field(default_factory=lambda: array("d"))
    customer: array[int] = field(default_factory=lambda: array("l"))
    job_type: array[int] = field(default_factory=lambda: array("l"))
    runtime: array[float] = field(default_factory=lambda: array("d"))
    priority: array[int] = field(default_factory=lambda: array("l"))
    burst: array[int] = field(default_factory=lambda: array("b"))

    def __len__(self) -> int:
        return len(self.time)

    @property
    def horizon(self) -> float:
        """Time of the last arrival: the window utilization is measured over."""
        return self.time[-1] if self.time else 0.0

    def append(self, time: float, customer: int, job_type: int, runtime: float,
               priority: int = 0, burst: bool = False) -> None:
        self.time.append(time)
        self.customer.append(customer)
        self.job_type.append(job_type)
        self.runtime.append(runtime)
        self.priority.append(priority)
        self.burst.append(1 if burst else 0)

    def sorted_by_time(self) -> Workload:
        """A copy in arrival order (stable: submission order breaks ties)."""
        order = sorted(range(len(self)), key=self.time.__getitem__)
        out = Workload(self.customers, self.job_types)
        for i in order:
            out.append(self.time[i], self.customer[i], self.job_type[i], self.runtime[i],
                       self.priority[i], bool(self.burst[i]))
        return out

    def to_dict(self) -> dict[str, Any]:
        """The file form `load_workload` reads."""
        return {
            "customers": [
                {"name": c.name, "siteId": c.site_id, "volume": c.volume} for c in self.customers
            ],
            "arrivals": [
                {
                    "time": self.time[i],
                    "customer": self.customers[self.customer[i]].name,
                    "jobType": self.job_types[self.job_type[i]],
                    "runtime": self.runtime[i],
                    **({"priority": self.priority[i]} if self.priority[i] else {}),
                    **({"burst": True} if self.burst[i] else {}),
                }
                for i in range(len(self))
            ],
        }


def _band_volume(rng: random.Random, low: int, high: int) -> int:
    return int(math.exp(rng.uniform(math.log(low), math.log(high))))


def make_customers(rng: random.Random, count: int,
                   shares: Sequence[float] = DEFAULT_CUSTOMER_SHARES) -> list[SimCustomer]:
    """`count` customers spread over the bands by `shares` (every band gets at least one)."""
    per_band = [max(1, round(count * s)) for s in shares]
    customers: list[SimCustomer] = []
    for (band, low, high), n in zip(BANDS, per_band, strict=True):
        for _ in range(n):
            site_id = len(customers) + 1
            customers.append(SimCustomer(f"{band}-{site_id}", site_id,
                                         _band_volume(rng, low, high)))
    return customers


def _normalized(mix: Mapping[str, float], job_types: Sequence[str]) -> list[float]:
    unknown = set(mix) - set(job_types)
    if unknown:
        raise ValueError(f"--mix names unknown job types: {', '.join(sorted(unknown))}")
    weights = [max(0.0, mix.get(name, 0.0)) for name in job_types]
    total = sum(weights)
    if total <= 0:
        raise ValueError("--mix gives every job type a weight of 0")
    return [w / total for w in weights]


def generate_workload(params: WorkloadParams, policy: CompiledPolicy) -> Workload:
    """The brief's workload: steady Poisson arrivals plus bursts, reproducible by seed."""
    if params.jobs < 1:
        raise ValueError("--jobs must be at least 1")
    if not 0 < params.load <= 2:
        raise ValueError("--load must be in (0, 2]")
    rng = random.Random(params.seed)
    customers = make_customers(rng, params.customers, params.customer_shares)
    job_types = tuple(policy.job_types)
    weights = _normalized(params.mix, job_types)
    estimates = [[model_estimate(policy, jt, c.volume) for jt in job_types] for c in customers]

    def real(estimate: float) -> float:
        if params.noise <= 0:
            return estimate
        return estimate * rng.lognormvariate(-params.noise**2 / 2, params.noise)

    n_bursts = params.bursts if params.bursts is not None else params.jobs // 4000
    by_band = {band: [i for i, c in enumerate(customers) if c.name.startswith(band + "-")]
               for band, _, _ in BANDS}
    burst_plan: list[tuple[int, int, int]] = []  # (customer, job type index, size)
    for _ in range(n_bursts):
        band, burst_type = rng.choice(BURST_KINDS)
        if not by_band[band] or burst_type not in job_types:
            continue
        size = rng.randint(params.burst_min, params.burst_max)
        burst_plan.append((rng.choice(by_band[band]), job_types.index(burst_type), size))
    burst_jobs = sum(size for _, _, size in burst_plan)
    if burst_jobs >= params.jobs:
        raise ValueError(f"--jobs {params.jobs} leaves no room for {burst_jobs} burst jobs")
    steady_jobs = params.jobs - burst_jobs
    burst_work = sum(estimates[c][t] * size for c, t, size in burst_plan)
    mean_steady = sum(
        w * estimates[c][t]
        for c in range(len(customers))
        for t, w in enumerate(weights)
    ) / len(customers)
    # (steady work + burst work) / (slots x horizon) = load, horizon = steady jobs / rate.
    rate = params.load * params.slots / (mean_steady + burst_work / steady_jobs)

    workload = Workload(customers, job_types)
    now = 0.0
    picks = rng.choices(range(len(job_types)), weights=weights, k=steady_jobs)
    for pick in picks:
        now += rng.expovariate(rate)
        who = rng.randrange(len(customers))
        workload.append(now, who, pick, real(estimates[who][pick]))
    horizon = now
    for who, kind, size in burst_plan:
        at = rng.uniform(0.05 * horizon, 0.85 * horizon)
        for _ in range(size):
            workload.append(at, who, kind, real(estimates[who][kind]), burst=True)
    return workload.sorted_by_time()


# ---- files ----------------------------------------------------------------------------------
def _field(entry: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if name in entry:
            return entry[name]
    return None


def workload_from_data(data: Any, policy: CompiledPolicy) -> Workload:
    """A workload from parsed YAML/JSON.

    Either `{customers: [{name, siteId?, volume}], arrivals: [...]}` or a bare list of
    arrivals that carry the customer's `volume`. An arrival is
    `{time, customer, jobType, runtime?, priority?}`; without `runtime` the job runs as
    long as the policy's model estimates (secondsPerRecord x volume).
    """
    if isinstance(data, list):
        data = {"customers": [], "arrivals": data}
    if not isinstance(data, dict) or not isinstance(data.get("arrivals"), list):
        raise ValueError("a workload file is a list of arrivals or {customers, arrivals}")
    customers: list[SimCustomer] = []
    index: dict[str, int] = {}

    def add_customer(name: str, volume: Any, site_id: Any = None) -> int:
        if volume is None:
            raise ValueError(f"customer {name!r}: no volume (give it in customers or arrivals)")
        index[name] = len(customers)
        sid = int(site_id) if site_id is not None else len(customers) + 1
        customers.append(SimCustomer(name, sid, int(volume)))
        return index[name]

    for entry in data.get("customers") or []:
        add_customer(str(entry["name"]), _field(entry, "volume", "recordVolume"),
                     _field(entry, "siteId", "site_id"))
    job_types = tuple(policy.job_types)
    workload = Workload(customers, job_types)
    for n, entry in enumerate(data["arrivals"]):
        where = f"arrivals[{n}]"
        name = str(_field(entry, "customer"))
        who = index.get(name)
        if who is None:
            who = add_customer(name, _field(entry, "volume", "recordVolume"))
        job_type = str(_field(entry, "jobType", "job_type", "type"))
        if job_type not in job_types:
            raise ValueError(f"{where}: unknown job type {job_type!r}")
        t = job_types.index(job_type)
        runtime = _field(entry, "runtime", "seconds")
        if runtime is None:
            runtime = model_estimate(policy, job_type, customers[who].volume)
        time = _field(entry, "time", "at")
        if time is None:
            raise ValueError(f"{where}: no time")
        workload.append(float(time), who, t, float(runtime),
                        int(_field(entry, "priority") or 0), bool(_field(entry, "burst")))
    if not len(workload):
        raise ValueError("the workload has no arrivals")
    return workload.sorted_by_time()


def load_workload(path: str | Path, policy: CompiledPolicy) -> Workload:
    """Read a workload from a YAML or JSON file (JSON is YAML, so one parser reads both)."""
    text = Path(path).read_text()
    data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    return workload_from_data(data, policy)
