"""De-biasing's summary, report section and figure.

Records read (``task`` "debias"): ``method`` [falls back to ``distiller``], ``dataset``, ``ipc``,
``seed``, ``metric.accuracy``, ``metric.worst_group_accuracy``, ``metric.group_accuracy`` ({group
name: %}), [``protocol_fingerprint``, ``split`` (default "test"; "val" rows, the runs that choose
settings, are summarised apart), ``distiller_config`` (a method run with different settings is one
row per setting, named by the settings that differ)]. The command prints this section's tables;
the report adds the bar chart.
"""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from reports.blocks import (
    PM,
    STORED_NOTE,
    Figure,
    Section,
    comparison_section,
    extra_values,
    fmt_interval,
    protocol_caption,
    slug,
    wide_table,
    with_stored_bytes,
)
from reports.collate import seed_means, summarise_seeds, task_frame
from reports.figures import ACCURACY, error_bars, legend_png

DEBIAS_KEYS = ["protocol_fingerprint", "dataset", "split", "ipc", "arch", "method"]
MEASURES = (("average", "metric.accuracy"), ("worst group", "metric.worst_group_accuracy"))


def settings_labels(names: pd.Series, configs: pd.Series) -> pd.Series:
    """``name`` where every record of that name ran one config, else ``name (k=v, ...)`` with the
    config fields that differ between its records, so runs with other settings are never pooled
    (applied per table: a setting varied only on the validation split leaves the test names plain)."""
    labels = names.astype(str)
    for name, idx in names.groupby(names).groups.items():
        dicts = [c if isinstance(c, dict) else {} for c in configs.loc[idx]]
        varying = sorted(k for k in set().union(*dicts) if len({json.dumps(d.get(k)) for d in dicts}) > 1)
        if varying:
            labels.loc[idx] = [f"{name} ({', '.join(f'{k}={d.get(k)}' for k in varying)})" for d in dicts]
    return labels


def debias_frame(records: pd.DataFrame) -> pd.DataFrame:
    df = task_frame(records, "debias", needs=["metric.accuracy", "metric.worst_group_accuracy"])
    if not df.empty:
        method = df["method"].fillna(df["distiller"]) if "method" in df else df["distiller"]
        df["split"] = df["split"].fillna("test") if "split" in df else "test"
        configs = df["distiller_config"] if "distiller_config" in df else pd.Series(None, index=df.index)
        tables = df.groupby([k for k in DEBIAS_KEYS if k != "method"], dropna=False).groups.values()
        df["method"] = with_stored_bytes(pd.concat([settings_labels(method.loc[idx], configs.loc[idx])
                                                    for idx in tables]).loc[df.index], df)
    return df


def debias_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Long form per (fingerprint, dataset, split, ipc, arch, method, measure): measure is "average",
    "worst group"; mean, std, t-interval, and the median with the quartiles (``q1``, ``q3``) over seeds."""
    frames = []
    for measure, col in MEASURES:
        quartiles = seed_means(df, DEBIAS_KEYS, col).groupby(level=list(range(len(DEBIAS_KEYS))), dropna=False).agg(
            median="median", q1=lambda s: s.quantile(0.25), q3=lambda s: s.quantile(0.75)).reset_index()
        rows = pd.DataFrame(summarise_seeds(df, DEBIAS_KEYS, col, measure=measure))
        frames.append(rows.merge(quartiles, on=DEBIAS_KEYS, how="left"))
    return pd.concat(frames).sort_values([*DEBIAS_KEYS, "measure"], ignore_index=True)


def fmt_median(r) -> str:
    """``median [q1, q3]`` over seeds (quartiles by linear interpolation)."""
    return f"{r['median']:.2f} [{r['q1']:.2f}, {r['q3']:.2f}]"


def debias_per_seed(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (table keys, method, seed): worst-group and average accuracy of that seed."""
    worst = seed_means(df, DEBIAS_KEYS, "metric.worst_group_accuracy").rename("worst")
    average = seed_means(df, DEBIAS_KEYS, "metric.accuracy").rename("average")
    return pd.concat([worst, average], axis=1).reset_index()


