"""Printing: a Rich table for people, JSON or YAML for scripts (`-o`)."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table


class Output(StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"


def console() -> Console:
    # Resolved per call so that typer's CliRunner, which swaps sys.stdout, sees the output.
    # Piped output is not cut to 80 columns: the comparison tables are wide.
    return Console(file=sys.stdout, width=None if sys.stdout.isatty() else 160)


def human_seconds(seconds: float | None) -> str:
    """12s, 3.5m, 2.1h, 4.0d: a wait at a glance."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "-"
    if seconds < 1:
        return f"{seconds:.2f}s" if seconds else "0s"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def emit(output: Output, data: Any, columns: Sequence[str] = (),
         rows: Sequence[Sequence[Any]] = (), title: str | None = None) -> None:
    """`data` as JSON/YAML, or `columns` x `rows` as a table."""
    if output is Output.JSON:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        return
    if output is Output.YAML:
        sys.stdout.write(yaml.safe_dump(json.loads(json.dumps(data, default=str)),
                                        sort_keys=False))
        return
    table = Table(title=title, show_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(cell(v) for v in row))
    console().print(table)


def fields(data: dict[str, Any]) -> None:
    """A few named values as `key: value` lines (the table form of one object)."""
    width = max((len(k) for k in data), default=0)
    for key, value in data.items():
        sys.stdout.write(f"{key + ':':<{width + 1}} {cell(value)}\n")
