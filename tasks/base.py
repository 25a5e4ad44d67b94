"""The task registry. A task is a callable ``run(config) -> list[dict]`` (the records it wrote)."""

from __future__ import annotations

from harness.registry import Registry

TASKS: Registry = Registry("task")


def register_task(name: str):
    return TASKS.register(name)
