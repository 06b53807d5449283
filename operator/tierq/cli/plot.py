"""The PNG of `tierq simulate --plot`: how long jobs wait, per policy."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: write files only

import matplotlib.pyplot as plt

from tierq.sim import SimulationReport

FLOOR_SECONDS = 0.1
"""Waits of zero are drawn at this value, so they fit on a log axis."""


def _cdf(sorted_waits: list[float]) -> tuple[list[float], list[float]]:
    n = len(sorted_waits)
    step = max(1, n // 2000)  # a few thousand points draw the same curve as a million
    xs = [max(w, FLOOR_SECONDS) for w in sorted_waits[::step]]
    ys = [min(1.0, (i * step + 1) / n) for i in range(len(xs))]
    return xs, ys


def plot_waits(report: SimulationReport, path: Path) -> None:
    """Left: CDF of every job's queue wait per policy. Right: p95 wait per tier x class."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 6))
    for stats in report.policies:
        xs, ys = _cdf(stats.waits)
        left.step(xs, ys, where="post", label=stats.policy)
    left.set_xscale("log")
    left.set_xlabel("queue wait (s, log)")
    left.set_ylabel("fraction of jobs")
    left.set_title("queue wait, all jobs")
    left.grid(True, which="both", alpha=0.3)
    left.legend()

    groups = [g for g in report.lane_slots if any(g in p.groups for p in report.policies)]
    width = 0.8 / max(1, len(report.policies))
    for k, stats in enumerate(report.policies):
        values = [max(stats.groups[g].p95, FLOOR_SECONDS) if g in stats.groups else 0.0
                  for g in groups]
        right.bar([i + k * width for i in range(len(groups))], values, width,
                  label=stats.policy)
    right.set_yscale("log")
    right.set_xticks([i + width * (len(report.policies) - 1) / 2 for i in range(len(groups))])
    right.set_xticklabels(groups, rotation=60, ha="right")
    right.set_ylabel("p95 queue wait (s, log)")
    right.set_title("p95 queue wait per tier x class")
    right.grid(True, axis="y", which="both", alpha=0.3)
    right.legend()
    days = report.horizon_seconds / 86400
    fig.suptitle(f"{report.jobs:,} jobs, {report.slots} slots, {days:.0f} days")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
