"""The report's sections: collated frames (:mod:`reports.collate`) turned into tables and figures.

Each ``*_section(records, ...)`` returns a :class:`Section` or ``None`` when its records are absent.
Comparisons are split by protocol fingerprint (one table/figure per fingerprint) and the section
says why when it holds more than one (:func:`fingerprint_note`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from harness.data.core import denormalise
from harness.errors import HarnessError
from harness.synset import load_synset, read_manifest
from reports import collate as C
from reports import figures as F
from reports.artifacts import record_sha, resolve_artifacts

PM = "\u00b1"
DASH = "\u2013"


@dataclass
class Table:
    caption: str
    header: list[str]
    rows: list[list[str]]
    bold: list[list[bool]]
    wrap: bool = False  # numeric comparison tables keep cells on one line; text tables wrap


@dataclass
class Figure:
    caption: str
    png: bytes
    name: str  # file stem, unique in the report


@dataclass
class Section:
    anchor: str
    title: str
    intro: str
    notes: list[str] = field(default_factory=list)
    blocks: list[Table | Figure] = field(default_factory=list)


# ---------------------------------------------------------------- formatting

def fmt_interval(r, digits: int = 2) -> str:
    """``mean +- std [low, high], n=k`` (95% t-interval over seeds); one seed has no spread."""
    if int(r["n"]) <= 1:
        return f"{r['mean']:.{digits}f} (n=1)"
    return (f"{r['mean']:.{digits}f} {PM} {r['std']:.{digits}f} "
            f"[{r['ci_low']:.{digits}f}, {r['ci_high']:.{digits}f}], n={int(r['n'])}")


def fmt_gain(r) -> str:
    if not r.get("gain_n"):
        return DASH
    if int(r["gain_n"]) == 1:
        return f"{r['gain_mean']:+.2f} (n=1)"
    return f"{r['gain_mean']:+.2f} [{r['gain_low']:+.2f}, {r['gain_high']:+.2f}], n={int(r['gain_n'])}"


def fmt_number(x, digits: int = 2) -> str:
    return DASH if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


WRAP_AFTER = 4


def wide_table(caption: str, long: pd.DataFrame, row: str, columns: list[tuple[str, str, callable]],
               col_key, row_header: str) -> Table:
    """Pivot ``long`` (one row per (row value, column key)) into a table; best per column in bold.

    ``columns`` lists (header suffix, numeric field ranked for bold or None, formatter); every
    distinct ``col_key(r)`` gives one column per entry, left out when it has no value in any row.
    Higher is better; NaN is never bold, nor the only value of a column. A table of more than
    ``WRAP_AFTER`` value columns wraps its cells, so the last column (e.g. the final continual step)
    stays on screen instead of behind a horizontal scroll.
    """
    long = long.assign(_col=[col_key(r) for _, r in long.iterrows()])
    row_keys = sorted(dict.fromkeys(long[row]), key=lambda name: (is_baseline(name), str(name)))
    header, body = [row_header], [[(str(rk), False)] for rk in row_keys]
    for ck in dict.fromkeys(long["_col"]):
        part = long[long["_col"] == ck].set_index(row)
        for suffix, rank_field, fmt in columns:
            ranked = pd.to_numeric(part[rank_field] if rank_field else pd.Series(math.nan, part.index), errors="coerce")
            best = ranked.max() if ranked.notna().sum() > 1 else math.nan
            column = [(fmt(part.loc[rk]), bool(ranked.get(rk) == best)) if rk in part.index else (DASH, False)
                      for rk in row_keys]
            if all(text == DASH for text, _ in column):
                continue
            header.append(f"{ck}{suffix}".strip())
            for cells, cell in zip(body, column):
                cells.append(cell)
    return Table(caption, header, [[t for t, _ in cells] for cells in body], [[b for _, b in cells] for cells in body],
                 wrap=len(header) - 1 > WRAP_AFTER)


def is_baseline(name) -> bool:
    """Random-subset baselines go last in comparison tables."""
    return str(name) == C.RANDOM or str(name).endswith("-" + C.RANDOM)


def long_table(caption: str, frame: pd.DataFrame, header: list[str]) -> Table:
    rows = [[str(v) for v in r] for r in frame.itertuples(index=False)]
    return Table(caption, header, rows, [[False] * len(header) for _ in rows], wrap=True)


def protocol_caption(fp: str, records: pd.DataFrame) -> str:
    names = C.with_defaults(records).query("protocol_fingerprint == @fp")["protocol_name"].unique()
    return f"protocol {', '.join(map(str, names)) or C.UNKNOWN} (fingerprint {fp})"


def fingerprint_note(fingerprints, records: pd.DataFrame) -> list[str]:
    """Why a section is split: which protocol fields differ between its fingerprints."""
    fingerprints = list(dict.fromkeys(fingerprints))
    if len(fingerprints) < 2:
        return []
    table = C.protocol_table(records)
    diffs = C.protocol_differences(table[table["protocol_fingerprint"].isin(fingerprints)])
    detail = "; ".join(f"{protocol_caption(fp, records)}: {diffs.get(fp) or 'protocol not recorded'}"
                       for fp in fingerprints)
    return [f"These results come from {len(fingerprints)} evaluation protocols with different fingerprints. "
            f"Numbers trained and tested under different protocols are not comparable, so each protocol "
            f"gets its own table and figure and no column mixes them. Differences: {detail}."]


def extra_values(df: pd.DataFrame, key: str) -> list[str]:
    """Distinct values of ``extra[key]`` over the records that have it."""
    values = [e.get(key) for e in df.get("extra", []) if isinstance(e, dict) and e.get(key) is not None]
    return sorted(set(map(str, values)))


def few_seeds_note(summary: pd.DataFrame) -> list[str]:
    """A reminder when intervals rest on two seeds (t quantile 12.7: wide by construction)."""
    if "n" in summary and (summary["n"] == 2).any():
        return ["Some results rest on 2 seeds, where the 95% t-interval is mean " + PM + " 12.7 x std / sqrt(2): "
                "wide by construction (it can leave 0-100%; figures clip it). Run more seeds for tight intervals."]
    return []


def slug(*parts) -> str:
    text = "-".join(str(p) for p in parts)
    return "".join(ch if ch.isalnum() else "-" for ch in text).strip("-").lower()


ACC_COLUMNS = [(": accuracy (%)", "mean", fmt_interval), (": gain over random (pp)", "gain_mean", fmt_gain)]
NO_RANDOM = ("no same-size random subset was evaluated under the same protocol, architecture and seeds, so no "
             "gain over random is shown (evaluate the `random` distiller at the same IPC to add it).")


def accuracy_columns(summary: pd.DataFrame, notes: list[str], where: str) -> list:
    """Accuracy and gain columns; the gain is left out (with a note) when no cell has a random partner."""
    if summary["gain_n"].fillna(0).astype(int).sum() > 0:
        return ACC_COLUMNS
    if (summary["distiller"] != C.RANDOM).any():
        notes.append(f"{where}: {NO_RANDOM}")
    return ACC_COLUMNS[:1]


# ---------------------------------------------------------------- sections

def overview_section(records: pd.DataFrame) -> Section | None:
    summary = C.accuracy_summary(records)
    if summary.empty:
        return None
    s = Section("overview", "Overview: accuracy by distiller, dataset and IPC",
                "Test accuracy (%) of models trained from scratch on each synthetic set, tested once after "
                "the final epoch: mean " + PM + " std [95% t-interval] over evaluation seeds. The gain is "
                "the paired (same seed) difference to the same-size random real subset in percentage "
                "points, with its 95% interval. Best per column in bold.")
    s.notes = fingerprint_note(summary["protocol_fingerprint"], records) + few_seeds_note(summary)
    for fp, part in summary.groupby("protocol_fingerprint", sort=False):
        caption = protocol_caption(fp, records)
        s.blocks.append(wide_table(caption, part, "distiller", accuracy_columns(part, s.notes, caption),
                                   lambda r: f"{r['dataset_label']} IPC {r['ipc']} {r['arch']}", "distiller"))
    return s


def transfer_section(records: pd.DataFrame) -> Section | None:
    summary = C.accuracy_summary(records, tasks=("transfer",))
    if summary.empty:
        return None
    s = Section("transfer", "Cross-architecture transfer",
                "Each synthetic set trained on every architecture under one protocol; heatmap of mean test "
                "accuracy (%), table with intervals and the paired gain over the same-size random subset.")
    s.notes = fingerprint_note(summary["protocol_fingerprint"], records) + few_seeds_note(summary)
    for (fp, label, ipc), part in summary.groupby(["protocol_fingerprint", "dataset_label", "ipc"], sort=False):
        where = f"{label}, IPC {ipc}, {protocol_caption(fp, records)}"
        s.blocks.append(Figure(f"Transfer heatmap: {where}",
                               F.transfer_heatmap(part, f"{label}, IPC {ipc}"), slug("transfer", fp, label, ipc)))
        s.blocks.append(wide_table(f"Transfer: {where}", part, "distiller", accuracy_columns(part, s.notes, where),
                                   lambda r: r["arch"],
                                   "distiller"))
    return s


def continual_section(records: pd.DataFrame) -> Section | None:
    summary = C.continual_summary(records)
    if summary.empty:
        return None
    s = Section("continual", "Continual learning",
                "Class-incremental learning with a GDumb learner trained only on its memory: test accuracy "
                "(%) on the classes seen so far after each step, mean over seeds with 95% interval bands.")
    s.notes = fingerprint_note(summary["protocol_fingerprint"], records) + few_seeds_note(summary)
    for (fp, dataset, ipc, steps, arch), part in summary.groupby(
            ["protocol_fingerprint", "dataset", "ipc", "steps", "arch"], sort=False):
        setting = f"{dataset}, {f'{steps} steps, ' if steps else ''}{ipc:g} images per class, {arch}"
        where = f"{setting}, {protocol_caption(fp, records)}"
        s.blocks.append(Figure(f"Accuracy vs step: {where}", F.continual_curves(part, setting),
                               slug("continual", fp, dataset, ipc, steps, arch)))
        s.blocks.append(wide_table(f"Accuracy on seen classes (%): {where}", part, "memory",
                                   [("", "mean", fmt_interval)], lambda r: f"step {int(r['step'])}", "memory"))
    return s


def nas_section(records: pd.DataFrame) -> Section | None:
    points = C.nas_points(records)
    if points.empty:
        return None
    summary = C.nas_summary(points)
    s = Section("nas", "Architecture search: ranking correlation",
                "Each sampled NAS-Bench-201 architecture trained on the proxy set; Spearman's rho and Kendall's "
                "tau between proxy accuracy and ground-truth accuracy (per-architecture means over seeds), the "
                "ground-truth accuracy of the architecture the proxy ranks first, and the best among the K.")
    s.notes = fingerprint_note(summary["protocol_fingerprint"], records) + few_seeds_note(summary)
    keys = ["protocol_fingerprint", "ground_truth", "dataset", "ipc"]
    for key, part in summary.groupby(keys, sort=False):
        fp, truth, dataset, ipc = key
        where = f"{dataset}, IPC {ipc}, ground truth {truth}, {protocol_caption(fp, records)}"
        pts = points[(points[keys] == pd.Series(key, index=keys)).all(axis=1)]
        s.blocks.append(Figure(f"Proxy vs ground truth: {where}", F.nas_scatter(pts, part, f"{dataset}, IPC {ipc}"),
                               slug("nas", *key)))
        cols = [("K", None, lambda r: str(int(r["k"]))), ("Spearman rho", "rho", lambda r: fmt_number(r["rho"], 3)),
                ("Kendall tau", "tau", lambda r: fmt_number(r["tau"], 3)),
                ("top-1 ground truth (%)", "top1_ground_truth", lambda r: fmt_number(r["top1_ground_truth"])),
                ("best of K (%)", None, lambda r: fmt_number(r["best_ground_truth"]))]
        s.blocks.append(wide_table(f"Ranking correlation: {where}", part, "distiller", cols, lambda r: "", "proxy set"))
    return s


def debias_section(records: pd.DataFrame) -> Section | None:
    df = C.debias_frame(records)
    if df.empty:
        return None
    summary, groups = C.debias_summary(df), C.debias_groups(df)
    s = Section("debias", "De-biased condensation",
                "Average accuracy (every image of the split once) and worst-group accuracy over (label, "
                "attribute) groups, in %, mean " + PM + " std [95% interval] over seeds; then per group. "
                "Validation-split tables are the runs that chose settings; test tables are the results.")
    s.notes = fingerprint_note(summary["protocol_fingerprint"], records) + few_seeds_note(summary)
    for dataset, g in df.groupby("dataset"):
        if sources := extra_values(g, "dataset_source"):
            s.notes.append(f"Data source of {dataset}: {'; '.join(sources)}.")
    table_keys = [k for k in C.DEBIAS_KEYS if k != "method"]
    for (fp, dataset, split, ipc, arch), part in summary.groupby(table_keys, sort=False):
        where = f"{dataset}, {split} split, IPC {ipc}, {arch}, {protocol_caption(fp, records)}"
        s.blocks.append(Figure(f"Average and worst-group accuracy: {where}",
                               F.debias_bars(part, f"{dataset} ({split}), IPC {ipc}, {arch}"),
                               slug("debias", fp, dataset, split, ipc, arch)))
        s.blocks.append(wide_table(f"Average and worst-group accuracy (%): {where}", part, "method",
                                   [("", "mean", fmt_interval)], lambda r: r["measure"], "method"))
        if not groups.empty:
            g = groups.merge(part[table_keys].drop_duplicates())  # this table's rows only
            if not g.empty:
                s.blocks.append(wide_table(f"Per-group accuracy (%): {where}", g, "method",
                                           [("", "mean", fmt_interval)], lambda r: r["group"], "method"))
    return s


def long_tailed_section(records: pd.DataFrame) -> Section | None:
    df = C.long_tailed_frame(records)
    if df.empty:
        return None
    per_class, shots = C.per_class_summary(df), C.shot_group_summary(df)
    s = Section("long-tailed", "Long-tailed recognition",
                "Sets distilled from a long-tailed training split, tested on the balanced test split: per-class "
                "test accuracy (%, mean over seeds; classes from head to tail) and many/medium/few-shot groups.")
    s.notes = fingerprint_note(df["protocol_fingerprint"], records)
    keys = ["protocol_fingerprint", "dataset", "imbalance", "ipc", "arch"]
    for key, part in per_class.groupby(keys, sort=False):
        fp, dataset, imbalance, ipc, arch = key
        label = C.dataset_label(dataset, imbalance)
        where = f"{label}, IPC {ipc}, {arch}, {protocol_caption(fp, records)}"
        s.blocks.append(Figure(f"Per-class accuracy: {where}", F.per_class_bars(part, f"{label}, IPC {ipc}, {arch}"),
                               slug("long-tailed", *key)))
        if not shots.empty:
            sg = shots[(shots[keys] == pd.Series(key, index=keys)).all(axis=1)]
            if not sg.empty:
                s.blocks.append(wide_table(f"Many/medium/few-shot accuracy (%): {where}", sg, "distiller",
                                           [("", "mean", fmt_interval)], lambda r: f"{r['group']}-shot", "distiller"))
    if rules := extra_values(df, "shot_grouping"):
        s.notes.append(f"Shot groups by training-set class size, rule used: {', '.join(rules)} (bins: many > 100, "
                       f"medium 20-100, few < 20 images; terciles of class size when a bin is empty).")
    if shots.empty:
        s.notes.append("No many/medium/few-shot accuracies were recorded (metric.many_shot_accuracy, "
                       "medium_shot_accuracy, few_shot_accuracy), so only per-class accuracy is shown.")
    return s


def efficiency_section(records: pd.DataFrame, manifests: list[dict]) -> Section | None:
    bench, costs = C.bench_summary(records), C.distillation_costs(manifests)
    if bench.empty and costs.empty:
        return None
    s = Section("efficiency", "Efficiency",
                "Seconds per distillation iteration and peak memory per distiller (on CPU, peak memory is "
                "the process's maximum resident set size; on CUDA, the allocator's peak).")
    if not bench.empty:
        bench = bench.assign(label=[f"{d} ({ds}, IPC {i}, {dev})" for d, ds, i, dev in
                                    zip(bench["distiller"], bench["dataset"], bench["ipc"], bench["device"])])
        s.blocks.append(Figure("Benchmarked cost per distiller", F.efficiency_bars(bench, "benchmark runs"),
                               "efficiency-bench"))
        s.blocks.append(long_table("Benchmark (python -m harness.bench)", bench.assign(
            seconds_per_iteration=bench["seconds_per_iteration"].map(lambda v: fmt_number(v, 4)),
            peak_memory_mb=bench["peak_memory_mb"].map(lambda v: fmt_number(v, 0)))[
            ["distiller", "dataset", "ipc", "device", "seconds_per_iteration", "peak_memory_mb", "runs"]],
            ["distiller", "dataset", "IPC", "device", "seconds per iteration (s)", "peak memory (MB)", "runs"]))
    if not costs.empty:
        costs = costs.sort_values(["dataset", "ipc", "distiller"])
        costs = costs.assign(label=[f"{d} ({ds}, IPC {i})" for d, ds, i in zip(costs["distiller"], costs["dataset"], costs["ipc"])])
        timed = costs.dropna(subset=["seconds_per_iteration"])
        if not timed.empty:
            s.blocks.append(Figure("Distillation cost per distiller, from the artifact manifests",
                                   F.efficiency_bars(timed, "distillation runs of the evaluated sets",
                                                     "wall time / iterations (s, incl. set-up)"),
                                   "efficiency-distill"))
        s.blocks.append(long_table("Distillation runs of the evaluated sets (from their manifests)", costs.assign(
            iterations=costs["iterations"].map(lambda v: DASH if v is None or pd.isna(v) else str(int(v))),
            wall_seconds=costs["wall_seconds"].map(lambda v: fmt_number(v, 3)),
            seconds_per_iteration=costs["seconds_per_iteration"].map(lambda v: fmt_number(v, 4)),
            peak_memory_mb=costs["peak_memory_mb"].map(lambda v: fmt_number(v, 0)))[
            ["distiller", "dataset", "ipc", "device", "iterations", "wall_seconds", "seconds_per_iteration",
             "peak_memory_mb"]],
            ["distiller", "dataset", "IPC", "device", "iterations", "wall time (s)",
             "wall time / iterations (s, incl. set-up)", "peak memory (MB)"]))
        if timed.empty:
            s.notes.append("The distillers shown run no iterations (selection methods), so only wall time is given.")
    return s


def image_section(records: pd.DataFrame, artifacts: dict[str, Path]) -> Section | None:
    """One grid per (distiller, dataset, IPC): the first evaluated artifact found."""
    if records.empty or not artifacts:
        return None
    s = Section("images", "Synthetic images",
                "The first images of each class in each distilled set (one row per class, or one column per class "
                "when a set has one or two images per class), mapped back to pixel space.")
    grids: dict[tuple, Figure] = {}
    for sha, path in sorted(artifacts.items(), key=lambda item: str(item[1])):
        try:
            synset = load_synset(path)
        except HarnessError as exc:
            s.notes.append(f"Skipped {path}: {exc}")
            continue
        key = (synset.meta.get("distiller", C.UNKNOWN), synset.info.name, synset.info.imbalance, synset.ipc)
        if key in grids:
            continue
        order = synset.labels.argsort(stable=True)
        images = denormalise(synset.images[order], synset.info).numpy()
        label = C.dataset_label(synset.info.name, synset.info.imbalance)
        title = f"{key[0]}, {label}, IPC {synset.ipc}"
        more = " (first 10 classes)" if synset.info.num_classes > 10 else ""
        grids[key] = Figure(f"{title}{more}, artifact {path.name} (sha256 {sha[:12]})",
                            F.image_grid(images, synset.labels[order].numpy(), list(synset.info.class_names), title),
                            slug("images", *key))
    # by dataset and IPC, distilled sets before their random baseline
    s.blocks = [grids[k] for k in sorted(grids, key=lambda k: (k[1], k[2], k[3], is_baseline(k[0]), k[0]))]
    named = {sha for sha in (record_sha(r) for _, r in records.iterrows()) if sha}
    if named - set(artifacts):
        s.notes.append(f"{len(named - set(artifacts))} synthetic set(s) named by records were not found "
                       f"(no artifact with that sha256 under the search folders).")
    return s if s.blocks or s.notes else None


def provenance_section(records: pd.DataFrame, artifacts: dict[str, Path]) -> Section:
    protocols = C.protocol_table(records)
    diffs = C.protocol_differences(protocols)
    s = Section("provenance", "Provenance",
                "Where every number comes from: evaluation protocols by fingerprint (a fingerprint is the "
                "sha256 of the protocol's fields; equal fingerprints mean identical training and testing), "
                "code versions, git commits and recording dates.")
    proto_rows = protocols.assign(
        summary=[_protocol_summary(p) for p in protocols["protocol"]],
        differs=[diffs.get(fp) or DASH for fp in protocols["protocol_fingerprint"]])
    s.blocks.append(long_table("Evaluation protocols", proto_rows[
        ["protocol_fingerprint", "protocol_name", "tasks", "records", "summary", "differs"]],
        ["fingerprint", "protocol", "tasks", "records", "settings", "differs from the others in"]))
    env = C.environment_table(records)
    s.blocks.append(long_table("Code and environment", env[["git_commit", "versions_text", "tasks", "records", "first",
                                                             "last"]],
                               ["git commit", "versions", "tasks", "records", "first recorded", "last recorded"]))
    if artifacts:
        s.blocks.append(long_table("Synthetic-set artifacts", pd.DataFrame(
            [(sha[:16], str(path)) for sha, path in artifacts.items()]), ["sha256 (prefix)", "path"]))
    if any(str(c).endswith("+dirty") for c in env["git_commit"]):
        s.notes.append("Commits marked +dirty had uncommitted changes when the records were written.")
    return s


def _protocol_summary(p: dict) -> str:
    if not isinstance(p, dict) or not p:
        return "no evaluation protocol recorded (e.g. benchmarks)"
    aug = p.get("augmentation")
    parts = [f"{k} {p[k]}" for k in ("epochs", "optimizer", "lr", "batch_size", "label_type", "reported_epoch") if k in p]
    return ", ".join(parts + [f"augmentation {'DSA' if aug else 'none'}"])


def build_sections(records: pd.DataFrame, synset_roots: list[Path]) -> list[Section]:
    """Every section whose records exist, in reading order; provenance last."""
    if records.empty:
        return []
    artifacts = resolve_artifacts(records, synset_roots)
    manifests = [read_manifest(p) for p in artifacts.values()]
    records = C.label_distiller_configs(records, dict(zip(artifacts, manifests)))
    sections = [overview_section(records), image_section(records, artifacts), transfer_section(records),
                continual_section(records), nas_section(records), debias_section(records),
                long_tailed_section(records), efficiency_section(records, manifests),
                provenance_section(records, artifacts)]
    return [s for s in sections if s is not None]
