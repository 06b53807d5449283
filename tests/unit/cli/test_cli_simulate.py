"""`tierq simulate` end to end through the CLI (small workloads: fast)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tierq.cli.main import app

runner = CliRunner()


def test_simulate_prints_the_comparison_table() -> None:
    result = runner.invoke(app, ["simulate", "--jobs", "3000", "--seed", "1"])
    assert result.exit_code == 0, result.stderr
    for text in ("small.instant", "tierq", "fifo", "per-tier", "UTILIZATION", "JAIN"):
        assert text in result.stdout


def test_simulate_json_what_if_and_plot(tmp_path: Path) -> None:
    plot = tmp_path / "waits.png"
    result = runner.invoke(app, [
        "simulate", "--jobs", "800", "--seed", "3", "-o", "json", "--plot", str(plot),
        "--what-if", "lane=small.instant:maxRunning=8", "--policies", "tierq,fifo",
    ])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert [p["policy"] for p in report["policies"]] == ["tierq", "fifo"]
    assert report["lanes"]["small.instant"]["maxRunning"] == 8
    assert report["slots"] == report["policies"][1]["slots"]  # FIFO gets the same workers
    tierq = report["policies"][0]
    assert 0 < tierq["utilization"] <= 1 and 0 < tierq["jain"] <= 1
    assert set(tierq["groups"]["small.instant"]) >= {"p50", "p95", "p99", "mean_slowdown"}
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_a_workload_file(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("".join(
        f"- {{time: {5 * k}, customer: acme, volume: 1000, jobType: task_02}}\n"
        for k in range(6)))
    result = runner.invoke(app, ["simulate", "--workload", str(path), "-o", "json",
                                 "--policies", "fifo",
                                 "--what-if", "lanes.defaults.maxRunning=1"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["workload"]["jobs"] == 6
    assert report["workload"]["seed"] is None


def test_simulate_errors_are_one_line() -> None:
    for args, text in (
        (["--what-if", "lane=small.instant:slots=3"], "not a lane setting"),
        (["--policies", "tierq,lottery"], "unknown policy 'lottery'"),
        (["--mix", "task_09=1"], "unknown job types"),
        (["--workload", "/nonexistent.yaml"], "No such file"),
    ):
        result = runner.invoke(app, ["simulate", "--jobs", "500", *args])
        assert result.exit_code == 1, args
        assert result.stderr.startswith("error: ") and text in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1
