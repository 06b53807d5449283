"""Run one job: one task over one site's active user records.

Records are read in keyset pages (`site_id = ? AND is_active AND id > last ORDER BY id
LIMIT n`), each page in its own short transaction, rather than through one server-side
cursor. Memory stays flat either way; but a task_04/task_05 job over a large site runs for
days, and a cursor would hold one transaction (and PostgreSQL's vacuum horizon) open for all
of it, die with the first dropped connection, and trip idle-in-transaction timeouts. With
pages, a dropped connection costs one page retry, and ids only grow, so every record is
processed at most once and, when the job completes, exactly once.

The runner owns everything around the task: pacing (`seconds_per_record x time scale`,
against a deadline so that per-record overhead does not add up), progress (JSON log lines,
optionally the TieredJob's status), the stop flag set by SIGTERM (checked at every record
boundary; a simulated wait is cut short and its record is not counted), and the summary.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session

from tierq.api import contract
from tierq.worker.db import Site, UserRecord, UserRecords, count_active_records
from tierq.worker.summary import Outcome, RunSummary, write_termination_log
from tierq.worker.tasks import Task

__all__ = [
    "Outcome",
    "ProgressSink",
    "ProgressUpdate",
    "RunSummary",
    "TieredJobStatusSink",
    "log_progress",
    "run_job",
    "write_termination_log",
]

log = logging.getLogger("tierq.worker")

DEFAULT_PAGE_SIZE = 2000
PROGRESS_INTERVAL_SECONDS = 5.0


# ---- progress ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgressUpdate:
    records_done: int
    records_total: int
    elapsed: float
    final: bool = False

    @property
    def rate(self) -> float:
        return self.records_done / self.elapsed if self.elapsed > 0 else 0.0


ProgressSink = Callable[[ProgressUpdate], None]


def log_progress(update: ProgressUpdate) -> None:
    """The JSON-lines progress line (always a sink)."""
    log.info(
        "progress",
        extra={
            "fields": {
                "recordsDone": update.records_done,
                "recordsTotal": update.records_total,
                "rate": round(update.rate, 1),
                "elapsed": round(update.elapsed, 3),
                "final": update.final,
            }
        },
    )


@dataclass
class _Progress:
    sinks: Sequence[ProgressSink]
    total: int
    started: float
    interval: float
    clock: Callable[[], float]
    next_at: float = field(init=False)

    def __post_init__(self) -> None:
        self.next_at = self.started + self.interval

    def tick(self, done: int) -> None:
        now = self.clock()
        if now >= self.next_at:
            self.next_at = now + self.interval
            self._emit(ProgressUpdate(done, self.total, now - self.started))

    def finish(self, done: int) -> None:
        self._emit(ProgressUpdate(done, self.total, self.clock() - self.started, final=True))

    def _emit(self, update: ProgressUpdate) -> None:
        for sink in self.sinks:
            try:
                sink(update)
            except Exception:  # progress is advisory: never let it fail the job
                log.exception("progress sink failed")


class TieredJobStatusSink:
    """Merge-patches `status.progress` of the job's TieredJob (failures logged, never fatal)."""

    PLURAL = "tieredjobs"

    def __init__(self, api: Any, name: str, namespace: str, *, timeout: float = 5.0) -> None:
        self._api = api  # kubernetes.client.CustomObjectsApi
        self.name = name
        self.namespace = namespace
        self._timeout = timeout

    def __call__(self, update: ProgressUpdate) -> None:
        body = {
            "status": {
                "progress": {
                    "recordsDone": update.records_done,
                    "recordsTotal": update.records_total,
                    "updatedAt": rfc3339_now(),
                }
            }
        }
        try:
            self._api.patch_namespaced_custom_object_status(
                contract.GROUP,
                contract.VERSION,
                self.namespace,
                self.PLURAL,
                self.name,
                body,
                _content_type="application/merge-patch+json",
                _request_timeout=self._timeout,
            )
        except Exception as exc:
            log.warning(
                "cannot patch TieredJob %s/%s status: %s",
                self.namespace,
                self.name,
                _short(exc),
            )

    @classmethod
    def in_cluster(cls, name: str, namespace: str) -> TieredJobStatusSink | None:
        """A sink using the pod's service account, or None (logged) outside a cluster."""
        try:
            from kubernetes import client, config

            config.load_incluster_config()  # type: ignore[no-untyped-call]
            return cls(client.CustomObjectsApi(), name, namespace)
        except Exception as exc:
            log.warning("no in-cluster Kubernetes access; progress only in logs: %s", _short(exc))
            return None


def rfc3339_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- the run -------------------------------------------------------------------------------


