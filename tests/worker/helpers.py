"""Helpers of the worker tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sqlalchemy import Engine

from tierq.worker.seed import SiteSpec, seed


def seed_site(engine: Engine, records: int, *, inactive_every: int = 0, name: str = "Acme") -> int:
    """One site with `records` records (every n-th inactive); returns its id."""
    result = seed(engine, [SiteSpec(name=name, records=records, inactive_every=inactive_every)])
    return result.site_ids[0]


def worker_command() -> list[str]:
    """The installed `tierq-worker` console script (the image's entry point)."""
    script = Path(sys.executable).parent / "tierq-worker"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "tierq.worker.main"]


def worker_env(db_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERQ_")}
    env.update(
        DATABASE_URL=db_url,
        TIERQ_TERMINATION_LOG=str(tmp_path / "termination-log"),
        TIERQ_TIME_SCALE="0",
    )
    env.update(extra)
    return env
