"""`tierq-worker`: the process a tierq Job runs, plus the database chores around it.

    tierq-worker run --job-type task_03 --site-id 42   # one job, then exit (see contract.py)
    tierq-worker seed --sites 20 [--records N] [--reset]
    tierq-worker sync-sites --namespace tenants [--prune] [--dry-run]
    tierq-worker init-db
    tierq-worker tasks

One process runs exactly one job: `run` has no loop and no queue; the operator starts one
pod per task, and the exit code tells the Job's podFailurePolicy what happened.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING

from tierq.api import contract
from tierq.worker import logs

if TYPE_CHECKING:  # the heavy imports wait until a command needs them (fast usage errors)
    from tierq.worker.summary import RunSummary

log = logging.getLogger("tierq.worker")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tierq-worker", description="Run one tierq job; seed or sync the customers' database."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run", help="run one task over one site's records, then exit",
        usage="tierq-worker run --job-type TYPE --site-id ID [TASK-ARGS ...]",
        description="Arguments after the options go to the task (a TieredJob's spec.args).",
    )
    run.add_argument(contract.ARG_JOB_TYPE, dest="job_type", required=True,
                     help="a registered task, e.g. task_03 (see `tierq-worker tasks`)")
    run.add_argument(contract.ARG_SITE_ID, dest="site_id", type=int, required=True)
    run.add_argument("--database-url", help=f"default: ${contract.ENV_DATABASE_URL}")

    seed = sub.add_parser("seed", help="generate demo sites and user records")
    seed.add_argument("--sites", type=_non_negative_int, default=10)
    seed.add_argument("--records", type=_non_negative_int,
                      help="records per site (default: drawn within each site's volume band)")
    seed.add_argument("--inactive-every", type=_non_negative_int, default=20,
                      help="every n-th record is inactive (0: none)")
    seed.add_argument("--seed", type=int, default=1, help="random seed for the band draws")
    seed.add_argument("--reset", action="store_true", help="drop and recreate the tables first")
    seed.add_argument("--database-url", help=f"default: ${contract.ENV_DATABASE_URL}")

    sync = sub.add_parser("sync-sites", help="create/update one CustomerTier per site")
    sync.add_argument("--namespace", "-n", default=os.environ.get("TIERQ_NAMESPACE", "default"))
    sync.add_argument("--prune", action="store_true",
                      help="delete CustomerTiers whose site is gone")
    sync.add_argument("--dry-run", action="store_true", help="print the changes, write nothing")
    sync.add_argument("--name-template", default="site-{id}",
                      help="name of a new CustomerTier; {id} is the site id")
    sync.add_argument("--kubeconfig", help="default: in-cluster config, else ~/.kube/config")
    sync.add_argument("--context")
    sync.add_argument("--database-url", help=f"default: ${contract.ENV_DATABASE_URL}")

    init = sub.add_parser("init-db", help="create the tables that do not exist yet")
    init.add_argument("--database-url", help=f"default: ${contract.ENV_DATABASE_URL}")

    sub.add_parser("tasks", help="list the registered job types")
    return parser


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} < 0")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)  # exits with EXIT_USAGE (2) on bad arguments
    command: str = args.command
    if extra and command != "run":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logs.configure()
    if command == "run":
        return cmd_run(args.job_type, args.site_id, args.database_url, extra)
    if command == "seed":
        return cmd_seed(args)
    if command == "sync-sites":
        return cmd_sync_sites(args)
    if command == "init-db":
        from tierq.worker.db import create_schema, database_url, make_engine

        engine = make_engine(database_url(args.database_url))
        create_schema(engine)
        log.info("schema ready", extra={"fields": {"database": _redacted(engine.url)}})
        return 0
    from tierq.worker.tasks import TaskRegistry

    for name in (registry := TaskRegistry.from_entry_points()).names():
        task = registry.get(name)
        print(f"{name}\t{task.seconds_per_record:g} s/record\t{task.description}")
    return 0


# ---- run -----------------------------------------------------------------------------------


def time_scale_from_env() -> float:
    text = os.environ.get(contract.ENV_TIME_SCALE, "1")
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{contract.ENV_TIME_SCALE}={text!r}: must be a finite number >= 0")
    return value


def termination_log_path() -> str | None:
    """$TIERQ_TERMINATION_LOG; else the kubelet's /dev/termination-log, but only in a pod
    (a laptop run as root must not write into /dev)."""
    explicit = os.environ.get(contract.ENV_TERMINATION_LOG)
    if explicit:
        return explicit
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return contract.DEFAULT_TERMINATION_LOG
    return None


def install_stop_handlers(stop: threading.Event) -> None:
    """SIGTERM (the kubelet) and SIGINT (a person) both stop at the next record boundary."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        if not stop.is_set():
            log.warning("received %s; stopping at the next record boundary",
                        signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def cmd_run(
    job_type: str, site_id: int, url: str | None = None, task_args: Sequence[str] = ()
) -> int:
    from tierq.worker.summary import Outcome, write_termination_log

    stop = threading.Event()
    install_stop_handlers(stop)
    summary = _run(job_type, site_id, url, task_args, stop)
    termination_log = termination_log_path()
    if termination_log:
        write_termination_log(summary, termination_log)
    level = logging.INFO if summary.result is Outcome.SUCCEEDED else logging.ERROR
    fields = summary.to_json()
    if "message" in fields:
        fields["detail"] = fields.pop("message")
    log.log(level, "job finished", extra={"fields": fields})
    return summary.exit_code


def _run(
    job_type: str,
    site_id: int,
    url: str | None,
    task_args: Sequence[str],
    stop: threading.Event,
) -> RunSummary:
    # The checks that need no database come first, before SQLAlchemy is even imported.
    from tierq.worker.summary import Outcome, RunSummary
    from tierq.worker.tasks import TaskRegistry, UnknownJobType

    def failed(outcome: Outcome, message: str) -> RunSummary:
        log.error(message)
        return RunSummary(job_type=job_type, site_id=site_id, result=outcome, message=message)

    try:
        time_scale = time_scale_from_env()
    except ValueError as exc:
        return failed(Outcome.USAGE_ERROR, str(exc))
    try:
        task = TaskRegistry.from_entry_points().get(job_type)
    except UnknownJobType as exc:
        return failed(Outcome.UNKNOWN_JOB_TYPE, str(exc))
    try:
        task = task.bind(task_args)
    except ValueError as exc:
        return failed(Outcome.USAGE_ERROR, str(exc))

    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from tierq.worker.db import database_url, make_engine
    from tierq.worker.runner import ProgressSink, TieredJobStatusSink, log_progress, run_job

    try:
        engine = make_engine(database_url(url))
    except (ArgumentError, SQLAlchemyError, ImportError) as exc:
        return failed(Outcome.USAGE_ERROR, f"{contract.ENV_DATABASE_URL}: {exc}")

    sinks: list[ProgressSink] = [log_progress]
    name = os.environ.get(contract.ENV_TIEREDJOB_NAME)
    namespace = os.environ.get(contract.ENV_TIEREDJOB_NAMESPACE)
    if name and namespace:
        status = TieredJobStatusSink.in_cluster(name, namespace)
        if status is not None:
            sinks.append(status)
    try:
        return run_job(engine, task, site_id, time_scale=time_scale, stop=stop,
                       progress_sinks=sinks)
    finally:
        engine.dispose()


# ---- seed, sync-sites ----------------------------------------------------------------------


def cmd_seed(args: argparse.Namespace) -> int:
    from tierq.worker.db import database_url, make_engine
    from tierq.worker.seed import existing_sites, plan_sites, seed

    engine = make_engine(database_url(args.database_url))
    specs = plan_sites(args.sites, seed=args.seed, records=args.records,
                       inactive_every=args.inactive_every,
                       first_index=1 if args.reset else existing_sites(engine) + 1)
    result = seed(engine, specs, reset=args.reset)
    print(f"seeded {len(result.site_ids)} sites, {result.records} records in "
          f"{result.seconds:.1f} s ({result.records_per_second:,.0f} records/s) "
          f"into {_redacted(engine.url)}")
    return 0


def cmd_sync_sites(args: argparse.Namespace) -> int:
    from tierq.worker.db import database_url
    from tierq.worker.sync_sites import sync_sites

    result = sync_sites(
        namespace=args.namespace,
        database_url=database_url(args.database_url),
        kubeconfig=args.kubeconfig,
        context=args.context,
        prune=args.prune,
        dry_run=args.dry_run,
        name_template=args.name_template,
    )
    plan = result.plan
    prefix = "would " if result.dry_run else ""
    for line in plan.describe():
        print(prefix + line)
    for line in plan.conflicts:
        print("conflict: " + line)
    print(f"{result.sites} sites; {prefix}create {len(plan.creates)}, update {len(plan.updates)}, "
          f"delete {len(plan.deletes)}; {len(plan.unchanged)} unchanged "
          f"in namespace {result.namespace}")
    for error in result.errors:
        print("error: " + error, file=sys.stderr)
    return 0 if result.ok else 1


def _redacted(url: object) -> str:
    render = getattr(url, "render_as_string", None)
    return str(render(hide_password=True)) if callable(render) else str(url)


if __name__ == "__main__":
    sys.exit(main())
