"""JSON-lines logging for the worker: one object per line, for `kubectl logs` and collectors.

Structured fields travel in `extra={"fields": {...}}` and are merged into the line.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any, TextIO

ENV_LOG_LEVEL = "TIERQ_LOG_LEVEL"  # worker-local knob, e.g. WARNING to silence per-record lines


class JsonLinesFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _rfc3339_millis(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


_second_cache: tuple[int, str] = (-1, "")


def _rfc3339_millis(created: float) -> str:
    global _second_cache
    whole = int(created)
    if whole != _second_cache[0]:  # one strftime per second, not per line
        _second_cache = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{_second_cache[1]}.{int((created - whole) * 1000):03d}Z"


def configure(level: str | int | None = None, stream: TextIO | None = None) -> None:
    """Route every logger to one JSON-lines handler on stdout (idempotent)."""
    chosen = level if level is not None else os.environ.get(ENV_LOG_LEVEL, "INFO")
    if isinstance(chosen, str):
        chosen = chosen.upper()
    # The logging HOWTO's "Optimization": the JSON lines carry no caller, thread or process,
    # so do not collect them (a worker logs a line per record; this halves its cost).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(stream if stream is not None else sys.stdout)
    handler.setFormatter(JsonLinesFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    try:
        root.setLevel(chosen)
    except (ValueError, TypeError):
        root.setLevel(logging.INFO)
        root.warning("unknown log level %r; using INFO", chosen)
    # Client libraries log every HTTP request at DEBUG/INFO; keep them to warnings.
    for noisy in ("kubernetes", "urllib3", "sqlalchemy"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
