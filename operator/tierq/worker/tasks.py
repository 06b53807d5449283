"""The task registry and the brief's five tasks.

A task is a name, a per-record cost and a function called once per user record. The runner
owns the loop (paging, pacing, progress, SIGTERM); a task only says what to do with one
record. The five tasks of the brief differ only in their per-record cost, which stands in
for real work: the runner waits `seconds_per_record x TIERQ_TIME_SCALE` per record.

Tasks are found through the Python entry-point group `tierq.tasks`, so a deployment adds its
own by shipping a package that declares, in its pyproject.toml::

    [project.entry-points."tierq.tasks"]
    reindex = "acme_tasks:reindex"      # a tierq.worker.tasks.Task

The job types in the scheduling policy then map to code by name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only a type: the registry itself needs no database (fast exit 11)
    from tierq.worker.db import UserRecord

ENTRY_POINT_GROUP = "tierq.tasks"

log = logging.getLogger("tierq.worker.tasks")
record_log = logging.getLogger("tierq.task")


@dataclass(frozen=True, slots=True)
class Task:
    """One job type: what to do with each of a site's active user records."""

    name: str
    seconds_per_record: float  # simulated work, waited by the runner (x TIERQ_TIME_SCALE)
    handle: Callable[[UserRecord], None]
    description: str = ""
    # For a task that takes arguments (the TieredJob's spec.args): args -> the handle to use.
    # It raises ValueError for arguments it cannot accept (the worker exits with 2).
    with_args: Callable[[Sequence[str]], Callable[[UserRecord], None]] | None = None

    def __post_init__(self) -> None:
        if self.seconds_per_record < 0:
            raise ValueError(f"task {self.name}: seconds_per_record must be >= 0")

    def bind(self, args: Sequence[str]) -> Task:
        """This task configured with `args` (none: itself); ValueError when it cannot be."""
        if not args:
            return self
        if self.with_args is None:
            raise ValueError(f"task {self.name} takes no arguments; got {list(args)!r}")
        return replace(self, handle=self.with_args(list(args)), with_args=None)


class UnknownJobType(LookupError):
    def __init__(self, job_type: str, known: Iterable[str]) -> None:
        self.job_type = job_type
        self.known = sorted(known)
        super().__init__(f"unknown job type {job_type!r}; known: {', '.join(self.known)}")


def _brief_task(number: int, seconds_per_record: float) -> Task:
    message = f"Task {number:02d}: %s processed"

    def handle(record: UserRecord) -> None:
        record_log.info(message, record.name)

    return Task(
        name=f"task_{number:02d}",
        seconds_per_record=seconds_per_record,
        handle=handle,
        description=f"the brief's task {number}: {seconds_per_record:g} s per record",
    )


task_01 = _brief_task(1, 0.001)
task_02 = _brief_task(2, 0.01)
task_03 = _brief_task(3, 0.1)
task_04 = _brief_task(4, 1.0)
task_05 = _brief_task(5, 10.0)

BUILTIN_TASKS: Mapping[str, Task] = {
    t.name: t for t in (task_01, task_02, task_03, task_04, task_05)
}


class TaskRegistry:
    """Job type name -> Task. Built from entry points, with the built-in five as a floor."""

    def __init__(self, tasks: Iterable[Task] = ()) -> None:
        self._tasks: dict[str, Task] = {}
        for task in tasks:
            self.register(task)

    def register(self, task: Task) -> None:
        self._tasks[task.name] = task

    def get(self, job_type: str) -> Task:
        try:
            return self._tasks[job_type]
        except KeyError:
            raise UnknownJobType(job_type, self._tasks) from None

    def names(self) -> list[str]:
        return sorted(self._tasks)

    def __contains__(self, job_type: object) -> bool:
        return job_type in self._tasks

    def __len__(self) -> int:
        return len(self._tasks)

    @classmethod
    def from_entry_points(cls, group: str = ENTRY_POINT_GROUP) -> TaskRegistry:
        """The built-in tasks plus every `Task` registered under the entry-point group.

        The built-ins are present even when the package metadata is missing (e.g. running
        from a source tree); an entry point that fails to load or is not a Task is logged and
        skipped, so one broken plug-in does not take every job type down.
        """
        registry = cls(BUILTIN_TASKS.values())
        for ep in entry_points(group=group):
            try:
                obj = ep.load()
            except Exception:
                log.exception("cannot load task entry point %s = %s", ep.name, ep.value)
                continue
            if not isinstance(obj, Task):
                log.error("entry point %s = %s is not a tierq Task; skipped", ep.name, ep.value)
                continue
            if obj.name != ep.name:
                log.warning(
                    "entry point %s names task %r; registered as %r", ep.name, obj.name, ep.name
                )
                obj = replace(obj, name=ep.name)
            registry.register(obj)
        return registry
