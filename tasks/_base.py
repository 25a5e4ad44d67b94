"""What a task is: a name, ``run(config, store=None, log=print) -> records``, and what it
contributes to reports (lm-evaluation-harness's task folder with its ``metric_list``).

A task is one folder in ``tasks/`` (its run, summary, console table, report section and figure)
whose ``__init__.py`` calls :func:`register_task`. Its report section is named lazily
(``"module:function"``) so that listing tasks does not import pandas or matplotlib.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from harness.registry import Registry


@dataclass(frozen=True)
class Task:
    name: str
    run: Callable[..., list[dict]]
    section: str  # "module:function": ``function(records DataFrame) -> reports.blocks.Section | None``
    report_position: int = 50  # where its section stands among the tasks' (smaller first)

    def report_section(self) -> Callable:
        module, function = self.section.split(":")
        return getattr(importlib.import_module(module), function)


TASKS: Registry[Task] = Registry("task")


def register_task(task: Task) -> Task:
    return TASKS.add(task.name, task)


def report_sections() -> list[Callable]:
    """Every registered task's report section, in reading order (``report_position``)."""
    return [task.report_section() for task in sorted(TASKS.values(), key=lambda t: (t.report_position, t.name))]
