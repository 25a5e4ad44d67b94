"""One registry class for every kind of plugin (datasets, models, distillers, tasks).

Modelled on timm's ``register_model`` / ``create_model`` and lm-evaluation-harness's registry:
names are unique (a collision is an error), unknown names raise a one-line error with
"did you mean" suggestions.
"""

from __future__ import annotations

import difflib
from typing import Callable, Generic, Iterator, TypeVar

from harness.errors import HarnessError

T = TypeVar("T")


class UnknownNameError(HarnessError, KeyError):
    """An unknown plugin name (bad input, so a :class:`HarnessError`); ``str()`` is a one-line
    message with suggestions."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


def did_you_mean(name: str, choices: list[str]) -> str:
    """' Did you mean 'x'?' for the closest choices, or '' when nothing is close."""
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"


class Registry(Generic[T]):
    """Named plugins of one kind: ``@REG.register("name")`` (or ``REG.add("name", obj)``) then
    ``REG.get("name")`` / ``REG["name"]``. Every name table of the harness is one (distillers,
    datasets, models, tasks, protocols, profiles, ...), so every unknown name gets "did you mean"."""

    def __init__(self, kind: str, items: dict[str, T] | None = None):
        self.kind = kind
        self._items: dict[str, T] = {}
        for name, obj in (items or {}).items():
            self.add(name, obj)

    def add(self, name: str, obj: T) -> T:
        return self.register(name)(obj)

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._items[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:
        if name not in self._items:
            known = sorted(self._items)
            raise UnknownNameError(
                f"unknown {self.kind} '{name}'.{did_you_mean(name, known)} "
                f"Known: {', '.join(known)}."
            )
        return self._items[name]

    __getitem__ = get

    def names(self) -> list[str]:
        return sorted(self._items)

    def values(self) -> list[T]:
        """In registration order (e.g. protocols as their table lists them)."""
        return list(self._items.values())

    def items(self) -> list[tuple[str, T]]:
        return list(self._items.items())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: str) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
