"""Distillers: plugins that condense a real training split into a synthetic set.

``create_distiller(name, overrides)`` builds one from the registry; a new distiller is one file
with ``@register_distiller("name")`` plus an import line below.
"""

from distillers.base import DISTILLERS, Distiller, IterativeDistiller, RunContext, create_distiller, register_distiller
from distillers import dm, selection  # noqa: F401  (built-in registrations)

__all__ = ["DISTILLERS", "Distiller", "IterativeDistiller", "RunContext", "create_distiller", "register_distiller"]
