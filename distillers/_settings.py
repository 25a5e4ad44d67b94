"""Declared settings: every field of a distiller's config states its type and its range.

A field is ``Annotated[type, Range(...)]`` (numbers, or each member of a tuple) or
``Annotated[str, OneOf(...)]`` (a fixed set of names or a registry), or a plain ``bool``; the
aliases below name the common ones. :func:`check_config` (called by every config's
``__post_init__``) refuses a value outside its declaration in one line, so ``--set iterations=-5``
or ``--set lr_images=nan`` stops before any work, and a setting added tomorrow is checked the day
it is added (``tests/test_settings.py`` asserts every field of every distiller has a declaration).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, fields
from typing import Annotated, get_args, get_origin, get_type_hints

from harness.errors import HarnessError
from harness.models import MODELS
from harness.models.registry import EMBEDDING_MODELS
from harness.pretrained import RECIPE_NAMES
from harness.registry import did_you_mean

MAX_COUNT = 10**7  # no count of a distiller comes near ten million (the longest published budget: 20,000 iterations)
MAX_VALUE = 1e6  # no rate, weight or scale of a distiller comes near a million (the largest published lr: 10)


@dataclass(frozen=True)
class Range:
    """Numbers from ``low`` to ``high`` (``open_low`` / ``open_high``: that end excluded), a
    ``multiple`` of a step when given; for a tuple, each member."""

    low: float
    high: float
    open_low: bool = False
    open_high: bool = False
    multiple: int = 1

    def holds(self, x) -> bool:
        return (x > self.low if self.open_low else x >= self.low) and (
            x < self.high if self.open_high else x <= self.high) and (self.multiple == 1 or x % self.multiple == 0)

    def text(self) -> str:
        if not (self.open_low or self.open_high):
            span = f"from {_number(self.low)} to {_number(self.high)}"
        else:
            span = (f"{'>' if self.open_low else '>='} {_number(self.low)} and "
                    f"{'<' if self.open_high else '<='} {_number(self.high)}")
        return span + (f", a multiple of {self.multiple}" if self.multiple > 1 else "")


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


@dataclass(frozen=True)
class OneOf:
    """One of ``options``: a tuple of names, or a registry / dict of them."""

    options: object

    def holds(self, x) -> bool:
        return x in self.options

    def text(self) -> str:
        return f"one of {', '.join(self.options)}"


Count = Annotated[int, Range(1, MAX_COUNT)]  # iterations, images per class, networks, steps
Natural = Annotated[int, Range(0, MAX_COUNT)]  # where 0 means "the default", "all" or "never"
Seed = Annotated[int, Range(0, 2**32 - 1)]  # a seed is a 32-bit number
Positive = Annotated[float, Range(0, MAX_VALUE, open_low=True)]  # learning rates, scales, temperatures
NonNegative = Annotated[float, Range(0, MAX_VALUE)]  # weights (0 switches a term off)
Fraction = Annotated[float, Range(0, 1)]
ClassIds = Annotated[tuple[int, ...], Range(0, MAX_COUNT)]  # () = every class
Arch = Annotated[str, OneOf(MODELS)]
EmbeddingArch = Annotated[str, OneOf(EMBEDDING_MODELS)]  # a network the distiller embeds images with (.embed)
Preset = Annotated[str, OneOf(RECIPE_NAMES)]  # a pretraining recipe: a preset or an imported pool (harness.pretrained)


@dataclass(frozen=True)
class Setting:
    """One field's declaration: its type (``tuple[int, ...]`` kept whole) and its rule."""

    name: str
    kind: object
    rule: Range | OneOf | None

    def members(self) -> tuple[type, int | None]:
        """(member type, fixed length or None) of a tuple setting."""
        args = get_args(self.kind)
        return args[0], (None if len(args) == 2 and args[1] is Ellipsis else len(args))

    def text(self) -> str:
        if self.kind is bool:
            return "true or false"
        if get_origin(self.kind) is tuple:
            member, length = self.members()
            what = "whole numbers" if member is int else "numbers"
            count = f"{length} comma-separated " if length else "comma-separated "
            return f"{count}{what}, each {self.rule.text()}"
        what = {int: "a whole number", float: "a finite number", str: "a name"}[self.kind]
        return f"{what} {self.rule.text()}" if isinstance(self.rule, Range) else self.rule.text()

    def refuse(self, value):
        names = isinstance(self.rule, OneOf) and isinstance(value, str)
        close = did_you_mean(value, list(self.rule.options)) if names else ""
        raise HarnessError(f"setting '{self.name}' must be {self.text()}, got {value!r}.{close}".rstrip("."))

    def coerce(self, value):
        """A command-line string as this setting's type (other values are returned as they are)."""
        if not isinstance(value, str) or self.kind is str:
            return value
        try:
            if self.kind is bool:
                return {"1": True, "true": True, "yes": True, "on": True,
                        "0": False, "false": False, "no": False, "off": False}[value.lower()]
            if get_origin(self.kind) is tuple:
                member = self.members()[0]
                return tuple(member(v.strip()) for v in value.split(",") if v.strip())
            return self.kind(value)
        except (KeyError, ValueError):
            self.refuse(value)

    def check(self, value) -> None:
        if get_origin(self.kind) is tuple:
            member, length = self.members()
            ok = isinstance(value, tuple) and (length is None or len(value) == length) and all(
                _is(v, member) and self.rule.holds(v) for v in value)
        else:
            ok = _is(value, self.kind) and (self.rule is None or self.rule.holds(value))
        if not ok:
            self.refuse(value)


def _is(value, kind) -> bool:
    """``value`` is of ``kind`` (an int counts as a float; a bool is not a number; no NaN or infinity)."""
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


@functools.cache
def declared(cls: type) -> dict[str, Setting]:
    """Every field of config class ``cls`` with its declaration (rule None: undeclared, or bool)."""
    hints = get_type_hints(cls, include_extras=True)
    out = {}
    for f in fields(cls):
        hint = hints[f.name]
        kind, rule = (get_args(hint)[0], get_args(hint)[1]) if get_origin(hint) is Annotated else (hint, None)
        out[f.name] = Setting(f.name, kind, rule)
    return out


def check_config(config) -> None:
    """Refuse any field of ``config`` outside its declaration, in one line naming the setting."""
    for name, setting in declared(type(config)).items():
        setting.check(getattr(config, name))
