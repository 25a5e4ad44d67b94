"""De-biased condensation: ``run.py`` (the task, its methods and their chosen settings),
``report.py`` (summary, report section, average and worst-group bars)."""

from tasks._base import Task, register_task
from tasks.debias.run import DEFAULT_METHODS, METHODS, TASK, DebiasConfig, run

register_task(Task(TASK, run, section="tasks.debias.report:section", report_position=40))

__all__ = ["DEFAULT_METHODS", "METHODS", "TASK", "DebiasConfig", "run"]
