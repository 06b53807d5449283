"""Worker benchmarks: figures printed, nothing asserted.

    PYTHONPATH=operator:tests .venv/bin/python bench/bench_worker.py [--quick]
    ... --postgres-url postgresql://user@host/db   # an existing server instead of a private one

Measures, on SQLite (a temp file) and on PostgreSQL (Debian's server started in a temp dir
by the test fixture's code, unless a URL is given):
  * seed speed: 1,000,000 records (10 sites x 100,000), COPY on PostgreSQL;
  * the worker's per-record overhead at TIERQ_TIME_SCALE=0 (records/s over a 200,000-record
    site), with the per-record log line written (to /dev/null) and with it filtered out;
  * peak RSS of a `tierq-worker run` process streaming that 200,000-record site;
  * pacing: task_01 (1 ms per record) at time scale 1 over 3,000 records, against 3 s.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine

from tierq.worker import logs
from tierq.worker.db import make_engine
from tierq.worker.runner import run_job
from tierq.worker.seed import SiteSpec, seed
from tierq.worker.tasks import BUILTIN_TASKS


@contextlib.contextmanager
def private_postgres() -> Iterator[str]:
    from fixtures.postgres import find_bindir, running_postgres  # tests/ on PYTHONPATH

    bindir = find_bindir()
    if bindir is None:
        raise SystemExit("no PostgreSQL server binaries; pass --postgres-url")
    with running_postgres(bindir, prefix="tierq-pg-bench-") as url:
        yield url


def bench_seed(engine: Engine, sites: int, per_site: int) -> tuple[float, list[int]]:
    result = seed(engine, [SiteSpec(f"bench {i}", per_site, inactive_every=0)
                           for i in range(sites)], reset=True)
    return result.seconds, result.site_ids


def bench_rate(engine: Engine, site_id: int, log_records: bool) -> tuple[int, float]:
    with open(os.devnull, "w") as devnull:
        logs.configure(level="INFO" if log_records else "WARNING", stream=devnull)
        started = time.perf_counter()
        summary = run_job(engine, BUILTIN_TASKS["task_01"], site_id, time_scale=0)
        seconds = time.perf_counter() - started
    logging.getLogger().handlers.clear()
    return summary.records, seconds


def bench_pacing(engine: Engine, records: int) -> tuple[float, float]:
    """task_01 at time scale 1 over `records`: (expected seconds, measured seconds)."""
    [site_id] = seed(engine, [SiteSpec("pacing", records, inactive_every=0)]).site_ids
    with open(os.devnull, "w") as devnull:
        logs.configure(level="INFO", stream=devnull)
        started = time.perf_counter()
        run_job(engine, BUILTIN_TASKS["task_01"], site_id, time_scale=1)
        seconds = time.perf_counter() - started
    logging.getLogger().handlers.clear()
    return records * BUILTIN_TASKS["task_01"].seconds_per_record, seconds


def peak_rss_mib(url: str, site_id: int) -> float:
    script = Path(sys.executable).parent / "tierq-worker"
    env = {**os.environ, "DATABASE_URL": url, "TIERQ_TIME_SCALE": "0",
           "TIERQ_TERMINATION_LOG": os.devnull, "TIERQ_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([str(script), "run", "--job-type", "task_01", "--site-id",
                             str(site_id)], env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("the worker failed")
    return usage.ru_maxrss / 1024


def measure(label: str, url: str, seed_sites: int, seed_per_site: int, site_records: int) -> None:
    engine = make_engine(url)
    try:
        seconds, _ = bench_seed(engine, seed_sites, seed_per_site)
        total = seed_sites * seed_per_site
        print(f"{label:10s} seed      {total:>9,} records in {seconds:6.2f} s"
              f"  = {total / seconds:>9,.0f} records/s")
        _, [site_id] = bench_seed(engine, 1, site_records)
        for log_records in (True, False):
            n, secs = bench_rate(engine, site_id, log_records)
            what = "with per-record log" if log_records else "log lines filtered"
            print(f"{label:10s} run t=0   {n:>9,} records in {secs:6.2f} s"
                  f"  = {n / secs:>9,.0f} records/s ({1e6 * secs / n:5.1f} us/record, {what})")
        print(f"{label:10s} peak RSS  {peak_rss_mib(url, site_id):6.1f} MiB"
              f" (tierq-worker run over {site_records:,} records)")
        expected, measured = bench_pacing(engine, 3_000)
        print(f"{label:10s} pacing    task_01 x 3,000 records at scale 1: {measured:.3f} s"
              f" for {expected:.3f} s of simulated work ({100 * (measured / expected - 1):+.1f}%)")
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10x fewer records")
    parser.add_argument("--postgres-url", help="default: a private server in a temp dir")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    per_site, site_records = 100_000 // scale, 200_000 // scale

    with contextlib.ExitStack() as stack:
        pg_url = args.postgres_url or stack.enter_context(private_postgres())
        measure("postgresql", pg_url, 10, per_site, site_records)
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            measure("sqlite", f"sqlite:///{tmp}/bench.db", 10, per_site, site_records)


if __name__ == "__main__":
    main()
