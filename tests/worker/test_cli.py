"""`tierq-worker run` as the pod runs it: a subprocess, its exit code, its termination log."""

from __future__ import annotations

import json
import signal
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from tierq.api import contract
from tierq.worker.db import make_engine
from tierq.worker.tasks import TaskRegistry
from worker.helpers import seed_site, worker_command, worker_env


def run_worker(
    args: list[str], env: dict[str, str], timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*worker_command(), *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def termination_log(tmp_path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((tmp_path / "termination-log").read_text())
    return doc


def json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_success_exit_0_with_summary_and_json_logs(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    site_id = seed_site(engine, 120)
    # It knows its TieredJob but is not in a pod: progress stays in the logs, no failure.
    env = worker_env(db_url, tmp_path, TIERQ_TIEREDJOB_NAME="job-1",
                     TIERQ_TIEREDJOB_NAMESPACE="tenants")
    env.pop("KUBERNETES_SERVICE_HOST", None)
    proc = run_worker(["run", "--job-type", "task_01", "--site-id", str(site_id)], env)
    assert proc.returncode == contract.EXIT_OK, proc.stderr
    summary = termination_log(tmp_path)
    assert summary["result"] == "Succeeded"
    assert summary["records"] == summary["recordsTotal"] == 120
    assert summary["seconds"] >= 0
    lines = json_lines(proc.stdout)
    assert sum(1 for ln in lines if ln["message"].startswith("Task 01: ")) == 120
    final = [ln for ln in lines if ln["message"] == "progress"][-1]
    assert final["recordsDone"] == final["recordsTotal"] == 120 and final["final"] is True
    assert "rate" in final
    assert any("no in-cluster Kubernetes access" in ln["message"] for ln in lines)


def test_site_not_found_exit_10(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url)
    seed_site(engine, 3)
    engine.dispose()
    proc = run_worker(["run", "--job-type", "task_01", "--site-id", "987654"],
                      worker_env(sqlite_url, tmp_path))
    assert proc.returncode == contract.EXIT_SITE_NOT_FOUND == 10
    assert termination_log(tmp_path)["result"] == "SiteNotFound"


def test_unknown_job_type_exit_11(sqlite_url: str, tmp_path: Path) -> None:
    proc = run_worker(["run", "--job-type", "task_99", "--site-id", "1"],
                      worker_env(sqlite_url, tmp_path))
    assert proc.returncode == contract.EXIT_UNKNOWN_JOB_TYPE == 11
    summary = termination_log(tmp_path)
    assert summary["result"] == "UnknownJobType" and "task_01" in summary["message"]


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--job-type", "task_01"],
        ["run", "--job-type", "task_01", "--site-id", "forty-two"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(sqlite_url: str, tmp_path: Path, args: list[str]) -> None:
    proc = run_worker(args, worker_env(sqlite_url, tmp_path))
    assert proc.returncode == contract.EXIT_USAGE == 2
    assert "usage:" in proc.stderr


def test_invalid_time_scale_exit_2(sqlite_url: str, tmp_path: Path) -> None:
    proc = run_worker(["run", "--job-type", "task_01", "--site-id", "1"],
                      worker_env(sqlite_url, tmp_path, TIERQ_TIME_SCALE="-1"))
    assert proc.returncode == contract.EXIT_USAGE
    assert termination_log(tmp_path)["result"] == "UsageError"


def test_database_unreachable_exit_20(tmp_path: Path) -> None:
    from fixtures.postgres import free_port

    url = f"postgresql://tierq@127.0.0.1:{free_port()}/tierq"  # nothing listens there
    proc = run_worker(["run", "--job-type", "task_01", "--site-id", "1"],
                      worker_env(url, tmp_path))
    assert proc.returncode == contract.EXIT_DATABASE_UNREACHABLE == 20, proc.stdout
    summary = termination_log(tmp_path)
    assert summary["result"] == "DatabaseUnreachable" and summary["records"] == 0


def test_task_error_exit_40_from_a_plugged_in_task(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deployment's own task, registered under the `tierq.tasks` entry-point group."""
    plugins = tmp_path / "plugins"
    (plugins / "acme_tasks-1.0.dist-info").mkdir(parents=True)
    (plugins / "acme_tasks-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: acme-tasks\nVersion: 1.0\n"
    )
    (plugins / "acme_tasks-1.0.dist-info" / "entry_points.txt").write_text(
        "[tierq.tasks]\nacme_fragile = acme_tasks:fragile\n"
    )
    (plugins / "acme_tasks.py").write_text(textwrap.dedent("""
        from tierq.worker.tasks import Task

        seen = []

        def handle(record):
            seen.append(record.id)
            if len(seen) == 3:
                raise ValueError(f"cannot process {record.name}")

        fragile = Task("acme_fragile", 0.0, handle, "fails on the third record")
    """))
    engine = make_engine(sqlite_url)
    site_id = seed_site(engine, 10)
    engine.dispose()
    env = worker_env(sqlite_url, tmp_path, PYTHONPATH=str(plugins))
    monkeypatch.syspath_prepend(str(plugins))
    registry = TaskRegistry.from_entry_points()
    assert "acme_fragile" in registry and "task_05" in registry

    proc = run_worker(["run", "--job-type", "acme_fragile", "--site-id", str(site_id)], env)
    assert proc.returncode == contract.EXIT_TASK_ERROR == 40
    summary = termination_log(tmp_path)
    assert summary["result"] == "TaskError" and summary["records"] == 2
    assert "cannot process" in summary["message"]


def test_sigterm_stops_at_a_record_boundary_exit_30(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    site_id = seed_site(engine, 1_000)  # task_02 at scale 1: 10 s in all
    proc = subprocess.Popen(
        [*worker_command(), "run", "--job-type", "task_02", "--site-id", str(site_id)],
        env=worker_env(db_url, tmp_path, TIERQ_TIME_SCALE="1"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    try:
        processed = 0
        for line in proc.stdout:  # wait until it is really working
            if "Task 02: " in line:
                processed += 1
                if processed == 20:
                    break
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert time.monotonic() - started < 5  # not the ~10 s the whole site would take
    assert proc.returncode == contract.EXIT_INTERRUPTED == 30
    summary = termination_log(tmp_path)
    assert summary["result"] == "Interrupted"
    assert 20 <= summary["records"] < 1_000 and summary["recordsTotal"] == 1_000
    logged = processed + sum(1 for ln in json_lines(rest) if ln["message"].startswith("Task 02"))
    assert logged == summary["records"]  # what it reports is exactly what it did


@pytest.mark.usefixtures("restore_logging")
def test_seed_init_db_and_tasks_commands(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from sqlalchemy import func, select

    from tierq.worker.db import Site, UserRecords
    from tierq.worker.main import main

    assert main(["init-db", "--database-url", db_url]) == 0
    assert main(["seed", "--sites", "3", "--records", "40", "--database-url", db_url]) == 0
    assert "seeded 3 sites, 120 records" in capsys.readouterr().out
    assert main(["seed", "--sites", "2", "--records", "5", "--database-url", db_url]) == 0
    capsys.readouterr()
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(UserRecords)) == 130
        names = conn.scalars(select(Site.name).order_by(Site.id)).all()
        assert names == [f"Customer {i:04d}" for i in range(1, 6)]  # a second run follows on
    engine.dispose()
    assert main(["tasks"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[:2] for line in listed[:5]] == [
        ["task_01", "0.001 s/record"], ["task_02", "0.01 s/record"], ["task_03", "0.1 s/record"],
        ["task_04", "1 s/record"], ["task_05", "10 s/record"],
    ]


def test_termination_log_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from tierq.worker.main import termination_log_path

    monkeypatch.delenv("TIERQ_TERMINATION_LOG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert termination_log_path() is None  # a laptop: no writing into /dev
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert termination_log_path() == contract.DEFAULT_TERMINATION_LOG
    monkeypatch.setenv("TIERQ_TERMINATION_LOG", "/tmp/x")
    assert termination_log_path() == "/tmp/x"


def test_task_arguments_the_task_does_not_take_exit_2(sqlite_url: str, tmp_path: Path) -> None:
    proc = run_worker(["run", "--job-type", "task_01", "--site-id", "1", "--verbose"],
                      worker_env(sqlite_url, tmp_path))
    assert proc.returncode == contract.EXIT_USAGE
    summary = termination_log(tmp_path)
    assert summary["result"] == "UsageError" and "takes no arguments" in summary["message"]
