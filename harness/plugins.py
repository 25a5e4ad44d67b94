"""Import every module of a plugin package so its ``@register_...`` decorators run.

A new plugin is then one file: no import line to add, nothing for two authors to edit at once.
"""

from __future__ import annotations

import importlib
import pkgutil


def import_all(package_name: str, package_path, skip: tuple[str, ...] = ()) -> None:
    for module in pkgutil.iter_modules(package_path):
        if module.name not in skip and not module.name.startswith("_"):
            importlib.import_module(f"{package_name}.{module.name}")
