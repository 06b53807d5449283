"""The kopf entry module: `kopf run -m tierq.operator.main` (see `make run`)."""

from __future__ import annotations

import asyncio
import logging
import random
import sys
from typing import Any, cast

import kopf

from tierq.operator import handlers as handlers  # registers the handlers
from tierq.operator import metrics
from tierq.operator.kube import Kube
from tierq.operator.settings import Settings
from tierq.operator.state import Shell


def served_namespaces(settings: Settings, argv: list[str] | None = None) -> tuple[str, ...]:
    """$TIERQ_NAMESPACES, or the namespaces given to `kopf run` (-n/--namespace); empty
    means cluster-wide. kopf does not hand them to handlers, and the rebuild must list
    exactly what the watches see."""
    if settings.namespaces:
        return settings.namespaces
    args = sys.argv if argv is None else argv
    found: list[str] = []
    for i, arg in enumerate(args):
        if arg in ("-n", "--namespace") and i + 1 < len(args):
            found.append(args[i + 1])
        elif arg.startswith("--namespace="):
            found.append(arg.split("=", 1)[1])
    return tuple(found)


class LeanDiffBase(kopf.AnnotationsDiffBaseStorage):
    """kopf deep-copies every object on every watch event to diff it for change handlers
    (on.create/on.update). This operator has none (raw event handlers and one daemon), so
    there is nothing to diff: that copy was most of the operator's CPU in bursts."""

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        return cast(kopf.BodyEssence, {})


@kopf.on.login()
async def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    info: kopf.ConnectionInfo | None = await kopf.login_via_async_client(**kwargs)
    return info


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, logger: kopf.Logger,
                  **_: Any) -> None:
    ours = Settings.from_env()
    # One INFO line per handled watch event is most of the CPU of a busy operator.
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    # Handler log lines are not Events: the shell posts one Event per transition itself.
    settings.posting.level = logging.WARNING
    settings.posting.enabled = ours.post_events
    # Per-object event batching adds its window to every reaction: keep it short.
    settings.batching.batch_window = 0.01
    # kopf keeps one worker task per object that had an event until it idles this long; with
    # 10,000 TieredJobs changing at once, shorter idling keeps far fewer of them alive.
    settings.batching.idle_timeout = 1.0
    # Events are posted by their own workers; a few at a time keep bursts of transitions
    # from competing with admissions for the API server.
    settings.posting.worker_limit = 2
    settings.watching.server_timeout = 300
    settings.watching.connect_timeout = 30
    # The one kopf-managed mark on our objects (the daemon's finalizer on the TierPolicy);
    # no progress or diff-base annotations are written (only raw event handlers are used).
    settings.persistence.finalizer = "tierq.dev/operator"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="tierq.dev")
    settings.persistence.diffbase_storage = LeanDiffBase(
        prefix="tierq.dev", key="last-handled-configuration")
    # Replicas of one priority would all pause (kopf treats that as a conflict): unless
    # pinned (here or by --priority), every replica draws its own.
    if ours.peering_priority is not None:
        settings.peering.priority = ours.peering_priority
    elif settings.peering.priority == 0:
        settings.peering.priority = random.randint(1, 1_000_000)
    if ours.peering_lifetime is not None:
        settings.peering.lifetime = ours.peering_lifetime
    kube = await Kube.login(pool=ours.write_concurrency + 8)
    shell = Shell(kube, ours, served_namespaces(ours))
    memo.shell = shell
    memo.writer = asyncio.create_task(shell.run(), name="tierq writer")
    metrics.serve(ours.metrics_port)
    logger.info("tierq operator ready (namespaces: %s, peering priority %s)",
                ",".join(shell.namespaces) or "all", settings.peering.priority)


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    writer = getattr(memo, "writer", None)
    if writer is not None:
        writer.cancel()
    shell = getattr(memo, "shell", None)
    if shell is not None:
        await shell.kube.close()
