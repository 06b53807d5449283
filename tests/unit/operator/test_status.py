"""Status builders: conditions keep their transition time, Jobs map to outcomes."""

from __future__ import annotations

from tierq.api.tieredjob import Phase
from tierq.operator.settings import Settings
from tierq.operator.status import (
    JobView,
    condition,
    iso,
    job_outcome,
    merge_conditions,
    parse_time,
    tier_change_message,
    tieredjob_status,
)

T0 = 1_800_000_000.0


def test_times_round_trip() -> None:
    assert iso(T0) == "2027-01-15T08:00:00Z"
    assert parse_time(iso(T0)) == T0
    assert iso(None) is None and parse_time("") is None and parse_time("nope") is None


def test_condition_keeps_transition_time_while_status_holds() -> None:
    first = condition("Ready", True, "Tiered", "", T0)
    again = condition("Ready", True, "Tiered", "other", T0 + 60, [first])
    assert again["lastTransitionTime"] == first["lastTransitionTime"]
    flipped = condition("Ready", False, "NoPolicy", "", T0 + 60, [first])
    assert flipped["lastTransitionTime"] == iso(T0 + 60)


def test_merge_conditions_replaces_by_type() -> None:
    old = [{"type": "A", "status": "True"}, {"type": "B", "status": "True"}]
    new = merge_conditions(old, [{"type": "B", "status": "False"}, {"type": "C"}])
    assert [(x["type"], x.get("status")) for x in new] == [
        ("A", "True"), ("B", "False"), ("C", None)]


def test_queued_status_shows_lane_position_and_eta() -> None:
    view = JobView(Phase.QUEUED, "LaneFull", "lane small.instant is full", tier="small",
                   duration_class="instant", lane="small.instant", estimated_seconds=1.23456,
                   queued_at=T0, queue_position=3, estimated_start=T0 + 30)
    body = tieredjob_status(view, [], T0, 1)
    assert body["phase"] == "Queued" and body["queuePosition"] == 3
    assert body["estimatedStartTime"] == iso(T0 + 30)
    assert body["estimatedSeconds"] == 1.235
    assert body["jobName"] is None and body["completionTime"] is None
    conds = {x["type"]: x for x in body["conditions"]}
    assert conds["CustomerResolved"]["status"] == "True"
    assert conds["Admitted"]["status"] == "False"
    assert conds["Admitted"]["reason"] == "LaneFull"


def test_pending_names_the_missing_customer() -> None:
    view = JobView(Phase.PENDING, "CustomerUnknown", "customer acme does not exist (yet)")
    body = tieredjob_status(view, [], T0, 1)
    conds = {x["type"]: x for x in body["conditions"]}
    assert conds["CustomerResolved"]["status"] == "False"
    assert "acme" in conds["CustomerResolved"]["message"]


def test_running_then_finished_clears_the_queue_fields() -> None:
    running = tieredjob_status(JobView(Phase.RUNNING, "Admitted", "", job_name="tj-a",
                                       start_time=T0, queue_position=4), [], T0, 1)
    assert running["queuePosition"] is None and running["jobName"] == "tj-a"
    done = tieredjob_status(JobView(Phase.SUCCEEDED, "Succeeded", "", job_name="tj-a",
                                    start_time=T0, completion_time=T0 + 5, attempts=1),
                            running["conditions"], T0 + 5, 1)
    conds = {x["type"]: x for x in done["conditions"]}
    assert conds["Finished"]["status"] == "True"
    assert conds["Admitted"]["lastTransitionTime"] == iso(T0)
    assert done["completionTime"] == iso(T0 + 5)


def test_unknown_job_type_fails_without_admission() -> None:
    body = tieredjob_status(JobView(Phase.FAILED, "UnknownJobType", "no such type"), [], T0, 1)
    conds = {x["type"]: x for x in body["conditions"]}
    assert conds["Admitted"]["status"] == "False"
    assert conds["Finished"]["status"] == "False"


def _job(**status: object) -> dict[str, object]:
    return {"metadata": {"name": "tj-a"}, "status": status}


def test_job_outcome_running_and_complete() -> None:
    assert not job_outcome(_job()).started
    running = job_outcome(_job(active=1, startTime=iso(T0)))
    assert running.started and not running.finished and running.reason == "Started"
    done = job_outcome(_job(succeeded=1, failed=1, startTime=iso(T0),
                            completionTime=iso(T0 + 7),
                            conditions=[{"type": "SuccessCriteriaMet", "status": "True"},
                                        {"type": "Complete", "status": "True"}]))
    assert done.finished and done.succeeded and done.attempts == 2 and done.duration == 7


def test_job_outcome_failed_reason() -> None:
    failed = job_outcome(_job(failed=1, startTime=iso(T0), conditions=[
        {"type": "FailureTarget", "status": "True", "reason": "PodFailurePolicy"},
        {"type": "Failed", "status": "True", "reason": "PodFailurePolicy",
         "message": "exit code 10", "lastTransitionTime": iso(T0 + 3)}]))
    assert failed.finished and not failed.succeeded
    assert failed.reason == "PodFailurePolicy" and failed.completion_time == T0 + 3


def test_tier_change_message() -> None:
    assert tier_change_message("medium", "large", "Pinned") == "moved from medium to large (pinned)"
    assert tier_change_message(None, "small", "Volume") == "assigned to tier small (by volume)"


def test_settings_from_env() -> None:
    s = Settings.from_env({"TIERQ_WORKER_IMAGE": "w:2", "TIERQ_METRICS_PORT": "0",
                           "TIERQ_POST_EVENTS": "false", "TIERQ_TIME_SCALE": "0.01"})
    assert (s.worker_image, s.metrics_port, s.post_events, s.time_scale) == ("w:2", 0, False,
                                                                             0.01)
    assert Settings.from_env({}) == Settings()


def test_served_namespaces_follow_kopf_run_flags() -> None:
    from tierq.operator.main import served_namespaces

    argv = ["kopf", "run", "-n", "a", "--namespace=b", "--namespace", "c", "-m", "x"]
    assert served_namespaces(Settings(), argv) == ("a", "b", "c")
    assert served_namespaces(Settings(), ["kopf", "run", "--all-namespaces"]) == ()
    assert served_namespaces(Settings(namespaces=("z",)), argv) == ("z",)
