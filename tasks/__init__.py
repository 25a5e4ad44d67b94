"""Tasks: consumers of any distilled set (transfer, continual learning, NAS ranking, debiasing).

Each task module registers ``@register_task("name")`` on a ``run(config) -> list of records``
function; heavy imports (avalanche, timm) stay inside the functions.
"""

from tasks.base import TASKS, register_task

__all__ = ["TASKS", "register_task"]
