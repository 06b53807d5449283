"""Operator figures on the real cluster (printed, not asserted).

    KUBECONFIG=... .venv/bin/python bench/bench_operator.py [--jobs 1000] [--queued 10000]

1. Admission rate: N TieredJobs wait in a closed lane; the lane opens (a policy edit) and
   the operator creates their N Jobs and marks them Running. Beside it, in the same run, a
   plain client does the same writes (create Job + patch status) for N other TieredJobs with
   the same concurrency: the raw rate the API server allows.
   Also end to end: N TieredJobs created into an open lane -> N Jobs.
2. Latency from a slot freeing (Job Complete seen on a watch) to the next Job created
   (seen on the same watch): p50, p99.
3. Operator RSS with M TieredJobs queued.

The TierPolicy is cluster-scoped: the bench replaces it and puts the previous one back.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psutil

from tierq.api.policy import TierPolicySpec
from tierq.api.resources import TIER_POLICY, TIERED_JOB
from tierq.core.policy import compile_policy
from tierq.operator.jobtemplate import JobRequest, build_job
from tierq.operator.kube import ApiException, Kube
from tierq.operator.settings import Settings

REPO = Path(__file__).resolve().parents[1]
KOPF = str(Path(sys.executable).with_name("kopf"))
API = "tierq.dev/v1alpha1"
CONCURRENCY = 64


def policy_spec(max_running: int) -> dict[str, Any]:
    return {
        "tiers": [{"name": "small", "minRecords": 0}],
        "durationClasses": [{"name": "instant", "maxSeconds": 10}, {"name": "rest"}],
        "jobTypes": [{"name": "quick", "expectedSeconds": 1}],
        "nodePools": [{"name": "interactive"}],
        "lanes": {"defaults": {"maxRunning": max_running, "nodePool": "interactive",
                               "backoffLimit": 0, "ttlSecondsAfterFinished": 300}},
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Bench:
    def __init__(self, kube: Kube, kubeconfig: str) -> None:
        self.kube = kube
        self.kubeconfig = kubeconfig
        self.sem = asyncio.Semaphore(CONCURRENCY)
        self.namespaces: list[str] = []
        self.previous_policy: dict[str, Any] | None = None

    # ---- setup ---------------------------------------------------------------------------
    async def namespace(self) -> str:
        name = f"bench-{uuid.uuid4().hex[:8]}"
        await self.kube.create("/api/v1/namespaces", {"metadata": {"name": name}})
        self.namespaces.append(name)
        for _ in range(100):  # pods are refused until the default ServiceAccount exists
            if await self.kube.get(f"/api/v1/namespaces/{name}/serviceaccounts/default"):
                break
            await asyncio.sleep(0.1)
        return name

    async def set_policy(self, spec: dict[str, Any]) -> None:
        path = Kube.custom_path(TIER_POLICY, None, "default")
        current = await self.kube.get(path)
        if current is None:
            await self.kube.create(Kube.custom_path(TIER_POLICY, None), {
                "apiVersion": API, "kind": "TierPolicy", "metadata": {"name": "default"},
                "spec": spec})
            return
        if self.previous_policy is None:
            self.previous_policy = current["spec"]
        current["spec"] = spec
        await self.kube.request("PUT", path, body=current)

    async def restore(self) -> None:
        if self.previous_policy is not None:
            path = Kube.custom_path(TIER_POLICY, None, "default")
            current = await self.kube.get(path)
            if current is not None:
                current["spec"] = self.previous_policy
                await self.kube.request("PUT", path, body=current)
        for ns in self.namespaces:
            await self.kube.delete(f"/api/v1/namespaces/{ns}")

    async def bounded(self, coro: Any) -> Any:
        async with self.sem:
            return await coro

    async def create_tieredjobs(self, ns: str, n: int, prefix: str = "b",
                                duration: str = "1s") -> None:
        path = Kube.custom_path(TIERED_JOB, ns)

        def body(i: int) -> dict[str, Any]:
            return {"apiVersion": API, "kind": "TieredJob",
                    "metadata": {"name": f"{prefix}{i:05d}",
                                 "annotations": {"sim.tierq.dev/duration": duration}},
                    "spec": {"customer": "c1", "jobType": "quick"}}

        await asyncio.gather(*[self.bounded(self.kube.create(path, body(i)))
                               for i in range(n)])

    async def customer(self, ns: str) -> None:
        await self.kube.create(f"/apis/tierq.dev/v1alpha1/namespaces/{ns}/customertiers", {
            "apiVersion": API, "kind": "CustomerTier", "metadata": {"name": "c1"},
            "spec": {"siteId": 1, "recordVolume": 500}})

    def operator(self, ns: str, log: Path) -> subprocess.Popen[bytes]:
        env = dict(os.environ, KUBECONFIG=self.kubeconfig, TIERQ_METRICS_PORT="0")
        profile = os.environ.get("BENCH_PROFILE")  # a path: run the operator under cProfile
        prefix = [sys.executable, "-m", "cProfile", "-o", profile, KOPF] if profile else [KOPF]
        with log.open("wb") as out:
            return subprocess.Popen(
                [*prefix, "run", "--standalone", "-n", ns, "-m", "tierq.operator.main"],
                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)

    async def count_jobs(self, ns: str) -> int:
        data = await self.kube.request("GET", Kube.jobs_path(ns),
                                       query={"limit": "1", "resourceVersion": "0"})
        meta = data.get("metadata") or {}
        return len(data.get("items") or ()) + int(meta.get("remainingItemCount") or 0)

    async def phases(self, ns: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        async for item in self.kube.list_all(Kube.custom_path(TIERED_JOB, ns)):
            phase = (item.get("status") or {}).get("phase") or "None"
            counts[phase] = counts.get(phase, 0) + 1
        return counts

    async def wait_phase(self, ns: str, phase: str, n: int, within: float) -> float:
        start = time.monotonic()
        while time.monotonic() - start < within:
            if (await self.phases(ns)).get(phase, 0) >= n:
                return time.monotonic()
            await asyncio.sleep(0.2)
        raise TimeoutError(f"{n} TieredJobs {phase} in {ns}: {await self.phases(ns)}")

    # ---- 1. admission rate --------------------------------------------------------------
    async def admission_rate(self, n: int, logdir: Path) -> dict[str, float]:
        await self.set_policy(policy_spec(0))
        ns = await self.namespace()
        await self.customer(ns)
        # Long-running pods: completions would add their own writes to the window measured
        # (the raw client has none to make).
        await self.create_tieredjobs(ns, n, duration="600s")
        proc = self.operator(ns, logdir / "op-admission.log")
        try:
            await self.wait_phase(ns, "Queued", n, within=300)
            t0 = time.monotonic()
            await self.set_policy(policy_spec(n + 10))
            while await self.count_jobs(ns) < n:  # noqa: ASYNC110 (polling the API)
                await asyncio.sleep(0.05)
            t_jobs = time.monotonic()
            t_running = await self._wait_admitted(ns, n)
        finally:
            proc.terminate()  # SIGTERM: a profiled operator writes its profile on the way out
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        operator_jobs = n / (t_jobs - t0)
        operator_full = n / (t_running - t0)

        raw_ns = await self.namespace()
        await self.customer(raw_ns)
        await self.create_tieredjobs(raw_ns, n, duration="600s")
        lane = compile_policy(TierPolicySpec.model_validate(policy_spec(n + 10))).lanes[
            "small.instant"]
        settings = Settings()

        uids = {}
        async for item in self.kube.list_all(Kube.custom_path(TIERED_JOB, raw_ns)):
            uids[item["metadata"]["name"]] = item["metadata"]["uid"]
        bodies = []
        for name, uid in sorted(uids.items()):
            req = JobRequest(name=name, namespace=raw_ns, uid=uid, customer="c1",
                             job_type="quick", site_id=1, tier="small",
                             duration_class="instant", lane="small.instant",
                             slot_lane="small.instant", estimate=1.0, queued_at=time.time(),
                             annotations={"sim.tierq.dev/duration": "600s"})
            bodies.append((name, build_job(req, lane, settings)))

        async def write(name: str, job: dict[str, Any]) -> None:
            async with self.sem:
                await self.kube.create(Kube.jobs_path(raw_ns), job)
            async with self.sem:
                await self.kube.merge_patch(
                    Kube.custom_path(TIERED_JOB, raw_ns, name, "status"),
                    {"status": {"phase": "Running", "reason": "Admitted",
                                "jobName": job["metadata"]["name"]}})

        t0 = time.monotonic()
        await asyncio.gather(*[write(name, job) for name, job in bodies])
        raw = n / (time.monotonic() - t0)
        return {"operator_jobs_per_s": operator_jobs, "operator_admitted_per_s": operator_full,
                "raw_per_s": raw, "ratio_jobs": operator_jobs / raw,
                "ratio": operator_full / raw}

    async def _wait_admitted(self, ns: str, n: int) -> float:
        """All n have a Job and say so in status (Running, or already finished)."""
        while True:
            counts = await self.phases(ns)
            if sum(counts.get(p, 0) for p in ("Running", "Succeeded", "Failed")) >= n:
                return time.monotonic()
            await asyncio.sleep(0.1)

    async def end_to_end(self, n: int, logdir: Path) -> float:
        """TieredJobs created into an open lane -> Jobs created."""
        await self.set_policy(policy_spec(n + 10))
        ns = await self.namespace()
        await self.customer(ns)
        proc = self.operator(ns, logdir / "op-e2e.log")
        try:
            await self.create_tieredjobs(ns, 1, prefix="warm")
            await self.wait_phase(ns, "Running", 1, within=60)
            t0 = time.monotonic()
            await self.create_tieredjobs(ns, n)
            while await self.count_jobs(ns) < n + 1:  # noqa: ASYNC110 (polling the API)
                await asyncio.sleep(0.05)
            return n / (time.monotonic() - t0)
        finally:
            proc.kill()
            proc.wait()

    # ---- 2. slot-free latency -----------------------------------------------------------
    async def slot_latency(self, n: int, slots: int, logdir: Path) -> list[float]:
        await self.set_policy(policy_spec(slots))
        ns = await self.namespace()
        await self.customer(ns)
        seen: list[tuple[float, str, str]] = []
        stop = asyncio.Event()
        watcher = asyncio.create_task(self._watch_jobs(ns, seen, stop))
        await asyncio.sleep(0.5)
        proc = self.operator(ns, logdir / "op-latency.log")
        try:
            await self.create_tieredjobs(ns, n, duration="1s")
            await self.wait_phase(ns, "Succeeded", n, within=600)
        finally:
            proc.kill()
            proc.wait()
            stop.set()
            watcher.cancel()
        created = [t for t, kind, _ in seen if kind == "created"]
        completed = sorted(t for t, kind, _ in seen if kind == "complete")
        latencies = []
        # The first `slots` Jobs fill empty slots; each later one takes the slot of the
        # earliest completion not matched yet.
        for t_created, t_done in zip(sorted(created)[slots:], completed, strict=False):
            latencies.append(t_created - t_done)
        return latencies

    async def _watch_jobs(self, ns: str, seen: list[tuple[float, str, str]],
                          stop: asyncio.Event) -> None:
        done: set[str] = set()
        known: set[str] = set()
        rv = ""
        while not stop.is_set():
            query = {"watch": "1", "allowWatchBookmarks": "false"}
            if rv:
                query["resourceVersion"] = rv
            resp = await self.kube.api.call_api(
                Kube.jobs_path(ns), "GET", query_params=list(query.items()),
                header_params={"Accept": "application/json"}, auth_settings=["BearerToken"],
                _preload_content=False, _return_http_data_only=True)
            try:
                async for line in resp.content:
                    now = time.monotonic()
                    event = json.loads(line)
                    obj = event["object"]
                    name = obj["metadata"]["name"]
                    rv = obj["metadata"].get("resourceVersion", rv)
                    if name not in known:
                        known.add(name)
                        seen.append((now, "created", name))
                    conds = (obj.get("status") or {}).get("conditions") or ()
                    if name not in done and any(c["type"] in ("Complete", "Failed")
                                                and c["status"] == "True" for c in conds):
                        done.add(name)
                        seen.append((now, "complete", name))
            finally:
                resp.release()

    # ---- 3. memory ----------------------------------------------------------------------
    async def memory(self, m: int, logdir: Path) -> tuple[float, float]:
        await self.set_policy(policy_spec(0))
        ns = await self.namespace()
        await self.customer(ns)
        proc = self.operator(ns, logdir / "op-memory.log")
        try:
            await asyncio.sleep(3)
            idle = psutil.Process(proc.pid).memory_info().rss / 2**20
            await self.create_tieredjobs(ns, m)
            await self.wait_phase(ns, "Queued", m, within=900)
            await asyncio.sleep(2)
            return idle, psutil.Process(proc.pid).memory_info().rss / 2**20
        finally:
            proc.kill()
            proc.wait()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--latency-jobs", type=int, default=200)
    parser.add_argument("--slots", type=int, default=10)
    parser.add_argument("--queued", type=int, default=10_000)
    parser.add_argument("--skip", action="append", default=[],
                        choices=["admission", "e2e", "latency", "memory"])
    args = parser.parse_args()
    kubeconfig = os.environ.get("KUBECONFIG") or str(REPO / ".cache/cluster/kubeconfig")
    os.environ["KUBECONFIG"] = kubeconfig
    kube = await Kube.login(pool=CONCURRENCY * 2)
    bench = Bench(kube, kubeconfig)
    logdir = Path(tempfile.mkdtemp(prefix="bench-operator-"))
    print(f"operator logs in {logdir}")
    try:
        if "admission" not in args.skip:
            r = await bench.admission_rate(args.jobs, logdir)
            print(f"admission of {args.jobs} queued TieredJobs (lane opened):")
            print(f"  operator: {r['operator_jobs_per_s']:.0f} Jobs/s created, "
                  f"{r['operator_admitted_per_s']:.0f}/s created + status Running")
            print(f"  raw client, same writes (create Job + patch status), {CONCURRENCY} in "
                  f"flight: {r['raw_per_s']:.0f}/s")
            print(f"  operator / raw: {r['ratio_jobs']:.2f} (Jobs created), {r['ratio']:.2f} "
                  "(Jobs created and status written)")
        if "e2e" not in args.skip:
            rate = await bench.end_to_end(args.jobs, logdir)
            print(f"end to end, {args.jobs} TieredJobs created -> Jobs created: {rate:.0f}/s")
        if "latency" not in args.skip:
            lat = await bench.slot_latency(args.latency_jobs, args.slots, logdir)
            if lat:
                print(f"slot freed -> next Job created ({len(lat)} samples): "
                      f"p50 {1000 * statistics.median(lat):.0f} ms, "
                      f"p99 {1000 * percentile(lat, 0.99):.0f} ms")
        if "memory" not in args.skip:
            idle, full = await bench.memory(args.queued, logdir)
            print(f"operator RSS: {idle:.0f} MiB idle, {full:.0f} MiB with {args.queued} "
                  f"TieredJobs queued")
    except ApiException as exc:
        print(f"API error: {exc.status} {exc.reason}: {exc.body!r}"[:2000])
        raise
    finally:
        await bench.restore()
        await kube.close()


if __name__ == "__main__":
    asyncio.run(main())