def debias_groups(df: pd.DataFrame) -> pd.DataFrame:
    """Long form per (fingerprint, dataset, split, ipc, arch, method, group): per-group accuracy over seeds."""
    if "metric.group_accuracy" not in df:
        return pd.DataFrame()
    keys = [*DEBIAS_KEYS, "group"]
    rows = [{**{k: getattr(r, k) for k in keys[:-1]}, "seed": r.seed, "group": g, "accuracy": float(a)}
            for r, groups in zip(df.itertuples(), df["metric.group_accuracy"]) if isinstance(groups, dict)
            for g, a in groups.items()]
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(summarise_seeds(pd.DataFrame(rows), keys, "accuracy"))



def debias_bars(summary: pd.DataFrame, title: str) -> bytes:
    """Average and worst-group accuracy per method, 95% interval error bars."""
    methods = list(dict.fromkeys(summary["method"]))
    measures = ["average", "worst group"]
    width = 0.38
    fig, ax = plt.subplots(figsize=(max(5.5, 1.3 * len(methods) + 2), 4.2))
    x = np.arange(len(methods))
    for i, measure in enumerate(measures):
        part = summary[summary["measure"] == measure].set_index("method").reindex(methods)
        ax.bar(x + (i - 0.5) * width, part["mean"], width, yerr=error_bars(part), capsize=3, label=measure)
    ax.set_xticks(x, methods, rotation=20, ha="right")
    ax.set(xlabel="method", ylabel=ACCURACY, title=title, ylim=(0, 101))
    return legend_png(fig, ax, "accuracy (bar: 95% interval,\nclipped to 0-100%)")



def section(records: pd.DataFrame) -> Section | None:
    df = debias_frame(records)
    if df.empty:
        return None
    summary, groups, per_seed = debias_summary(df), debias_groups(df), debias_per_seed(df)
    s = comparison_section("debias", "De-biased condensation",
                           "Average accuracy (every image of the split once) and worst-group accuracy over (label, "
                           "attribute) groups, in %, mean " + PM + " std [95% interval] over seeds and the median [interquartile "
                           "range]; then each seed (a distilled set and its model), then per group. "
                           "Validation-split tables are the runs that chose settings; test tables are the results.",
                           summary, records)
    s.notes.append(STORED_NOTE)
    for dataset, g in df.groupby("dataset"):
        if sources := extra_values(g, "dataset_source"):
            s.notes.append(f"Data source of {dataset}: {'; '.join(sources)}.")
    table_keys = [k for k in DEBIAS_KEYS if k != "method"]
    for (fp, dataset, split, ipc, arch), part in summary.groupby(table_keys, sort=False):
        where = f"{dataset}, {split} split, IPC {ipc}, {arch}, {protocol_caption(fp, records)}"
        s.blocks.append(Figure(f"Average and worst-group accuracy: {where}",
                               debias_bars(part, f"{dataset} ({split}), IPC {ipc}, {arch}"),
                               slug("debias", fp, dataset, split, ipc, arch)))
        s.blocks.append(wide_table(f"Average and worst-group accuracy (%): {where}", part, "method",
                                   [("", "mean", fmt_interval), (": median [IQR]", None, fmt_median)],
                                   lambda r: r["measure"], "method"))
        seeds = per_seed.merge(part[table_keys].drop_duplicates())
        s.blocks.append(wide_table(f"Worst-group accuracy (average in brackets) per seed (%): {where}", seeds,
                                   "method", [("", None, lambda r: f"{r['worst']:.2f} ({r['average']:.2f})")],
                                   lambda r: f"seed {r['seed']}", "method"))
        if not groups.empty:
            g = groups.merge(part[table_keys].drop_duplicates())  # this table's rows only
            if not g.empty:
                s.blocks.append(wide_table(f"Per-group accuracy (%): {where}", g, "method",
                                           [("", "mean", fmt_interval)], lambda r: r["group"], "method"))
    return s

