"""Tasks: consumers of any distilled set (transfer, continual learning, NAS ranking, debiasing).

Each task module registers ``@register_task("name")`` on a ``run(...) -> list of records``
function; every module here is imported on start-up, so heavy imports (avalanche, timm) stay
inside functions.
"""

from harness.plugins import import_all
from tasks.base import TASKS, register_task

import_all(__name__, __path__)

__all__ = ["TASKS", "register_task"]