class _Stop(Exception):
    def __init__(self, outcome: Outcome, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.message = message


def is_unreachable(exc: BaseException) -> bool:
    """Whether a database error is about reaching the database (worth a retry)."""
    if isinstance(exc, PoolTimeoutError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        # 08: connection exception; 57P0x: server shutting down / starting; 53: resources.
        return sqlstate.startswith(("08", "57P", "53"))
    name = type(orig).__name__
    if type(orig).__module__.startswith("sqlite3"):
        text = str(orig).lower()
        return name == "OperationalError" and ("unable to open" in text or "locked" in text)
    # psycopg raises connection failures as OperationalError without a SQLSTATE.
    return name in {"OperationalError", "InterfaceError"}


def run_job(
    engine: Engine,
    task: Task,
    site_id: int,
    *,
    time_scale: float = 1.0,
    stop: threading.Event | None = None,
    progress_sinks: Sequence[ProgressSink] = (log_progress,),
    progress_interval: float = PROGRESS_INTERVAL_SECONDS,
    page_size: int = DEFAULT_PAGE_SIZE,
    page_retries: int = 3,
    retry_backoff: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
) -> RunSummary:
    """Run `task` over the active records of site `site_id`; never raises, always summarises."""
    stop = stop if stop is not None else threading.Event()
    started = clock()
    summary = RunSummary(job_type=task.name, site_id=site_id, result=Outcome.SUCCEEDED)
    progress: _Progress | None = None
    try:
        try:
            with Session(engine) as session:
                if session.get(Site, site_id) is None:
                    raise _Stop(Outcome.SITE_NOT_FOUND, f"site {site_id} not found")
                summary.records_total = count_active_records(session, site_id)
        except SQLAlchemyError as exc:
            raise _database_stop(exc) from exc
        log.info(
            "job started",
            extra={
                "fields": {
                    "jobType": task.name,
                    "siteId": site_id,
                    "recordsTotal": summary.records_total,
                    "timeScale": time_scale,
                }
            },
        )
        progress = _Progress(
            progress_sinks, summary.records_total, started, progress_interval, clock
        )
        cost = task.seconds_per_record * time_scale
        due = clock()
        last_id: int | None = None
        while True:
            page = _fetch_page(
                engine, site_id, last_id, page_size, page_retries, retry_backoff, stop
            )
            if not page:
                break
            for record in page:
                if stop.is_set():
                    raise _Stop(Outcome.INTERRUPTED, "stopped by signal")
                if cost > 0:
                    due += cost
                    remaining = due - clock()
                    if remaining > 0 and stop.wait(remaining):
                        raise _Stop(Outcome.INTERRUPTED, "stopped by signal")
                try:
                    task.handle(record)
                except Exception as exc:
                    log.exception("task %s failed on record %s", task.name, record.id)
                    raise _Stop(
                        Outcome.TASK_ERROR, f"record {record.id}: {_short(exc)}"
                    ) from exc
                summary.records += 1
                last_id = record.id
                progress.tick(summary.records)
            if len(page) < page_size:
                break
    except _Stop as stopped:
        summary.result = stopped.outcome
        summary.message = stopped.message
    except Exception as exc:  # a bug, or an error the task's records provoked
        log.exception("job failed")
        summary.result = Outcome.TASK_ERROR
        summary.message = _short(exc)
    summary.seconds = clock() - started
    if progress is not None:
        progress.finish(summary.records)
    return summary


def _fetch_page(
    engine: Engine,
    site_id: int,
    after_id: int | None,
    page_size: int,
    retries: int,
    backoff: float,
    stop: threading.Event,
) -> list[UserRecord]:
    stmt = (
        select(UserRecords.__table__)
        .where(UserRecords.site_id == site_id, UserRecords.is_active.is_(True))
        .order_by(UserRecords.id)
        .limit(page_size)
    )
    if after_id is not None:
        stmt = stmt.where(UserRecords.id > after_id)
    attempt = 0
    while True:
        try:
            with engine.connect() as conn:
                return cast(list[UserRecord], conn.execute(stmt).all())
        except SQLAlchemyError as exc:
            if not is_unreachable(exc) or attempt >= retries:
                raise _database_stop(exc) from exc
            delay = backoff * 2**attempt
            attempt += 1
            log.warning("database error reading a page (retry %d in %.0fs): %s",
                        attempt, delay, _short(exc))
            if stop.wait(delay):
                raise _Stop(Outcome.INTERRUPTED, "stopped by signal") from exc


def _database_stop(exc: SQLAlchemyError) -> _Stop:
    if is_unreachable(exc):
        return _Stop(Outcome.DATABASE_UNREACHABLE, f"database unreachable: {_short(exc)}")
    log.error("database error: %s", _short(exc))
    return _Stop(Outcome.TASK_ERROR, f"database error: {_short(exc)}")


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first if len(first) <= limit else first[: limit - 3] + "..."
