"""Collate result records into pandas DataFrames, one per report section.

Input is the DataFrame of :func:`harness.records.load_records`: one row per record, cell fields at
top level, ``metric.<name>`` and ``timing.<name>`` columns, and the ``protocol``, ``extra`` and
``versions`` dicts. Every function here is pure (records in, numeric DataFrame out) and tolerates
missing optional fields; a section whose records are absent yields an empty frame.

**Comparability rule.** Numbers whose ``protocol_fingerprint`` differ are never put in one
comparison: every summary is keyed by the fingerprint first, and the report renders one table
(or panel) per fingerprint, saying which protocol fields differ (:func:`protocol_differences`).
Likewise an architecture recorded under two revisions of its definition (``arch_fingerprint``)
is two architectures, ``name [fingerprint]`` (:func:`arch_revisions`).

**Expected record shapes** (what the generic sections read; optional fields in brackets; each
task's own section documents its records in ``tasks/<task>/report.py``):

- overview -- ``task`` "evaluate" or "transfer": ``distiller``, ``dataset``,
  [``imbalance``], ``ipc``, ``arch``, ``seed``, ``protocol_name``, ``protocol_fingerprint``,
  ``metric.accuracy`` (%). The same-size random-subset baseline is a row with ``distiller``
  "random" and the same dataset, IPC, architecture, fingerprint and seeds; the gain over it is
  paired by seed (seeds without a random partner are left out of the gain).
- long-tailed -- any "evaluate"/"transfer" record with ``imbalance`` > 1 or a ``-lt`` dataset and
  ``metric.per_class_accuracy`` (list of %, class index order); [``metric.many_shot_accuracy``,
  ``metric.medium_shot_accuracy``, ``metric.few_shot_accuracy``] for the shot-group table.
- efficiency -- ``task`` "bench" rows with ``metric.distiller``, ``metric.seconds_per_iteration``
  (or ``metric.s_per_iter``), [``metric.peak_memory_mb`` (or ``metric.peak_mb``), ``metric.dataset``
  (or ``metric.shape``), ``metric.ipc``, ``timing.device``]; plus the
  distillation wall time and peak memory in the manifests of the artifacts the records name
  (:func:`distillation_costs`).
- provenance -- every record: ``task``, ``protocol_name``, ``protocol_fingerprint``, ``protocol``,
  ``versions``, ``git_commit``, ``recorded``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable

import pandas as pd

from harness.data.longtail import is_long_tailed
from harness.metrics.stats import paired_difference, summarize
from harness.synset import LATER_SETTINGS, identity_config

ACCURACY_TASKS = ("evaluate", "transfer")
RANDOM = "random"
UNKNOWN = "unknown"
SHOT_GROUPS = {"many": "metric.many_shot_accuracy", "medium": "metric.medium_shot_accuracy",
               "few": "metric.few_shot_accuracy"}
CELL_DEFAULTS = {"task": UNKNOWN, "distiller": UNKNOWN, "dataset": UNKNOWN, "imbalance": 1.0, "ipc": 0,
                 "arch": UNKNOWN, "seed": 0, "protocol_name": UNKNOWN, "protocol_fingerprint": UNKNOWN}


def with_defaults(df: pd.DataFrame) -> pd.DataFrame:
    """A copy with every cell field of ``CELL_DEFAULTS`` present and its missing values filled."""
    df = df.copy()
    for col, value in CELL_DEFAULTS.items():
        df[col] = df[col].where(df[col].notna(), value) if col in df else value
    for col in ("ipc", "seed"):
        df[col] = as_int_if_whole(df[col])
    # A renamed protocol keeps its fingerprint (the name is not part of it): one fingerprint, one
    # label, so its records pool in one column instead of colliding under two names.
    names = df["protocol_name"].astype(str).groupby(df["protocol_fingerprint"].astype(str))
    df["protocol_name"] = names.transform(lambda n: " / ".join(sorted(set(n))))
    if "arch_fingerprint" in df:
        df["arch"] = arch_revisions(df["arch"], df["arch_fingerprint"])
    return df


def arch_revisions(archs: pd.Series, fingerprints: pd.Series) -> pd.Series:
    """An architecture name recorded under more than one revision of its definition
    (``arch_fingerprint``, e.g. the ConvNet before and after a padding fix) becomes
    ``name [fingerprint]`` per revision, so the revisions are never pooled; otherwise the name."""
    labels = archs.astype(str)
    revisions = fingerprints.fillna("no fingerprint").astype(str)
    for name, idx in archs.groupby(archs).groups.items():
        if revisions.loc[idx].nunique() > 1:
            labels.loc[idx] = [f"{name} [{fp}]" for fp in revisions.loc[idx]]
    return labels


def as_int_if_whole(values: pd.Series) -> pd.Series:
    """Integers stay integers (IPC 10, not 10.0) when a column picked up floats or NaN fill-ins."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all() and (numeric % 1 == 0).all():
        return numeric.astype(int)
    return values


