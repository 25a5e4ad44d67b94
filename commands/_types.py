"""The commands' argparse types, each refusing a bad value in one line and declaring its ``kind``
(and ``minimum``, ``empty_ok``) so that ``tests/test_bad_input_generated.py`` can generate the bad
values every flag must refuse."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from harness.errors import HarnessError


def non_empty(kind):
    """``kind`` (an argparse type, None for text) that refuses an empty or blank value first."""

    def parse(text: str):
        if not text.strip():
            raise argparse.ArgumentTypeError("expected a value, got an empty string")
        return kind(text) if kind is not None else text

    parse.__name__, parse.kind = getattr(kind, "__name__", "text"), "text"
    parse.__dict__.update(getattr(kind, "__dict__", {}))  # its kind, minimum, ... (tests generate bad values from them)
    return parse


MAX_WHOLE = 10**7  # no count a command takes comes near ten million: a larger one is a typo
MAX_SEEDS = 100  # see add_seeds
MAX_SEED = 2**32 - 1  # a seed is a 32-bit number


def whole_number(minimum: int = 1, maximum: int = MAX_WHOLE, why: str = ""):
    """An argparse type: an int from ``minimum`` to ``maximum`` (``why`` the bound), refused in one line otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got '{text}'") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {value}")
        if value > maximum:
            raise argparse.ArgumentTypeError(f"expected a whole number <= {maximum}{why}, got {value}")
        return value

    parse.__name__ = f"whole number >= {minimum}"
    parse.kind, parse.minimum = "whole", minimum
    return parse


POSITIVE = whole_number(1)
SEED = whole_number(0, MAX_SEED, " (a seed is a 32-bit number)")


def real_number(minimum: float, maximum: float):
    """An argparse type: a finite number from ``minimum`` to ``maximum`` (no NaN, no infinity)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
        if not (math.isfinite(value) and minimum <= value <= maximum):
            raise argparse.ArgumentTypeError(f"expected a finite number from {minimum:g} to {maximum:g}, got {text}")
        return value

    parse.kind = "real"
    return parse


def number_list(text: str) -> list[int]:
    """``1,10,50`` -> [1, 10, 50], each a whole number >= 1, none repeated."""
    return [POSITIVE(v) for v in names()(text)]


number_list.kind = "whole-list"


def names(registry=None, empty_ok: bool = False):
    """An argparse type: ``a,b`` -> [a, b], refusing an empty or repeated member (and an empty list
    unless ``empty_ok``), each name known to ``registry`` when one is given."""

    def parse(text: str) -> list[str]:
        items = [v.strip() for v in text.split(",")] if text.strip() else []
        if not items and not empty_ok:
            raise argparse.ArgumentTypeError("expected a comma-separated list, got nothing")
        if "" in items:
            raise argparse.ArgumentTypeError(f"'{text}' has an empty member")
        repeated = sorted({v for v in items if items.count(v) > 1})
        if repeated:
            raise argparse.ArgumentTypeError(f"'{text}' lists {', '.join(repeated)} more than once")
        for name in items if registry is not None else ():
            registry.get(name)
        return items

    parse.kind, parse.empty_ok = "names", empty_ok
    return parse


def one_of(registry, what: str = "name"):
    """An argparse type: one name known to ``registry`` (a :class:`Registry`, or a dict or tuple of
    ``what``), refused in one line with "did you mean" otherwise."""
    from harness.registry import Registry, did_you_mean

    def parse(text: str) -> str:
        if isinstance(registry, Registry):
            registry.get(text)
        elif text not in registry:
            raise HarnessError(f"unknown {what} '{text}'.{did_you_mean(text, list(registry))} "
                               f"Known: {', '.join(registry)}.")
        return text

    parse.kind = "name"
    return parse


def dataset_name(text: str) -> str:
    from harness.data.core import check_dataset

    check_dataset(text)
    return text


dataset_name.kind = "name"


def output_folder(text: str) -> Path:
    return Path(text)


output_folder.kind = "output"


# --seeds N trains N models per cell (transfer also distils N sets): the papers report 3 to 10 seeds, and
# a typo (--seeds 100000) wrote 63,000 artifacts before it was noticed, so more than 100 is refused.
SEEDS = whole_number(1, MAX_SEEDS, " (each seed is a full training run; papers report 3-10)")


def key_value(text: str) -> str:
    """An argparse type: ``key=value`` with a key (the value is checked by the setting's declaration)."""
    if not text.split("=", 1)[0].strip() or "=" not in text:
        raise argparse.ArgumentTypeError(f"expected key=value, got '{text}'")
    return text


key_value.kind = "set"
