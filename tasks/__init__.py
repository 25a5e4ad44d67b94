"""Tasks: consumers of any distilled set (transfer, continual learning, NAS ranking, de-biasing).

Each task is a folder holding its whole story (``run.py``: the run and its config; ``report.py``:
its summary, console table, report section and figure) and registers itself in its
``__init__.py`` with :func:`register_task`. Every task folder is imported on start-up, so heavy
imports (avalanche, timm, matplotlib) stay inside functions or in ``report.py``.
"""

from harness.plugins import import_all
from tasks._base import TASKS, Task, register_task, report_sections

import_all(__name__, __path__)

__all__ = ["TASKS", "Task", "register_task", "report_sections"]
