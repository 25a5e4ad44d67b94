"""Transfer's summary, console table, report section and figure.

Records read (``task`` "transfer"): ``distiller``, ``dataset``, [``imbalance``], ``ipc``, ``arch``,
``seed``, ``protocol_name``, ``protocol_fingerprint``, ``metric.accuracy`` (%). The random-subset
baseline is a row with ``distiller`` "random" and the same cell otherwise; the gain over it is
paired by seed (:func:`reports.collate.accuracy_summary`, the one computation the console table
and the report share). Reference rows (task ``transfer-reference``, :mod:`tasks.transfer.references`)
get their own table per dataset, never pooled with the sets or their gains.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from reports import collate as C
from reports.blocks import (
    STORED_NOTE,
    Figure,
    Section,
    Table,
    accuracy_columns,
    comparison_section,
    fmt_bytes,
    fmt_interval,
    protocol_caption,
    slug,
    wide_table,
)
from reports.figures import ACCURACY, to_png
from tasks.transfer.references import KINDS, REFERENCE_TASK

TASKS = ("transfer",)
CONTROLS = {"random": "random real images, the stored count (IPC per class)",
            "random-packed": "random real images at equal storage, rho^2 downsized into each stored image and "
                             "decoded like a multi-formation set",
            "random-decoded": "random full-size real images at the multi-formation set's decoded count "
                              "(rho^2 x IPC per class)"}


def transfer_heatmap(summary: pd.DataFrame, title: str) -> bytes:
    """Distiller x architecture heatmap of mean test accuracy."""
    grid = summary.pivot_table(index="distiller", columns="arch", values="mean")
    fig, ax = plt.subplots(figsize=(1.3 * grid.shape[1] + 3, 0.55 * grid.shape[0] + 1.8))
    sns.heatmap(grid, annot=True, fmt=".1f", cmap="viridis", ax=ax, linewidths=0.5,
                cbar_kws={"label": f"mean {ACCURACY}"})
    ax.set(xlabel="evaluation architecture", ylabel="distiller", title=title)
    ax.tick_params(axis="x", rotation=30)
    ax.tick_params(axis="y", rotation=0)
    return to_png(fig)


def with_training_count(r) -> str:
    """A set's row label, with the bytes a user stores to use it (``harness.synset.stored_bytes``:
    a soft-labelled set costs more than a hard-labelled one of the same IPC) and the images per class
    a model trains on where that is not the IPC (a multi-formation set and its equal-budget controls:
    ``ncfm (trains on 40/class; 31.4 kB stored)``)."""
    n, stored = r.get("images_per_class"), r.get("stored_bytes")
    parts = ([f"trains on {int(n)}/class"] if pd.notna(n) and n != r["ipc"] else []) + (
        [f"{fmt_bytes(stored)} stored"] if pd.notna(stored) else [])
    return f"{r['distiller']} ({'; '.join(parts)})" if parts else r["distiller"]


def reference_label(r) -> str:
    """What a reference row trained on, and under which protocol."""
    if r["distiller"] == C.RANDOM:
        return f"real: random {r['ipc']}/class ({r['protocol_name']})"
    return f"real: full training split ({r['protocol_name']})"


def reference_tables(records: pd.DataFrame) -> list[Table]:
    """One table per dataset: each reference row's accuracy per architecture."""
    summary = C.accuracy_summary(records, tasks=(REFERENCE_TASK,))
    if summary.empty:
        return []
    summary = summary.assign(row=[reference_label(r) for _, r in summary.iterrows()])
    return [wide_table(f"Reference rows, real {label} data: what each architecture reaches", part, "row",
                       [(": accuracy (%)", "mean", fmt_interval)], lambda r: r["arch"], "real data")
            for label, part in summary.groupby("dataset_label", sort=False)]


def section(records: pd.DataFrame) -> Section | None:
    summary = C.accuracy_summary(records, tasks=TASKS)
    references = reference_tables(records)
    if summary.empty:
        return Section("transfer", "Cross-architecture transfer", "Reference rows only.", blocks=references) \
            if references else None
    s = comparison_section("transfer", "Cross-architecture transfer",
                           "Each synthetic set trained on every architecture under one protocol; heatmap of mean test "
                           "accuracy (%), table with intervals and the paired gain over the same-size random subset.",
                           summary, records)
    present = [k for k in CONTROLS if (summary["distiller"] == k).any()]
    if present:
        s.notes.append("Controls at equal budget: " + "; ".join(f"{k}: {CONTROLS[k]}" for k in present) + ".")
    s.notes.append(STORED_NOTE)
    summary = summary.assign(distiller=[with_training_count(r) for _, r in summary.iterrows()])
    for (fp, label, ipc), part in summary.groupby(["protocol_fingerprint", "dataset_label", "ipc"], sort=False):
        where = f"{label}, IPC {ipc}, {protocol_caption(fp, records)}"
        s.blocks.append(Figure(f"Transfer heatmap: {where}",
                               transfer_heatmap(part, f"{label}, IPC {ipc}"), slug("transfer", fp, label, ipc)))
        s.blocks.append(wide_table(f"Transfer: {where}", part, "distiller", accuracy_columns(part, s.notes, where),
                                   lambda r: r["arch"],
                                   "distiller"))
    if references:
        s.notes.append("Reference rows (own table, not distilled sets): " + "; ".join(
            f"{k}: {v}" for k, v in KINDS.items()) + ".")
        s.blocks += references
    return s

