"""The report's generic sections (overview, images, long-tailed, efficiency, provenance): collated
frames (:mod:`reports.collate`) turned into tables and figures; each task brings its own section
(``tasks/<task>/report.py``).

Each ``*_section(records, ...)`` returns a :class:`Section` or ``None`` when its records are absent.
Comparisons are split by protocol fingerprint (one table/figure per fingerprint) and the section
says why when it holds more than one (:func:`fingerprint_note`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.data.core import denormalise
from harness.errors import HarnessError
from harness.synset import load_synset, read_manifest
from reports import collate as C
from reports import figures as F
from reports.artifacts import record_sha, resolve_artifacts
from reports.blocks import (
    DASH,
    PM,
    Figure,
    Section,
    accuracy_columns,
    comparison_section,
    extra_values,
    fingerprint_note,
    fmt_interval,
    fmt_number,
    is_baseline,
    long_table,
    protocol_caption,
    slug,
    wide_table,
)

# ---------------------------------------------------------------- sections

def overview_section(records: pd.DataFrame) -> Section | None:
    summary = C.accuracy_summary(records)
    if summary.empty:
        return None
    s = comparison_section("overview", "Overview: accuracy by distiller, dataset and IPC",
                           "Test accuracy (%) of models trained from scratch on each synthetic set, tested once after "
                           "the final epoch: mean " + PM + " std [95% t-interval] over evaluation seeds. The gain is "
                           "the paired (same seed) difference to the same-size random real subset in percentage "
                           "points, with its 95% interval.",
                           summary, records)
    for fp, part in summary.groupby("protocol_fingerprint", sort=False):
        caption = protocol_caption(fp, records)
        s.blocks.append(wide_table(caption, part, "distiller", accuracy_columns(part, s.notes, caption),
                                   lambda r: f"{r['dataset_label']} IPC {r['ipc']} {r['arch']}", "distiller"))
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


def provenance_section(records: pd.DataFrame, artifacts: dict[str, Path], manifests: dict[str, dict] | None = None
                       ) -> Section:
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
    recipes = C.pretraining_table(records, manifests or {})
    if not recipes.empty:
        s.blocks.append(long_table(
            "Pretrained components: the pretraining recipe that made each distiller's networks (from the manifests)",
            recipes, ["distiller", "dataset", "component", "recipe", "recipe fingerprint", "settings",
                      "classes seen", "test accuracy (%)"]))
        s.notes.append("cpu-2epoch is a CPU stand-in (2 epochs, no augmentation), not a paper's recipe; sets "
                       "made before recipes were recorded carry no entry and used it too.")
    for name, pipeline in sorted({(m.get("distiller", C.UNKNOWN), m["pipeline"]) for m in (manifests or {}).values()
                                  if m.get("pipeline")}):
        s.notes.append(f"{name} ran in {pipeline}.")
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


def build_sections(records: pd.DataFrame, synset_roots: list[Path], task_sections=()) -> list[Section]:
    """Every section whose records exist, in reading order: overview and images, each task's own
    section (``task_sections``: ``section(records) -> Section | None``, what the tasks declare,
    e.g. ``tasks.report_sections()``), then long-tailed, efficiency and provenance last."""
    if records.empty:
        return []
    artifacts = resolve_artifacts(records, synset_roots)
    manifests = [read_manifest(p) for p in artifacts.values()]
    records = C.label_distiller_configs(records, dict(zip(artifacts, manifests)))
    sections = [overview_section(records), image_section(records, artifacts),
                *(section(records) for section in task_sections),
                long_tailed_section(records), efficiency_section(records, manifests),
                provenance_section(records, artifacts, dict(zip(artifacts, manifests)))]
    return [s for s in sections if s is not None]
