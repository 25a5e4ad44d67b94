"""Distillers: plugins that condense a real training split into a synthetic set.

``create_distiller(name, overrides)`` builds one from the registry, ``distil(name, dataset, ipc,
...)`` runs one into an artifact. A new distiller is one file in this folder with
``@register_distiller("name")``: every module here is imported on start-up. Files whose name
starts with ``_`` are the shared machinery (the contract and registry, the matching loop,
multi-formation, extractors, discrepancies, the runner), not plugins.
"""

from distillers._base import (
    BUDGETS,
    DISTILLERS,
    Distiller,
    IterativeDistiller,
    RunContext,
    create_distiller,
    register_distiller,
    setting_names,
    settings_it_has,
)
from distillers._runner import artifact_path, distil
from harness.plugins import import_all

import_all(__name__, __path__)

__all__ = ["BUDGETS", "DISTILLERS", "Distiller", "IterativeDistiller", "RunContext", "artifact_path", "create_distiller", "distil",
           "register_distiller", "setting_names", "settings_it_has"]
