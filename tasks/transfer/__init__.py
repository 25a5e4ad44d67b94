"""Cross-architecture transfer: ``run.py`` (the task and its profiles), ``report.py`` (summary,
console table, report section, heatmap)."""

from tasks._base import Task, register_task
from tasks.transfer.run import BASELINE, PROFILES, TASK, Profile, TransferConfig, run

register_task(Task(TASK, run, section="tasks.transfer.report:section", report_position=10))

__all__ = ["BASELINE", "PROFILES", "TASK", "Profile", "TransferConfig", "run"]
