"""Operator settings, read once from the environment (the chart sets these variables)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    return int(raw) if raw else default


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    return float(raw) if raw else default


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    return default if not raw else raw in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    """Everything the operator needs to know that is not in the cluster."""

    worker_image: str = "tierq-worker:latest"
    image_pull_policy: str = "IfNotPresent"
    db_secret_name: str = "tierq-database"
    db_secret_key: str = "url"
    worker_service_account: str = ""  # empty: the namespace's default ServiceAccount
    time_scale: float = 1.0  # passed to the worker (TIERQ_TIME_SCALE): < 1 runs tasks faster
    metrics_port: int = 9090  # 0 disables the Prometheus endpoint
    resync_seconds: float = 30.0  # safety-net reconcile; admission itself is event-driven
    refresh_seconds: float = 10.0  # how often queue positions and ETAs are rewritten
    write_concurrency: int = 64  # API writes in flight at once
    post_events: bool = True  # Kubernetes Events per transition
    # kopf peering: replicas of one priority would all pause (kopf sees a conflict), so
    # unless one is pinned here every replica draws its own at start.
    peering_priority: int | None = None
    peering_lifetime: int | None = None  # seconds a dead active replica blocks the others
    namespaces: tuple[str, ...] = ()  # empty: what `kopf run` serves (-n flags, or all)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        return cls(
            worker_image=e.get("TIERQ_WORKER_IMAGE", cls.worker_image),
            image_pull_policy=e.get("TIERQ_WORKER_IMAGE_PULL_POLICY", cls.image_pull_policy),
            db_secret_name=e.get("TIERQ_DB_SECRET_NAME", cls.db_secret_name),
            db_secret_key=e.get("TIERQ_DB_SECRET_KEY", cls.db_secret_key),
            worker_service_account=e.get("TIERQ_WORKER_SERVICE_ACCOUNT", ""),
            time_scale=_float(e, "TIERQ_TIME_SCALE", cls.time_scale),
            metrics_port=_int(e, "TIERQ_METRICS_PORT", cls.metrics_port),
            resync_seconds=_float(e, "TIERQ_RESYNC_SECONDS", cls.resync_seconds),
            refresh_seconds=_float(e, "TIERQ_REFRESH_SECONDS", cls.refresh_seconds),
            write_concurrency=max(1, _int(e, "TIERQ_WRITE_CONCURRENCY", cls.write_concurrency)),
            post_events=_bool(e, "TIERQ_POST_EVENTS", cls.post_events),
            peering_priority=_int(e, "TIERQ_PEERING_PRIORITY", 0) or None,
            peering_lifetime=_int(e, "TIERQ_PEERING_LIFETIME", 0) or None,
            namespaces=tuple(n.strip() for n in e.get("TIERQ_NAMESPACES", "").split(",")
                             if n.strip()),
        )
