"""How a job ended: the outcome (-> exit code) and the summary for the termination log.

Free of database imports, so that the checks that need no database (usage, unknown job
type) answer without loading SQLAlchemy.
"""

from __future__ import annotations

import enum
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tierq.api import contract

log = logging.getLogger("tierq.worker")

TERMINATION_MESSAGE_LIMIT = 4096  # bytes; the kubelet truncates beyond this


class Outcome(enum.StrEnum):
    """How a job ended: the `result` of the summary, and the process's exit code."""

    SUCCEEDED = "Succeeded"
    INTERRUPTED = "Interrupted"
    SITE_NOT_FOUND = "SiteNotFound"
    UNKNOWN_JOB_TYPE = "UnknownJobType"
    DATABASE_UNREACHABLE = "DatabaseUnreachable"
    TASK_ERROR = "TaskError"
    USAGE_ERROR = "UsageError"

    @property
    def exit_code(self) -> int:
        return _EXIT_CODES[self]


_EXIT_CODES = {
    Outcome.SUCCEEDED: contract.EXIT_OK,
    Outcome.INTERRUPTED: contract.EXIT_INTERRUPTED,
    Outcome.SITE_NOT_FOUND: contract.EXIT_SITE_NOT_FOUND,
    Outcome.UNKNOWN_JOB_TYPE: contract.EXIT_UNKNOWN_JOB_TYPE,
    Outcome.DATABASE_UNREACHABLE: contract.EXIT_DATABASE_UNREACHABLE,
    Outcome.TASK_ERROR: contract.EXIT_TASK_ERROR,
    Outcome.USAGE_ERROR: contract.EXIT_USAGE,
}


@dataclass
class RunSummary:
    """The final word of a job; written to the termination log for the operator to copy."""

    job_type: str
    site_id: int | None
    result: Outcome
    records: int = 0
    records_total: int | None = None
    seconds: float = 0.0
    message: str = ""

    @property
    def exit_code(self) -> int:
        return self.result.exit_code

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "records": self.records,
            "recordsTotal": self.records_total,
            "seconds": round(self.seconds, 3),
            "result": str(self.result),
            "jobType": self.job_type,
            "siteId": self.site_id,
            "exitCode": self.exit_code,
        }
        if self.message:
            doc["message"] = self.message
        return doc


def write_termination_log(summary: RunSummary, path: str | Path) -> bool:
    """Write the summary as one JSON object (<= 4096 bytes); False (logged) when impossible."""
    doc = summary.to_json()
    data = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    if len(data) > TERMINATION_MESSAGE_LIMIT:
        doc["message"] = doc.get("message", "")[:200] + "..."
        data = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        log.warning("cannot write the termination log %s: %s", path, exc)
        return False
    return True