def task_frame(records: pd.DataFrame, *tasks: str, needs: Iterable[str] = ()) -> pd.DataFrame:
    """Records of the given tasks that carry every column in ``needs`` (rows with NaN dropped)."""
    if records.empty or "task" not in records:
        return pd.DataFrame()
    df = records[records["task"].isin(tasks)]
    needs = list(needs)
    if any(col not in df for col in needs):
        return pd.DataFrame()
    return with_defaults(df.dropna(subset=needs))


def stored_bytes_column(df: pd.DataFrame) -> pd.Series:
    """Each record's stored bytes (``extra.stored_bytes.total``: :func:`harness.synset.stored_bytes`), else NaN."""
    extra = df["extra"] if "extra" in df else pd.Series(None, index=df.index)
    stored = extra.map(lambda e: (e.get("stored_bytes") or {}).get("total") if isinstance(e, dict) else None)
    return pd.to_numeric(stored, errors="coerce")


def dataset_label(dataset: str, imbalance: float) -> str:
    return f"{dataset} (IF {imbalance:g})" if imbalance and float(imbalance) > 1 else str(dataset)


def _summary_row(values: list[float]) -> dict:
    s = summarize([float(v) for v in values])
    return {"n": s["n"], "mean": s["mean"], "std": s["std"], "ci_low": s["ci_low"], "ci_high": s["ci_high"]}


def seed_means(df: pd.DataFrame, keys: list[str], metric: str) -> pd.Series:
    """The metric averaged per (keys, seed): duplicates of one seed (re-runs) count once."""
    return df.groupby([*keys, "seed"], dropna=False)[metric].mean()


def summarise_seeds(df: pd.DataFrame, keys: list[str], metric: str, **fixed) -> list[dict]:
    """One row per ``keys`` value: the keys, ``fixed`` fields, and n, mean, std, t-interval over seeds."""
    per_seed = seed_means(df, keys, metric)
    return [dict(zip(keys, key if isinstance(key, tuple) else (key,))) | fixed | _summary_row(s.tolist())
            for key, s in per_seed.groupby(level=list(range(len(keys))), dropna=False)]


# ---------------------------------------------------------------- overview and transfer

ACCURACY_KEYS = ["protocol_fingerprint", "protocol_name", "dataset", "imbalance", "ipc", "arch"]


