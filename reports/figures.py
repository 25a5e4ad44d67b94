"""The report's figures, rendered headless (matplotlib's Agg backend) to PNG bytes.

Each function takes one comparable slice of a collated frame (one protocol fingerprint) and
returns a PNG: labelled axes with units, a legend where there is more than one series, and sizes
that grow with the number of bars or rows so labels do not overlap.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

sns.set_theme(style="whitegrid", context="notebook")
ACCURACY = "test accuracy (%)"
MARKERS = ["o", "s", "^", "D", "v", "P", "X"]  # coinciding points of two series stay visible
DPI = 100


def to_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def legend_png(fig, ax, title: str) -> bytes:
    """The figure as PNG with its legend right of the axes, where it never hides data points or bars."""
    ax.legend(title=title, fontsize="small", title_fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1),
              borderaxespad=0)
    return to_png(fig)


def bounded_interval(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """95% interval ends clipped to 0..100% (with two or three seeds a t-interval can leave the range
    an accuracy can take); a single seed (no interval) gives the mean itself."""
    mean = frame["mean"].to_numpy(dtype=float)
    low = np.where(np.isnan(frame["ci_low"].to_numpy(dtype=float)), mean, frame["ci_low"])
    high = np.where(np.isnan(frame["ci_high"].to_numpy(dtype=float)), mean, frame["ci_high"])
    return np.clip(low, 0, 100), np.clip(high, 0, 100)


def error_bars(frame: pd.DataFrame) -> np.ndarray:
    """Asymmetric error bars (2 x n) from :func:`bounded_interval`."""
    low, high = bounded_interval(frame)
    mean = frame["mean"].to_numpy(dtype=float)
    return np.vstack([mean - low, high - mean])


def per_class_bars(summary: pd.DataFrame, title: str) -> bytes:
    """Per-class accuracy bars, classes in index order (head to tail for ``-lt`` sets), one hue per distiller."""
    classes = int(summary["class_index"].max()) + 1
    fig, ax = plt.subplots(figsize=(min(16, max(7, 0.45 * classes * summary["distiller"].nunique())), 4.2))
    sns.barplot(summary, x="class_index", y="mean", hue="distiller", ax=ax)
    ax.set(xlabel="class index (head to tail)", ylabel=f"{ACCURACY}, mean over seeds", title=title)
    if classes > 20:
        ax.set_xticks(range(0, classes, max(1, classes // 20)))
    return legend_png(fig, ax, "distiller")


def efficiency_bars(frame: pd.DataFrame, title: str, time_label: str = "seconds per iteration (s)") -> bytes:
    """Seconds per iteration and peak memory per distiller, side by side."""
    frame = frame.sort_values("distiller")
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.45 * len(frame) + 2))
    axes[0].barh(frame["label"], frame["seconds_per_iteration"], height=0.6, color=sns.color_palette()[0])
    axes[0].set(xlabel=time_label, ylabel="distiller")
    axes[1].barh(frame["label"], frame["peak_memory_mb"], height=0.6, color=sns.color_palette()[1])
    axes[1].set(xlabel="peak memory (MB)", ylabel="")
    axes[1].tick_params(axis="y", labelleft=False)
    fig.suptitle(title)
    fig.tight_layout()
    return to_png(fig)


def image_grid(images, labels, class_names: list[str], title: str, max_classes: int = 10,
               max_per_class: int = 10) -> bytes:
    """Up to ``max_per_class`` images in [0, 1] of each of the first ``max_classes`` classes: one row
    per class, or one column per class when a class has at most two images (a compact strip)."""
    images = np.asarray(images, dtype=float)  # [N, C, H, W]
    labels = np.asarray(labels)
    classes = sorted(set(labels.tolist()))[:max_classes]
    per_class = min(max_per_class, max(int((labels == c).sum()) for c in classes))
    by_column = per_class <= 2 < len(classes)
    rows, cols = (per_class, len(classes)) if by_column else (len(classes), per_class)
    _, channels, h, w = images.shape
    pad = 2
    mosaic = np.ones(((h + pad) * rows - pad, (w + pad) * cols - pad, channels))
    for k, c in enumerate(classes):
        for j, img in enumerate(images[labels == c][:per_class]):
            r, q = (j, k) if by_column else (k, j)
            mosaic[r * (h + pad):r * (h + pad) + h, q * (w + pad):q * (w + pad) + w] = img.transpose(1, 2, 0)
    scale = 0.55 if h <= 32 else 0.9
    fig, ax = plt.subplots(figsize=(max(3.2, scale * cols + 1.4), scale * rows + 1.2))
    ax.imshow(mosaic.squeeze(-1) if channels == 1 else mosaic, cmap="gray" if channels == 1 else None,
              vmin=0, vmax=1, interpolation="nearest")
    names = [class_names[c] if c < len(class_names) else str(c) for c in classes]
    centres = [k * (h + pad) + h / 2 for k in range(len(classes))]
    ax.set_xticks(centres if by_column else [], names if by_column else [],
                  rotation=45 if by_column and max(map(len, names)) > 3 else 0)
    ax.set_yticks([] if by_column else centres, [] if by_column else names)
    ax.grid(False)
    ax.set_xlabel("class" if by_column else "")
    ax.set_ylabel("" if by_column else "class")
    ax.set_title(title, fontsize="medium")
    return to_png(fig)

