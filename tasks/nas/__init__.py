"""NAS-Bench-201 ranking with a proxy set: ``run.py`` (the task and its search protocols),
``ground_truth.py`` (what a cell's real accuracy is taken to be), ``nb201.py`` (the cell network),
``report.py`` (summary, report section, proxy-vs-truth scatter)."""

from tasks._base import Task, register_task
from tasks.nas.run import DISCONNECTED, SEARCH_PROTOCOLS, TASK, NASConfig, SearchProtocol, run, sample_cells

register_task(Task(TASK, run, section="tasks.nas.report:section", report_position=30))

__all__ = ["DISCONNECTED", "SEARCH_PROTOCOLS", "TASK", "NASConfig", "SearchProtocol", "run", "sample_cells"]