def accuracy_summary(records: pd.DataFrame, tasks: tuple[str, ...] = ACCURACY_TASKS) -> pd.DataFrame:
    """Per (fingerprint, dataset, imbalance, IPC, arch, distiller): accuracy mean, std, t-interval
    over seeds, and the gain over the same-size random subset paired by seed (``gain_*``)."""
    df = task_frame(records, *tasks, needs=["metric.accuracy"])
    if df.empty:
        return pd.DataFrame()
    per_seed = seed_means(df, [*ACCURACY_KEYS, "distiller"], "metric.accuracy")
    rows = []
    for key, seeds in per_seed.groupby(level=list(range(len(ACCURACY_KEYS) + 1)), dropna=False):
        values = seeds.droplevel(list(range(len(ACCURACY_KEYS) + 1)))
        row = dict(zip([*ACCURACY_KEYS, "distiller"], key)) | _summary_row(values.tolist())
        row |= _gain(per_seed, key, values)
        rows.append(row)
    out = pd.DataFrame(rows)
    out["dataset_label"] = [dataset_label(d, i) for d, i in zip(out["dataset"], out["imbalance"])]
    groups = [df[k] for k in [*ACCURACY_KEYS, "distiller"]]
    cell = [tuple(r[k] for k in [*ACCURACY_KEYS, "distiller"]) for _, r in out.iterrows()]
    sha = df["synset_sha256"] if "synset_sha256" in df else pd.Series(UNKNOWN, index=df.index)
    draws = sha.groupby(groups, dropna=False).nunique()
    out["sets"] = [int(draws.get(c, 1)) for c in cell]
    extra = df["extra"] if "extra" in df else pd.Series(None, index=df.index)
    trained = extra.map(lambda e: e.get("images_per_class") if isinstance(e, dict) else None)
    trained = pd.to_numeric(trained, errors="coerce").groupby(groups, dropna=False).max()
    out["images_per_class"] = [trained.get(c, math.nan) for c in cell]  # what a model trained on (decoded)
    stored = stored_bytes_column(df).groupby(groups, dropna=False).max()
    out["stored_bytes"] = [stored.get(c, math.nan) for c in cell]  # what a user stores (harness.synset.stored_bytes)
    return out.sort_values([*ACCURACY_KEYS, "distiller"], ignore_index=True)


def _gain(per_seed: pd.Series, key: tuple, values: pd.Series) -> dict:
    """Paired (same seed) difference to the random subset of the same cell, or NaNs."""
    empty = {"gain_n": 0, "gain_mean": math.nan, "gain_low": math.nan, "gain_high": math.nan}
    if key[-1] == RANDOM:
        return empty
    try:
        random = per_seed.loc[(*key[:-1], RANDOM)]
    except KeyError:
        return empty
    common = sorted(set(values.index) & set(random.index))
    if not common:
        return empty
    d = paired_difference(values.loc[common].tolist(), random.loc[common].tolist())
    return {"gain_n": d["n"], "gain_mean": d["mean"], "gain_low": d["ci_low"], "gain_high": d["ci_high"]}


# ---------------------------------------------------------------- continual learning


# ---------------------------------------------------------------- NAS ranking correlation


# ---------------------------------------------------------------- debiasing


# ---------------------------------------------------------------- long-tailed

LT_KEYS = ["protocol_fingerprint", "dataset", "imbalance", "ipc", "arch", "distiller"]


def long_tailed_frame(records: pd.DataFrame) -> pd.DataFrame:
    df = task_frame(records, *ACCURACY_TASKS, needs=["metric.per_class_accuracy"])
    if df.empty:
        return df
    lt = (df["imbalance"].astype(float) > 1) | df["dataset"].astype(str).map(is_long_tailed)
    return df[lt]


def per_class_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Long form per (LT keys, class index): per-class accuracy mean and std over seeds."""
    rows = [{**{k: getattr(r, k) for k in LT_KEYS}, "seed": r.seed, "class_index": c, "accuracy": float(a)}
            for r, pca in zip(df.itertuples(), df["metric.per_class_accuracy"]) if isinstance(pca, list)
            for c, a in enumerate(pca)]
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(summarise_seeds(pd.DataFrame(rows), [*LT_KEYS, "class_index"], "accuracy"))


def shot_group_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per (LT keys, shot group): many/medium/few-shot accuracy over seeds (groups recorded only)."""
    return pd.DataFrame([row for group, col in SHOT_GROUPS.items() if col in df and df[col].notna().any()
                         for row in summarise_seeds(df.dropna(subset=[col]), LT_KEYS, col, group=group)])


# ---------------------------------------------------------------- efficiency

