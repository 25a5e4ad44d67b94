"""Class-incremental GDumb with fixed memories: ``run.py`` (the task, Avalanche's strategy and
storage policies), ``report.py`` (summary, report section, accuracy-vs-step curves)."""

from tasks._base import Task, register_task
from tasks.continual.run import BASELINES, HERDING, RANDOM, TASK, CLConfig, class_order, run

register_task(Task(TASK, run, section="tasks.continual.report:section", report_position=20))

__all__ = ["BASELINES", "HERDING", "RANDOM", "TASK", "CLConfig", "class_order", "run"]
