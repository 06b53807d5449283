"""The runner, in process, on SQLite and PostgreSQL: exactly once, pacing, progress, errors."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from tierq.api import contract
from tierq.worker.db import UserRecord, UserRecords
from tierq.worker.runner import (
    Outcome,
    ProgressUpdate,
    TieredJobStatusSink,
    run_job,
    write_termination_log,
)
from tierq.worker.tasks import BUILTIN_TASKS, Task
from worker.helpers import seed_site


@pytest.mark.parametrize("job_type", sorted(BUILTIN_TASKS))
def test_each_task_processes_every_active_record_exactly_once(
    engine: Engine, job_type: str, caplog: pytest.LogCaptureFixture
) -> None:
    site_id = seed_site(engine, 2_345, inactive_every=10)
    seed_site(engine, 300, name="Other")  # another site's records must not be touched
    with Session(engine) as s:
        expected = sorted(
            s.scalars(
                select(UserRecords.name).where(
                    UserRecords.site_id == site_id, UserRecords.is_active.is_(True)
                )
            )
        )
    assert len(expected) == 2_345 - 234

    caplog.set_level(logging.INFO, logger="tierq.task")
    summary = run_job(engine, BUILTIN_TASKS[job_type], site_id, time_scale=0, page_size=500)

    number = job_type.removeprefix("task_")
    prefix, suffix = f"Task {number}: ", " processed"
    processed = [
        r.getMessage()[len(prefix) : -len(suffix)]
        for r in caplog.records
        if r.name == "tierq.task"
    ]
    assert all(
        r.getMessage().startswith(prefix) for r in caplog.records if r.name == "tierq.task"
    )
    assert sorted(processed) == expected  # every active record, once, and no other
    assert summary.result is Outcome.SUCCEEDED
    assert summary.records == summary.records_total == len(expected)


def _recording_task(seen: list[int], seconds: float = 0.0) -> Task:
    return Task("recording", seconds, lambda record: seen.append(record.id))


def test_pages_follow_ids_and_skip_nothing(engine: Engine) -> None:
    site_id = seed_site(engine, 1_001)
    seen: list[int] = []
    summary = run_job(engine, _recording_task(seen), site_id, time_scale=0, page_size=100)
    assert summary.records == 1_001
    assert seen == sorted(set(seen)) and len(seen) == 1_001


def test_time_scale_is_honoured(engine: Engine) -> None:
    site_id = seed_site(engine, 40)
    task = BUILTIN_TASKS["task_03"]  # 0.1 s per record
    start = time.monotonic()
    summary = run_job(engine, task, site_id, time_scale=0.1)  # 40 x 0.1 s x 0.1 = 0.4 s
    elapsed = time.monotonic() - start
    assert summary.result is Outcome.SUCCEEDED
    # Paced against a deadline: per-record overhead does not add up on top of the waits.
    assert 0.39 <= elapsed < 1.2, elapsed

    start = time.monotonic()
    run_job(engine, task, site_id, time_scale=0)
    assert time.monotonic() - start < 0.39


def test_stop_event_interrupts_a_wait_and_keeps_partial_progress(engine: Engine) -> None:
    site_id = seed_site(engine, 100)
    stop = threading.Event()
    timer = threading.Timer(0.25, stop.set)
    timer.start()
    seen: list[int] = []
    summary = run_job(engine, _recording_task(seen, 0.1), site_id, stop=stop, time_scale=1)
    timer.join()
    assert summary.result is Outcome.INTERRUPTED
    assert summary.exit_code == contract.EXIT_INTERRUPTED
    assert 1 <= summary.records == len(seen) <= 3
    assert summary.records_total == 100


def test_site_not_found(engine: Engine) -> None:
    seed_site(engine, 5)
    summary = run_job(engine, BUILTIN_TASKS["task_01"], 424242, time_scale=0)
    assert summary.result is Outcome.SITE_NOT_FOUND
    assert summary.exit_code == contract.EXIT_SITE_NOT_FOUND


def test_a_failing_task_reports_the_record(engine: Engine) -> None:
    site_id = seed_site(engine, 10)
    calls: list[int] = []

    def handle(record: UserRecord) -> None:
        calls.append(record.id)
        if len(calls) == 4:
            raise RuntimeError("boom")

    summary = run_job(engine, Task("boom", 0, handle), site_id, time_scale=0)
    assert summary.result is Outcome.TASK_ERROR
    assert summary.exit_code == contract.EXIT_TASK_ERROR
    assert summary.records == 3
    assert "boom" in summary.message and str(calls[-1]) in summary.message


def test_inactive_records_are_skipped_and_not_counted(engine: Engine) -> None:
    site_id = seed_site(engine, 50)
    with Session(engine) as s:
        s.execute(update(UserRecords).where(UserRecords.id % 2 == 0).values(is_active=False))
        s.commit()
    seen: list[int] = []
    summary = run_job(engine, _recording_task(seen), site_id, time_scale=0)
    assert summary.records == summary.records_total == 25
    assert all(i % 2 == 1 for i in seen)


def test_progress_is_throttled_and_final(engine: Engine) -> None:
    site_id = seed_site(engine, 30)
    updates: list[ProgressUpdate] = []
    now = [0.0]

    def clock() -> float:
        now[0] += 1.0  # every call advances a second
        return now[0]

    run_job(engine, _recording_task([]), site_id, time_scale=0, progress_sinks=[updates.append],
            progress_interval=10.0, clock=clock)
    assert updates[-1].final and updates[-1].records_done == 30
    intermediate = [u for u in updates if not u.final]
    assert 1 <= len(intermediate) <= 4  # ~30 clock seconds / 10-second interval
    assert all(u.records_total == 30 for u in updates)


def test_a_failing_progress_sink_never_fails_the_job(engine: Engine) -> None:
    site_id = seed_site(engine, 5)

    def broken(_update: ProgressUpdate) -> None:
        raise RuntimeError("no API server")

    summary = run_job(engine, _recording_task([]), site_id, time_scale=0, progress_sinks=[broken],
                      progress_interval=0)
    assert summary.result is Outcome.SUCCEEDED


class FakeCustomObjectsApi:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.kwargs: list[dict[str, Any]] = []
        self.fail = fail

    def patch_namespaced_custom_object_status(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(args)
        self.kwargs.append(kwargs)
        if self.fail:
            raise RuntimeError("forbidden")


def test_tieredjob_status_sink_sends_a_merge_patch() -> None:
    api = FakeCustomObjectsApi()
    sink = TieredJobStatusSink(api, "job-1", "tenants")
    sink(ProgressUpdate(records_done=5, records_total=9, elapsed=1.0))
    group, version, namespace, plural, name, body = api.calls[0]
    assert (group, version, namespace, plural, name) == (
        "tierq.dev", "v1alpha1", "tenants", "tieredjobs", "job-1"
    )
    progress = body["status"]["progress"]
    assert progress["recordsDone"] == 5 and progress["recordsTotal"] == 9
    assert progress["updatedAt"].endswith("Z")
    assert api.kwargs[0]["_content_type"] == "application/merge-patch+json"

    TieredJobStatusSink(FakeCustomObjectsApi(fail=True), "j", "n")(
        ProgressUpdate(1, 2, 1.0)
    )  # logged, not raised


def test_termination_log_is_a_small_json_document(tmp_path: Any) -> None:
    from tierq.worker.runner import RunSummary

    path = tmp_path / "termination-log"
    summary = RunSummary("task_01", 7, Outcome.TASK_ERROR, records=3, records_total=10,
                         seconds=1.23456, message="x" * 10_000)
    assert write_termination_log(summary, path)
    data = path.read_bytes()
    assert len(data) <= 4096
    import json

    doc = json.loads(data)
    assert doc["records"] == 3 and doc["recordsTotal"] == 10 and doc["result"] == "TaskError"
    assert doc["seconds"] == 1.235 and doc["exitCode"] == contract.EXIT_TASK_ERROR
    assert not write_termination_log(summary, tmp_path / "missing-dir" / "log")


# ---- database trouble ----------------------------------------------------------------------


def _drop_connection_on_pages(engine: Engine, failures: int) -> list[int]:
    """Make the next `failures` page queries fail as a dropped connection would."""
    import psycopg
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    left = [failures]

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "LIMIT" in statement.upper() and left[0] > 0:
            left[0] -= 1
            raise OperationalError(statement, {}, psycopg.OperationalError("server closed"))

    event.listen(engine, "before_cursor_execute", before)
    return left


def test_a_dropped_connection_costs_a_page_retry_not_the_job(sqlite_url: str) -> None:
    from tierq.worker.db import make_engine

    engine = make_engine(sqlite_url)
    site_id = seed_site(engine, 250)
    _drop_connection_on_pages(engine, failures=2)
    seen: list[int] = []
    summary = run_job(engine, _recording_task(seen), site_id, time_scale=0, page_size=100,
                      retry_backoff=0)
    assert summary.result is Outcome.SUCCEEDED
    assert len(seen) == len(set(seen)) == 250
    engine.dispose()


def test_an_unreachable_database_mid_run_reports_partial_progress(sqlite_url: str) -> None:
    from tierq.worker.db import make_engine

    engine = make_engine(sqlite_url)
    site_id = seed_site(engine, 250)
    seen: list[int] = []

    def handle(record: UserRecord) -> None:
        seen.append(record.id)
        if len(seen) == 100:  # the database goes away after the first page
            _drop_connection_on_pages(engine, failures=99)

    summary = run_job(engine, Task("t", 0, handle), site_id, time_scale=0, page_size=100,
                      page_retries=2, retry_backoff=0)
    assert summary.result is Outcome.DATABASE_UNREACHABLE
    assert summary.exit_code == contract.EXIT_DATABASE_UNREACHABLE
    assert summary.records == 100 and summary.records_total == 250
    engine.dispose()


def test_which_errors_are_worth_a_retry() -> None:
    import sqlite3

    import psycopg
    from sqlalchemy.exc import OperationalError, ProgrammingError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from tierq.worker.runner import is_unreachable

    def wrapped(orig: Exception, cls: type[Exception] = OperationalError) -> Exception:
        return cls("SELECT 1", {}, orig)

    assert is_unreachable(wrapped(psycopg.OperationalError("connection refused")))
    assert is_unreachable(PoolTimeout())
    assert is_unreachable(wrapped(sqlite3.OperationalError("unable to open database file")))
    assert not is_unreachable(wrapped(sqlite3.OperationalError("no such table: x")))
    assert not is_unreachable(wrapped(psycopg.errors.UndefinedTable("no table"),
                                      ProgrammingError))
    assert is_unreachable(wrapped(psycopg.errors.AdminShutdown("terminating")))
    assert not is_unreachable(ValueError("not a database error"))


def test_a_task_with_arguments_binds_them(engine: Engine) -> None:
    site_id = seed_site(engine, 12)
    seen: list[str] = []

    def with_args(args: Sequence[str]) -> Callable[[UserRecord], None]:
        if args[:1] != ["--prefix"] or len(args) != 2:
            raise ValueError("usage: --prefix P")
        return lambda record: seen.append(args[1] + record.name)

    task = Task("greet", 0, lambda record: None, with_args=with_args)
    assert task.bind([]) is task
    with pytest.raises(ValueError, match="usage"):
        task.bind(["--bogus"])
    with pytest.raises(ValueError, match="takes no arguments"):
        BUILTIN_TASKS["task_01"].bind(["x"])
    summary = run_job(engine, task.bind(["--prefix", "hi "]), site_id, time_scale=0)
    assert summary.records == 12 and all(s.startswith("hi ") for s in seen) and len(seen) == 12