def bench_summary(records: pd.DataFrame) -> pd.DataFrame:
    """Per (device, dataset, ipc, distiller): mean seconds per iteration and peak memory (MB)."""
    df = task_frame(records, "bench", needs=["metric.distiller"])
    if df.empty:
        return df

    def first(*names, default=math.nan):
        """The first of the (alias) metric columns present, values combined row by row."""
        out = pd.Series(default, index=df.index, dtype=object)
        for name in reversed(names):
            if name in df:
                out = df[name].where(df[name].notna(), out)
        return out

    out = pd.DataFrame({
        "device": first("timing.device", default=UNKNOWN),
        "dataset": first("metric.dataset", "metric.shape", default=UNKNOWN),
        "ipc": first("metric.ipc"),
        "distiller": df["metric.distiller"],
        "seconds_per_iteration": pd.to_numeric(first("metric.seconds_per_iteration", "metric.s_per_iter")),
        "peak_memory_mb": pd.to_numeric(first("metric.peak_memory_mb", "metric.peak_mb")),
    }).dropna(subset=["seconds_per_iteration"])
    if out.empty:
        return out
    keys = ["device", "dataset", "ipc", "distiller"]
    out["ipc"] = as_int_if_whole(out["ipc"])
    return out.fillna({"device": UNKNOWN, "dataset": UNKNOWN}).groupby(keys, dropna=False).agg(
        seconds_per_iteration=("seconds_per_iteration", "mean"), peak_memory_mb=("peak_memory_mb", "max"),
        runs=("seconds_per_iteration", "size")).reset_index()


def distillation_costs(manifests: list[dict]) -> pd.DataFrame:
    """One row per artifact manifest: distiller, dataset, ipc, device, iterations, wall seconds,
    seconds per iteration (when the config names ``iterations``) and peak memory (MB)."""
    rows = []
    for m in manifests:
        timing = m.get("timing") or {}
        if "wall_seconds" not in timing:
            continue
        iterations = (m.get("config") or {}).get("iterations")
        rows.append({"distiller": m.get("distiller", UNKNOWN), "dataset": m.get("dataset", UNKNOWN),
                     "ipc": m.get("ipc"), "device": m.get("device", UNKNOWN), "iterations": iterations,
                     "wall_seconds": float(timing["wall_seconds"]),
                     "seconds_per_iteration": float(timing["wall_seconds"]) / iterations if iterations else math.nan,
                     "peak_memory_mb": timing.get("peak_memory_mb", math.nan)})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- provenance

def protocol_table(records: pd.DataFrame) -> pd.DataFrame:
    """Per fingerprint: protocol name(s), tasks, record count and the protocol dict."""
    df = with_defaults(records)
    rows = []
    for fp, g in df.groupby("protocol_fingerprint", dropna=False):
        protocols = [p for p in g["protocol"] if isinstance(p, dict)] if "protocol" in g else []
        rows.append({"protocol_fingerprint": fp, "protocol_name": ", ".join(sorted(map(str, g["protocol_name"].unique()))),
                     "tasks": ", ".join(sorted(map(str, g["task"].unique()))), "records": len(g),
                     "protocol": protocols[0] if protocols else {}})
    return pd.DataFrame(rows)


def protocol_differences(protocols: pd.DataFrame) -> dict[str, str]:
    """Per fingerprint, the protocol fields whose values differ across the fingerprints shown
    (records without a protocol, e.g. benchmarks, take no part)."""
    dicts = {fp: d for fp, d in zip(protocols["protocol_fingerprint"], protocols["protocol"]) if d}
    keys = sorted({k for d in dicts.values() for k in d if k != "name"})
    varying = [k for k in keys if len({json.dumps(d.get(k), sort_keys=True) for d in dicts.values()}) > 1]
    return {fp: ", ".join(f"{k}={_short(d.get(k))}" for k in varying) for fp, d in dicts.items()}


