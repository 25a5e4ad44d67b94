"""Continual learning's summary, report section and figure.

Records read (``task`` "continual"): ``memory`` [falls back to ``distiller``], ``dataset``,
``memory_per_class`` [or ``ipc``] (stored memory images per class, the same for every memory),
[``metric.memory_decoded_per_class``] (training images per class the memory decodes to), [``steps``] (experiences in the
stream), ``step`` (the experience just learnt: 1..steps), ``seed``, ``metric.accuracy`` (% on the
test data of all classes seen so far), [``protocol_fingerprint``]. The command prints this
section's tables; the report adds the accuracy-vs-step curves.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from harness.data.core import registered_info
from reports.blocks import (
    Figure,
    Section,
    comparison_section,
    fmt_bytes,
    fmt_interval,
    protocol_caption,
    slug,
    wide_table,
)
from reports.collate import summarise_seeds, task_frame
from reports.figures import ACCURACY, bounded_interval, legend_png


def stored_bytes(records: pd.DataFrame, fp: str, dataset: str, ipc: float) -> str:
    """`` (7.9 kB/class stored)``: the bytes per seen class the memories of one table store (float32
    images, int64 labels), beside the stored count; empty for records made before they were counted."""
    if "metric.memory_stored_bytes_per_class" not in records:
        return ""
    mine = records[(records["task"] == "continual") & (records["protocol_fingerprint"] == fp)
                   & (records["dataset"] == dataset) & (records["memory_per_class"] == ipc)]
    values = sorted(set(mine["metric.memory_stored_bytes_per_class"].dropna()))
    return f" ({', '.join(fmt_bytes(v) for v in values)}/class stored)" if values else ""


def continual_summary(records: pd.DataFrame) -> pd.DataFrame:
    """Per (fingerprint, dataset, ipc, steps, arch, memory, step): accuracy on seen classes over seeds
    (``steps`` 0 when not recorded)."""
    df = task_frame(records, "continual", needs=["metric.accuracy", "step"])
    if df.empty:
        return df
    df["memory"] = df["memory"].fillna(df["distiller"]) if "memory" in df else df["distiller"]
    if "memory_per_class" in df:
        df["ipc"] = df["memory_per_class"].fillna(df["ipc"])
    df["steps"] = df["steps"].fillna(0).astype(int) if "steps" in df else 0
    if "metric.memory_decoded_per_class" in df:  # a memory that decodes more than it stores says so
        decoded = df["metric.memory_decoded_per_class"]
        more = decoded.notna() & (decoded > df["ipc"])
        df.loc[more, "memory"] = [f"{m} (decodes {int(d)}/class)" for m, d in zip(df.loc[more, "memory"], decoded[more])]
    keys = ["protocol_fingerprint", "dataset", "ipc", "steps", "arch", "memory", "step"]
    return pd.DataFrame(summarise_seeds(df, keys, "metric.accuracy")).sort_values(keys, ignore_index=True)



def continual_curves(summary: pd.DataFrame, title: str) -> bytes:
    """Accuracy on the classes seen so far vs step, one line per memory, 95% interval bands."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for (memory, g), colour in zip(summary.groupby("memory"), sns.color_palette(n_colors=summary["memory"].nunique())):
        g = g.sort_values("step")
        steps = g["step"].to_numpy(dtype=float)
        ax.plot(steps, g["mean"], marker="o", color=colour, label=str(memory))
        if g["n"].max() > 1:
            ax.fill_between(steps, *bounded_interval(g), color=colour, alpha=0.15, linewidth=0)
    ax.set(xlabel="step (experiences learnt so far)", ylabel=f"{ACCURACY} on seen classes", title=title,
           ylim=(0, 101))
    ax.set_xticks(sorted(summary["step"].astype(int).unique()))
    return legend_png(fig, ax, "memory (band: 95% interval,\nclipped to 0-100%)")



def section(records: pd.DataFrame) -> Section | None:
    summary = continual_summary(records)
    if summary.empty:
        return None
    s = comparison_section("continual", "Continual learning",
                           "Class-incremental learning with a GDumb learner trained only on its memory: test accuracy "
                           "(%) on the classes seen so far after each step, mean over seeds with 95% interval bands; a "
                           "seed draws everything anew (class order, memory, model), so an interval covers all three. "
                           "Every memory stores the same number of images per class (equal storage, as the "
                           "multi-formation papers count it); a multi-formation set decodes each stored image into "
                           "rho^2 training images (said beside its name), and random-packed (random real images "
                           "through the same decoder) and random-decoded (as many real images as it decodes) are "
                           "its equal-budget controls. A memory builder with pretrained networks has them trained "
                           "on the classes seen so far (records: pretrain_classes).",
                           summary, records)
    for (fp, dataset, ipc, steps, arch), part in summary.groupby(
            ["protocol_fingerprint", "dataset", "ipc", "steps", "arch"], sort=False):
        stored = stored_bytes(records, fp, dataset, ipc)
        setting = f"{dataset}, {f'{steps} steps, ' if steps else ''}{ipc:g} stored images per class{stored}, {arch}"
        where = f"{setting}, {protocol_caption(fp, records)}"
        s.blocks.append(Figure(f"Accuracy vs step: {where}", continual_curves(part, setting),
                               slug("continual", fp, dataset, ipc, steps, arch)))
        info = registered_info(dataset)
        per_step = info.num_classes // steps if info and steps else 0
        s.blocks.append(wide_table(f"Accuracy on seen classes (%): {where}", part, "memory",
                                   [("", "mean", fmt_interval)],
                                   lambda r: f"step {int(r['step'])}" + (f" ({int(r['step']) * per_step} classes)"
                                                                        if per_step else ""), "memory"))
    return s

