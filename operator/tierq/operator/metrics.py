"""Prometheus metrics of the operator, defined in one place (`tierq_<thing>_<unit>`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

# Waits and runs span seconds to days: buckets follow the duration classes' scale.
_LONG = (1, 5, 10, 30, 60, 120, 300, 900, 1800, 3600, 6 * 3600, 24 * 3600, 7 * 24 * 3600)

LANE_QUEUED = Gauge("tierq_lane_queued_jobs", "TieredJobs waiting in a lane", ["lane"])
LANE_RUNNING = Gauge("tierq_lane_running_jobs", "TieredJobs of a lane running now", ["lane"])
LANE_SLOTS = Gauge("tierq_lane_slots", "maxRunning of a lane", ["lane"])
ADMISSIONS = Counter("tierq_admissions_total", "TieredJobs admitted (Job created)",
                     ["lane", "tier", "duration_class", "borrowed"])
FINISHED = Counter("tierq_finished_total", "TieredJobs finished", ["tier", "duration_class",
                                                                    "phase"])
QUEUE_WAIT = Histogram("tierq_queue_wait_seconds", "Time from queued to admitted",
                       ["tier", "duration_class"], buckets=_LONG)
RUN_TIME = Histogram("tierq_run_seconds", "Run time of finished TieredJobs",
                     ["tier", "duration_class"], buckets=_LONG)
DECISION_LATENCY = Histogram(
    "tierq_decision_latency_seconds", "Time of one scheduling pass (decisions, no API calls)",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
WRITE_ERRORS = Counter("tierq_api_write_errors_total", "API writes that failed", ["kind"])


def serve(port: int) -> None:
    """Expose /metrics on `port` (a background thread of prometheus_client); 0: do not."""
    if port > 0:
        start_http_server(port)
