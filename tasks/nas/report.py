"""NAS ranking's summary, report section and figure.

Records read (``task`` "nas", one per (proxy set, architecture[, seed])): ``distiller`` (the proxy
set's, "random" for the random subset), ``dataset``, ``ipc``, ``arch`` (the NB201 cell string),
[``seed``], ``metric.proxy_accuracy`` (% after training on the proxy set),
``metric.ground_truth_accuracy`` (%), [``protocol_fingerprint``, ``ground_truth`` (sets scored
against different ground truths are never pooled)]. Records without both metrics (the run
summaries) are ignored; rho and tau are recomputed from per-architecture means over seeds by
:func:`harness.metrics.ranking.ranking_summary`, as the task computes them.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from harness.metrics.ranking import ranking_summary
from reports.blocks import (
    STORED_NOTE,
    Figure,
    Section,
    comparison_section,
    fmt_number,
    protocol_caption,
    slug,
    wide_table,
    with_stored_bytes,
)
from reports.collate import UNKNOWN, task_frame
from reports.figures import MARKERS, legend_png


def proxy_labels(df: pd.DataFrame) -> pd.Series:
    """A proxy set's row name: its distiller, with its own size when that differs from the table's
    IPC (the larger real subset: ``random (100/class)``)."""
    own = df["proxy_images_per_class"] if "proxy_images_per_class" in df else pd.Series(None, index=df.index)
    return pd.Series([d if pd.isna(n) or int(n) == int(ipc) else f"{d} ({int(n)}/class)"
                      for d, n, ipc in zip(df["distiller"], own, df["ipc"])], index=df.index)


def nas_points(records: pd.DataFrame) -> pd.DataFrame:
    """Per (fingerprint, ground truth, dataset, ipc, distiller, arch): proxy and ground-truth accuracy
    (means over seeds)."""
    df = task_frame(records, "nas", needs=["metric.proxy_accuracy", "metric.ground_truth_accuracy"])
    if df.empty:
        return df
    df["ground_truth"] = df["ground_truth"].fillna(UNKNOWN).astype(str) if "ground_truth" in df else UNKNOWN
    df["distiller"] = with_stored_bytes(proxy_labels(df), df)
    keys = ["protocol_fingerprint", "ground_truth", "dataset", "ipc", "distiller", "arch"]
    out = df.groupby(keys, dropna=False).agg(proxy=("metric.proxy_accuracy", "mean"),
                                             ground_truth_accuracy=("metric.ground_truth_accuracy", "mean"),
                                             seeds=("seed", "nunique"))
    return out.reset_index()


def nas_summary(points: pd.DataFrame) -> pd.DataFrame:
    """Spearman's rho, Kendall's tau, ground truth of the proxy's top-ranked architecture, best of K."""
    rows = []
    keys = ["protocol_fingerprint", "ground_truth", "dataset", "ipc", "distiller"]
    for key, g in points.groupby(keys, dropna=False):
        r = ranking_summary(dict(zip(g["arch"], g["proxy"])), dict(zip(g["arch"], g["ground_truth_accuracy"])))
        rows.append(dict(zip(keys, key)) | {"k": r["k"], "rho": r["spearman_rho"], "rho_ci": r["spearman_ci"],
                                            "tau": r["kendall_tau"], "tau_ci": r["kendall_ci"],
                                            "top1_ground_truth": r["top1_ground_truth"],
                                            "best_ground_truth": r["best_ground_truth"]})
    return pd.DataFrame(rows)



def nas_scatter(points: pd.DataFrame, summary: pd.DataFrame, title: str) -> bytes:
    """Proxy vs ground-truth accuracy per architecture; legend entries carry rho and tau."""
    fig, ax = plt.subplots(figsize=(6.5, 5))
    stats = summary.set_index("distiller")
    for (distiller, g), marker in zip(points.groupby("distiller"), MARKERS * len(points)):
        s = stats.loc[distiller]
        ax.scatter(g["ground_truth_accuracy"], g["proxy"], s=26, alpha=0.75, marker=marker,
                   label=f"{distiller} (rho {s['rho']:.2f}, tau {s['tau']:.2f}, K={int(s['k'])})")
    ax.set(xlabel="ground-truth accuracy (%)", ylabel="proxy accuracy after training on the set (%)", title=title)
    return legend_png(fig, ax, "proxy set")



def with_interval(value: float, interval) -> str:
    """``0.741 [0.631, 0.813]``: a rank correlation and its bootstrap interval over cells."""
    low, high = interval if isinstance(interval, (list, tuple)) else (float("nan"), float("nan"))
    return f"{fmt_number(value, 3)} [{fmt_number(low, 3)}, {fmt_number(high, 3)}]"


def section(records: pd.DataFrame) -> Section | None:
    points = nas_points(records)
    if points.empty:
        return None
    summary = nas_summary(points)
    s = comparison_section("nas", "Architecture search: ranking correlation",
                           "Each sampled NAS-Bench-201 architecture trained on the proxy set; Spearman's rho and Kendall's "
                           "tau between proxy accuracy and ground-truth accuracy (per-architecture means over seeds), the "
                           "ground-truth accuracy of the architecture the proxy ranks first, and the best among the K. "
                           "Intervals: 95% bootstrap over the K cells. Reading guide: 'ground truth, seed 1' is the "
                           "ground truth against a second seed of itself, the most any proxy can be trusted to agree; "
                           "'random' rows are real images under the proxy budget, at the set's size and larger.",
                           summary, records)
    s.notes.append(STORED_NOTE)
    keys = ["protocol_fingerprint", "ground_truth", "dataset", "ipc"]
    for key, part in summary.groupby(keys, sort=False):
        fp, truth, dataset, ipc = key
        where = f"{dataset}, IPC {ipc}, ground truth {truth}, {protocol_caption(fp, records)}"
        pts = points[(points[keys] == pd.Series(key, index=keys)).all(axis=1)]
        s.blocks.append(Figure(f"Proxy vs ground truth: {where}", nas_scatter(pts, part, f"{dataset}, IPC {ipc}"),
                               slug("nas", *key)))
        cols = [("K", None, lambda r: str(int(r["k"]))),
                ("Spearman rho [95% CI]", None, lambda r: with_interval(r["rho"], r["rho_ci"])),
                ("Kendall tau [95% CI]", None, lambda r: with_interval(r["tau"], r["tau_ci"])),
                ("top-1 ground truth (%)", "top1_ground_truth", lambda r: fmt_number(r["top1_ground_truth"])),
                ("best of K (%)", None, lambda r: fmt_number(r["best_ground_truth"]))]
        s.blocks.append(wide_table(f"Ranking correlation: {where}", part, "distiller", cols, lambda r: "", "proxy set"))
    return s

