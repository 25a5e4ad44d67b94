"""Distillers: plugins that condense a real training split into a synthetic set.

``create_distiller(name, overrides)`` builds one from the registry. A new distiller is one file
in this folder with ``@register_distiller("name")``: every module here is imported on start-up.
"""

from distillers._base import DISTILLERS, Distiller, IterativeDistiller, RunContext, create_distiller, register_distiller
from harness.plugins import import_all

import_all(__name__, __path__)

__all__ = ["DISTILLERS", "Distiller", "IterativeDistiller", "RunContext", "create_distiller", "register_distiller"]
