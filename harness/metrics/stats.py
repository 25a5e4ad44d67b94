"""Summary statistics over seeds: mean, sample std, Student-t 95% intervals, paired differences."""

from __future__ import annotations

import math

from scipy import stats as _st


def summarize(values: list[float], confidence: float = 0.95) -> dict:
    """Mean, sample std (ddof=1) and the t-interval half-width; n=1 gives std and interval NaN."""
    n = len(values)
    if n == 0:
        raise ValueError("no values to summarize")
    mean = sum(values) / n
    if n == 1:
        return {"n": 1, "mean": mean, "std": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = _st.t.ppf(0.5 + confidence / 2, n - 1) * std / math.sqrt(n)
    return {"n": n, "mean": mean, "std": std, "ci_low": mean - half, "ci_high": mean + half}


def paired_difference(a: list[float], b: list[float], confidence: float = 0.95) -> dict:
    """Summary of a - b over matched seeds (e.g. distilled minus random subset)."""
    if len(a) != len(b):
        raise ValueError(f"paired comparison needs equal lengths, got {len(a)} and {len(b)}")
    return summarize([x - y for x, y in zip(a, b)], confidence)


def format_interval(s: dict, digits: int = 2, signed: bool = False, with_std: bool = False) -> str:
    """``mean [low, high], n=k`` (the 95% t-interval); ``with_std`` adds ``+- std`` after the mean,
    ``signed`` prints a + on positive values (gains). One value has no interval and says so."""
    number = f"{{:{'+' if signed else ''}.{digits}f}}".format
    if int(s["n"]) <= 1:
        return f"{number(s['mean'])} (n=1, no interval)"
    spread = f" \u00b1 {s['std']:.{digits}f}" if with_std else ""
    return f"{number(s['mean'])}{spread} [{number(s['ci_low'])}, {number(s['ci_high'])}], n={int(s['n'])}"