def _short(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    return "none" if value is None else str(value)


def environment_table(records: pd.DataFrame) -> pd.DataFrame:
    """Per (git commit, versions): tasks, record count, first and last recording date."""
    df = records.copy()
    df["git_commit"] = df["git_commit"].fillna(UNKNOWN) if "git_commit" in df else UNKNOWN
    df["versions_text"] = [", ".join(f"{k} {v}" for k, v in d.items()) if isinstance(d, dict) else UNKNOWN
                           for d in (df["versions"] if "versions" in df else [None] * len(df))]
    df["recorded"] = df["recorded"].fillna("") if "recorded" in df else ""
    df["task"] = df["task"].fillna(UNKNOWN) if "task" in df else UNKNOWN
    out = df.groupby(["git_commit", "versions_text"], dropna=False).agg(
        tasks=("task", lambda s: ", ".join(sorted(set(map(str, s))))), records=("task", "size"),
        first=("recorded", "min"), last=("recorded", "max")).reset_index()
    for col in ("first", "last"):
        out[col] = out[col].map(_utc_minute)
    return out


def _utc_minute(stamp: str) -> str:
    """``2026-11-22T08:40:59+00:00`` -> ``2026-11-22 08:40 UTC`` (records are stamped in UTC)."""
    try:
        return pd.Timestamp(stamp).tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")
    except (ValueError, TypeError):
        return str(stamp) or UNKNOWN


def label_distiller_configs(records: pd.DataFrame, manifests: dict[str, dict]) -> pd.DataFrame:
    """Sets of one distiller made with different settings are different methods: when the manifests
    (by sha256) show several configs for a distiller, its records are relabelled ``dm [iterations=50]``
    with the settings that differ, so no table pools them."""
    if "distiller" not in records or "synset_sha256" not in records:
        return records
    # every setting at its value, a later setting absent from an older manifest at its default:
    # the tag then shows the value (pretrain=cpu-2epoch), never "none" for a default left out
    configs = {sha: {**LATER_SETTINGS, **identity_config(m.get("config") or {})} for sha, m in manifests.items()}
    records = records.copy()
    for distiller, g in records.groupby("distiller"):
        shas = [sha for sha in g["synset_sha256"].dropna().unique() if sha in configs]
        seen = {json.dumps(configs[sha], sort_keys=True, default=str) for sha in shas}
        if len(seen) < 2:
            continue
        keys = sorted({k for sha in shas for k in configs[sha]})
        varying = [k for k in keys if len({json.dumps(configs[sha].get(k), default=str) for sha in shas}) > 1]
        for sha in shas:
            tag = ", ".join(f"{k}={_short(configs[sha].get(k))}" for k in varying)
            records.loc[(records["distiller"] == distiller) & (records["synset_sha256"] == sha),
                        "distiller"] = f"{distiller} [{tag}]"
    return records


# Manifest entries naming the pretraining recipe of a set's pretrained networks, by component.
PRETRAINED_COMPONENTS = {"pretraining": "extractor / embedding", "critic_pretraining": "label critic",
                         "attribute_critic_pretraining": "attribute critic"}


def pretraining_table(records: pd.DataFrame, manifests: dict[str, dict]) -> pd.DataFrame:
    """One row per (distiller as the records label it, dataset, pretrained component, recipe,
    classes): which recipe made the networks (from the artifact manifests, by sha256), what it is,
    the classes they saw and their mean test accuracy."""
    labels = {}
    if {"synset_sha256", "distiller"} <= set(records.columns):
        labels = records.dropna(subset=["synset_sha256"]).groupby("synset_sha256")["distiller"].first().to_dict()
    rows = []
    for sha, m in manifests.items():
        for key, component in PRETRAINED_COMPONENTS.items():
            entry = m.get(key)
            if not isinstance(entry, dict):
                continue
            r = entry.get("recipe") or {}
            accuracies = [n["test_accuracy"] for n in entry.get("networks", []) if n.get("test_accuracy") is not None]
            rows.append({"distiller": labels.get(sha, m.get("distiller", UNKNOWN)), "dataset": m.get("dataset", UNKNOWN),
                         "component": component, "recipe": r.get("name", UNKNOWN),
                         "fingerprint": entry.get("recipe_fingerprint", UNKNOWN),
                         "settings": f"{len(entry.get('networks', []))} network(s), {r.get('epochs')} epochs, "
                                     f"augmentation {r.get('augmentation')}"
                                     + (f", {r['images']} images each" if r.get("images") else ""),
                         "classes": ",".join(map(str, entry["classes"])) if entry.get("classes") else "all",
                         "test_accuracy": f"{sum(accuracies) / len(accuracies):.1f}" if accuracies else "-"})  # in %
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).drop_duplicates().sort_values(["distiller", "dataset", "component"])
