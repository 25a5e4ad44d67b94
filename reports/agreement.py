"""The agreement page (``docs/agreement.md``): the harness beside the authors' own code, from records.

The 2 x 2 cross-evaluation has four cells per code base: {sets made by the authors' code, sets made
by the harness} x {the authors' evaluation, the harness's evaluation}, one set per distillation seed.
Its records are of two kinds, both under ``<output>/records/``:

- ``authors-eval`` -- one per evaluation run by the authors' own code (through a driver outside the
  project), naming the set by the sha256 of the file it read (``set_sha256``), who made it
  (``set_maker``), its distillation seed (``set_seed``) and the code base (``code``, e.g. ``dm``);
- ``evaluate`` -- the harness's own evaluation records (``python -m harness.evaluate``). A set made
  by the authors' code enters the harness through ``python -m harness import``, whose manifest keeps
  the source file's sha256 (``origin.sha256``); that is how its harness records are matched to the
  authors' records of the same file. Only sets that the authors' evaluation also saw are counted.

Every harness cell is compared with the all-authors cell (their set, their evaluation), paired by
distillation seed: it agrees when the mean paired difference is within ``TOLERANCE`` points and its
95% t-interval contains 0. The one-step checks (``python -m harness agree``) are read from
``agree`` records when there are any.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness.metrics.stats import format_interval, paired_difference, summarize

TOLERANCE = 1.0  # accuracy points
MIN_SEEDS = 5  # fewer paired seeds than this are shown, not judged (a 2-seed t-interval spans tens of points)
CODES = ("dm", "ncfm")  # the code bases with public code (the others are implemented from their papers)
CELLS = (("authors", "authors"), ("authors", "harness"), ("harness", "authors"), ("harness", "harness"))

# What still differs between the two sides of a code base's 2 x 2, and why (each shown on the page).
DEVIATIONS = {
    "dm": [
        "Their ConvNet flattens with `.view`; under torch 2.14 on the CPU a run of theirs fails after "
        "their DSA crop ('view size is not compatible with input tensor's size and stride'): the driver "
        "replaces `ConvNet.forward`/`embed` at run time by the same computation with `.reshape` (same "
        "values). No other change to their code.",
        "main_DM.py calls no seed function (we read it) and draws each DSA seed from the clock: the driver "
        "seeds numpy and torch with the distillation seed before calling `main_DM.main()`, and their DSA "
        "draws still vary run to run. The harness keys every draw by (seed, iteration, class). The two "
        "codes start from different real images for the same seed: seeds are paired by number, not by draw.",
        "Their loop runs iterations 0..Iteration (Iteration + 1 image updates): the authors' side runs "
        "`--Iteration N-1` against the harness's `--iterations N`, so both make N updates.",
        "Their Fashion-MNIST mean is 0.2861, the harness's 0.2860 (std 0.3530 both): sets move between "
        "the two normalised spaces through raw pixels (the importer and the driver both do this).",
        "Every set is evaluated with evaluation seed 0 on both sides (the driver's `--seed 0`, the harness's "
        "`--seeds 1`; each record names its command): one draw of evaluation weights, batches and augmentation "
        "is shared by the five sets of a side, which the paired interval over sets cannot see. The NCFM 2 x 2 "
        "below gives each set its own evaluation seed; this one was not re-run that way.",
    ],
    "ncfm": [
        "Their code has no Fashion-MNIST config: both sides run their `config/ipc10/cifar10.yaml` with the "
        "dataset's facts (dataset fashion, size 28, nch 1) and a CPU budget: batch_real 64 (theirs 1024), "
        "niter 100 (theirs 20000), num_premodel / model_num 2 (theirs 20), pertrain_epochs 1 (theirs 60); "
        "backend gloo, workers 0. The harness runs `ncfm-official` with the same values "
        "(`--budget paper --iterations 100 --real-batch 64`).",
        "One teacher pool for both: their `pretrain/pretrain_script.py` made it; the harness reads the same "
        "files with `python -m harness import-pool` (tensors only), which named it by their sha256 (listed "
        "above). Its two networks score the same on the test split in both codes (their log 76.7 / 76.3, "
        "the importer 76.68 / 76.33).",
        "Their code runs on the CPU through a driver (run-time shims, no file edited): a one-process gloo "
        "group; `.cuda()` is the identity; each 'cuda' device argument is 'cpu'; DistributedDataParallel gets "
        "no `device_ids` (a CPU module takes none); their DiffAug output is "
        "re-laid out with standard strides (same values: with one channel their crop returns a "
        "channels-last tensor that their ConvNet's `.view` refuses on this CPU build); their condensation "
        "saves its last iteration (their `it_save` saves every 1000, as we read it); the (best, last) accuracy "
        "their `evaluate_syn_data` returns, which their `Condenser.evaluate` only logs, is written to a file. The drivers, as they ran, are in "
        "`docs/agreement-data/drivers/`.",
        "Their `init_script` seeds only when `train.seed` > 0 (their log says 'Set Random Seed as 1' at seed 1 "
        "and nothing at seed 0): both sides use seeds 1-5. Their "
        "draws (network and blend, augmentation, frequencies) come from global generators and a "
        "background thread, the harness's from keyed generators: seeds are paired by number, not by draw. "
        "Set S is evaluated with evaluation seed S on both sides (their `train.seed` S, the harness's "
        "`--first-seed S --seeds 1`), so no one draw of evaluation weights, batches and augmentation is "
        "shared by every set. The price is power: a draw per set adds the evaluation's own spread to every "
        "paired difference, so these intervals are wider than the earlier run's below (one draw per side), "
        "and a gap smaller than an interval's half-width is not excluded.",
        "Evaluation at a CPU budget on both sides: `evaluation_epochs` 100 (theirs 2000; the lr halves at "
        "1/5 .. 4/5 of it in both) and one model per set (their `val_repeat` defaults to 10). Their log's "
        "'best' (the highest of the tests every `epoch_eval_interval` epochs, a selection on test "
        "accuracy) is kept in the record, not used: every cell is the final epoch's accuracy.",
        "A harness artifact holds the decoded training images (400 for IPC 10 at factor 2), so a harness set "
        "enters their evaluation as those images in pixels at `factor` 1, where their `decode` is the "
        "identity; their own sets are decoded by their code. The two decoders give the same images (the "
        "one-step checks below).",
        "Their DiffAug crops by whole pixels (up to 4 on a 28-pixel side, zero fill), in the matching and "
        "in the evaluation; the harness did so by DSA's continuous translation (up to 3.4 pixels, "
        "resampled bilinearly) until the first run of this 2 x 2 showed the gaps (the earlier run below), and now crops as theirs "
        "(`crop_whole_pixels`, `harness/augment.py`) in `ncfm-official`'s matching and the `ncfm` protocol. "
        "Their Fashion-MNIST mean is 0.2861, the harness's 0.2860: sets move between the codes through raw pixels.",
    ],
}
SEEDING = {"dm": "seeded by the driver", "ncfm": "seeded by their init_script from train.seed"}


@dataclass(frozen=True)
class EarlierRun:
    """A 2 x 2 that a later one replaced (e.g. before a fix it led to), kept on the page as evidence:
    its own records and manifests, and ``about``, what changed since."""

    name: str
    about: str
    records: pd.DataFrame
    manifests: dict


def agreement_cells(records: pd.DataFrame, manifests: dict[str, dict]) -> pd.DataFrame:
    """One row per (code, set maker, distillation seed, evaluator) with its test accuracy (%):
    the authors' evaluations, and the harness's evaluations of the same files (matched by sha256,
    directly or through an imported artifact's ``origin.sha256``)."""
    rows = records.to_dict("records") if "task" in records else []
    authors = [{"code": r["code"], "maker": r["set_maker"], "set_seed": int(r["set_seed"]), "evaluator": "authors",
                "accuracy": r["metric.accuracy"], "set_sha256": r["set_sha256"], "protocol": r["authors_evaluation"],
                "wall": r.get("timing.wall_s")} for r in rows if r["task"] == "authors-eval"]
    by_file = {a["set_sha256"]: a for a in authors}
    harness = []
    for r in rows:
        if r["task"] != "evaluate":
            continue
        origin = (manifests.get(r["synset_sha256"]) or {}).get("origin") or {}
        source = by_file.get(origin.get("sha256")) or by_file.get(r["synset_sha256"])
        if source is not None:
            harness.append({**source, "evaluator": "harness", "accuracy": r["metric.accuracy"],
                            "protocol": f"{r['protocol_name']} ({r['protocol_fingerprint']})",
                            "wall": r.get("timing.wall_seconds")})
    cells = pd.DataFrame(authors + harness, columns=["code", "maker", "set_seed", "evaluator", "accuracy",
                                                     "set_sha256", "protocol", "wall"])
    return cells.drop_duplicates(["code", "maker", "set_seed", "evaluator"], keep="last")


def cell_table(cells: pd.DataFrame) -> pd.DataFrame:
    """Per (code, maker, evaluator): n, mean, std and 95% t-interval over distillation seeds, and the
    paired difference with the all-authors cell (same seeds) and whether it agrees."""
    out = []
    for code, part in cells.groupby("code"):
        base = part[(part.maker == "authors") & (part.evaluator == "authors")].set_index("set_seed")["accuracy"]
        for maker, evaluator in CELLS:
            values = part[(part.maker == maker) & (part.evaluator == evaluator)].set_index("set_seed")["accuracy"]
            if values.empty:
                continue
            walls = part[(part.maker == maker) & (part.evaluator == evaluator)]["wall"].dropna()
            row = {"code": code, "set made by": maker, "evaluated by": evaluator, **summarize(list(values)),
                   "seeds": ", ".join(str(s) for s in sorted(values.index)),
                   "wall": float(walls.median()) if len(walls) else math.nan}
            shared = sorted(set(values.index) & set(base.index))
            if (maker, evaluator) != ("authors", "authors") and shared:
                diff = paired_difference([values[s] for s in shared], [base[s] for s in shared])
                row.update({f"diff_{k}": v for k, v in diff.items()})
                row["agrees"] = (bool(abs(diff["mean"]) <= TOLERANCE and diff["ci_low"] <= 0 <= diff["ci_high"])
                                 if diff["n"] >= MIN_SEEDS else None)
            out.append(row)
    return pd.DataFrame(out)


def _cell_lines(table: pd.DataFrame) -> list[str]:
    lines = ["| set made by | evaluated by | accuracy: mean \u00b1 std [95% CI], n | paired difference with the "
             f"authors' cell [95% CI] | within {TOLERANCE:g} point, CI holds 0 | evaluation wall (median) |",
             "|---|---|---|---|---|---|"]
    for r in table.to_dict("records"):
        diff = "(the reference cell)"
        verdict = ""
        if not math.isnan(r.get("diff_n", math.nan)):
            diff = format_interval({k[5:]: v for k, v in r.items() if k.startswith("diff_")}, signed=True)
            verdict = {True: "yes", False: "**no**"}.get(r["agrees"], f"not judged: n < {MIN_SEEDS}")
        wall = f"{r['wall']:.0f} s" if not math.isnan(r["wall"]) else ""
        lines.append(f"| {r['set made by']} | {r['evaluated by']} | {format_interval(r, with_std=True)} | {diff} | "
                     f"{verdict} | {wall} |")
    return lines


def _seed_lines(cells: pd.DataFrame) -> list[str]:
    wide = cells.pivot_table(index="set_seed", columns=["maker", "evaluator"], values="accuracy")
    header = [f"{m} set, {e} eval" for m, e in CELLS if (m, e) in wide.columns]
    lines = ["| seed | " + " | ".join(header) + " |", "|---" * (len(header) + 1) + "|"]
    for seed, row in wide.iterrows():
        values = [f"{row[(m, e)]:.2f}" if not math.isnan(row[(m, e)]) else "" for m, e in CELLS if (m, e) in wide]
        lines.append(f"| {seed} | " + " | ".join(values) + " |")
    return lines


def _one_step_lines(records: pd.DataFrame) -> list[str]:
    rows = [r for r in records.to_dict("records") if r.get("task") == "agree"] if "task" in records else []
    if not rows:
        return ["No one-step records yet: run `python -m harness agree --code dm --authors PATH` "
                "(and `--code ncfm`)."]
    latest = {(r["code"], r["check"], r["dtype"]): r for r in rows}  # a rerun's record replaces the earlier one
    lines = ["| code | check | dtype | largest relative error | tolerance | agrees | authors' files (sha256) | "
             "harness commit |", "|---|---|---|---|---|---|---|---|"]
    for r in latest.values():
        lines.append(f"| {r['code']} | {r['check']} | {r['dtype']} | {r['metric.max_rel_error']:.1e} | "
                     f"{r['metric.tolerance']:.0e} | {'yes' if r['metric.agrees'] else '**no**'} | "
                     f"{r['authors_files_sha256']} | {r.get('git_commit', '')} |")
    return lines


def _settings_lines(cells: pd.DataFrame, records: pd.DataFrame, manifests: dict[str, dict]) -> list[str]:
    """What was run on each side, read from the records and the harness's manifests."""
    rows = records.to_dict("records")
    lines, code = [], cells.code.iloc[0] if len(cells) else ""
    made = {m.get("sha256"): m for m in manifests.values()}
    harness_sets = cells[(cells.maker == "harness")].set_sha256.unique()
    configs = {json_line(made[s].get("config", {})) for s in harness_sets if s in made}
    for config in sorted(configs):
        lines.append(f"- harness distiller config: `{config}`")
    pools = {json.dumps(made[s]["pretraining"], sort_keys=True) for s in harness_sets if s in made and made[s].get("pretraining")}
    for pool in map(json.loads, sorted(pools)):
        lines.append("- teacher pool (both sides): " + pool_line(pool))
    argvs = {" ".join(_placeholders(r["extra"]["distill_argv"])) for r in rows if r.get("task") == "authors-eval"
             and r.get("code") == code and isinstance(r.get("extra"), dict) and r["extra"].get("distill_argv")}
    for argv in sorted(argvs):
        lines.append(f"- authors' distillation: `{argv}` ({SEEDING.get(code, 'seeded by the driver')})")
    for protocol in sorted(cells.protocol.unique()):
        lines.append(f"- evaluation: {protocol}")
    return lines


PATH_FLAGS = {"--data_path": "DATA", "--save_path": "OUT"}  # machine paths, not settings


def _placeholders(argv: list[str]) -> list[str]:
    """``argv`` with the values of path flags replaced by placeholders (the settings stay)."""
    return [PATH_FLAGS.get(argv[i - 1], a) if i else a for i, a in enumerate(argv)]


def pool_line(pool: dict) -> str:
    """A pretrained pool as the page names it: its name, each network's test accuracy, its files."""
    recipe = pool["recipe"]
    accuracy = " / ".join(f"{n['test_accuracy']:.2f}" for n in pool.get("networks", []) if n.get("test_accuracy") is not None)
    files = ", ".join(f"{name} ({sha[:12]})" for name, sha in recipe.get("files", []))
    made = f"{recipe.get('source') or recipe['name']}" + (f"; files {files}" if files else "")
    return f"`{recipe['name']}`, {recipe['models']} networks, test accuracy {accuracy} %: {made}"


def json_line(config: dict) -> str:
    keys = ("iterations", "real_batch", "lr_images", "momentum", "dsa", "init", "pretrain", "pretrained", "num_freqs",
            "multi_formation", "calibration", "real_sample")
    return ", ".join(f"{k}={config[k]}" for k in keys if k in config)


def _earlier_lines(code: str, run: EarlierRun) -> list[str]:
    cells = agreement_cells(run.records, run.manifests)
    cells = cells[cells.code == code]
    if cells.empty:
        return []
    lines = [f"### Earlier run: {run.name}", "", run.about, "", "Settings:", ""]
    lines += _settings_lines(cells, run.records, run.manifests) + [""]
    lines += _cell_lines(cell_table(cells)) + ["", "Per distillation seed (test accuracy, %):", ""]
    return lines + _seed_lines(cells) + [""]


def agreement_page(records: pd.DataFrame, manifests: dict[str, dict], regenerate: str,
                   earlier: tuple[EarlierRun, ...] = ()) -> str:
    """The whole page as markdown; each code's section ends with its earlier runs, if any."""
    cells = agreement_cells(records, manifests)
    lines = ["# Agreement with the authors' code", "",
             "Generated from records by `" + regenerate + "`; do not edit by hand. Each code base's methods are "
             "run beside the authors' own code at equal settings: the authors' code unmodified, through a "
             "driver outside this project (shims listed under *Deviations*). A harness cell agrees with the "
             f"authors' cell when the paired difference (same distillation seeds) is within {TOLERANCE:g} "
             "point and its 95% t-interval contains 0.", ""]
    table = cell_table(cells)
    for code in sorted(cells.code.unique()):
        part = cells[cells.code == code]
        lines += [f"## {code}: 2 x 2 cross-evaluation", "", "Settings (both sides):", ""]
        lines += _settings_lines(part, records, manifests) + [""]
        lines += _cell_lines(table[table.code == code]) + ["", "Per distillation seed (test accuracy, %):", ""]
        lines += _seed_lines(part) + [""]
        lines += ["Deviations that remain:", ""] + [f"- {d}" for d in DEVIATIONS.get(code, [])] + [""]
        for run in earlier:
            lines += _earlier_lines(code, run)
    for code in sorted(set(CODES) - set(cells.code)):
        lines += [f"## {code}: 2 x 2 cross-evaluation", "", f"No cross-evaluation records of {code} yet: the cells "
                  f"appear here once `authors-eval` records of {code} are in the output folder.", ""]
    lines += ["## One-step agreement (float64, identical inputs)", ""] + _one_step_lines(records) + [""]
    kinds = {}
    for r in records.to_dict("records"):
        if r.get("task") in ("authors-eval", "agree", "evaluate") and isinstance(r.get("versions"), dict):
            v = r["versions"]
            kinds.setdefault(r["task"], set()).add(f"commit {str(r.get('git_commit', '?'))[:12]}, torch {v.get('torch')}, "
                                                   f"python {v.get('python')}, {v.get('platform')}"
                                                   + (f", {v['cpu']}" if v.get("cpu") else ""))
    lines += ["## Provenance", "", "The harness's commit and environment each kind of record was written under:", ""]
    lines += [f"- {task}: {'; '.join(sorted(seen))}" for task, seen in sorted(kinds.items())] + [""]
    return "\n".join(lines)
