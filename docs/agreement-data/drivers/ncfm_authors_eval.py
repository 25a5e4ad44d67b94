#!/usr/bin/env python
"""Score one set with the NCFM authors' evaluation (evaluation/evaluation_script.py, through run_ncfm.py)
and append a record to <output>/records/ncfm-authors-eval.jsonl.

usage: ncfm_authors_eval.py --set PATH --maker {authors,harness} --set-seed S --eval-seed E
                            [--epochs 100] --output OUT

--set is the authors' own data_*.pt (decoded by their code at factor 2) or a harness artifact
(.safetensors: its decoded images, moved from the harness's normalisation to theirs through raw
pixels, at factor 1 where their decode is the identity). Their `train.seed` is the evaluation seed.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
RUN_DIR = Path("/work/agree/ncfm-run")
NCFM_REPO = Path("/work/agree/ncfm")
HARNESS = os.environ.get("HARNESS", "/work/main")  # the checkout whose harness loads sets and writes records
THEIR_MEAN, THEIR_STD = 0.2861, 0.3530
THEIR_DISTILLATION = ["condense/condense_script.py", "--config_path", "fashion_ipc10.yaml", "(train.seed S, niter 100)",
                      "--gpu", "0", "-i", "10"]  # what made an authors' set (the page names it)
PROTOCOL = "NCFM evaluation/evaluation_script.py, evaluation_epochs={epochs}, val_repeat 1, final-epoch accuracy"


def their_config(seed: int, epochs: int, factor: int) -> str:
    text = (RUN_DIR / "fashion_ipc10.yaml").read_text()
    for old, new in [("seed: 0", f"seed: {seed}"), ("evaluation_epochs: 2000", f"evaluation_epochs: {epochs}"),
                     ("factor: 2", f"factor: {factor}"), ('save_dir: "results"', f'save_dir: "results/eval-e{seed}"')]:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def harness_set_as_theirs(path: Path, folder: Path) -> tuple[Path, str]:
    sys.path.insert(0, HARNESS)
    from harness.synset import load_synset

    synset = load_synset(path)
    mean, std = synset.info.mean[0], synset.info.std[0]
    pixels = synset.images * std + mean
    data = (pixels - THEIR_MEAN) / THEIR_STD
    out = folder / "data.pt"
    torch.save([data, synset.labels], out)
    return out, (f"harness artifact: its {len(data)} decoded images as pixels (mean {mean}, std {std}), factor 1")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", required=True, type=Path)
    parser.add_argument("--maker", required=True, choices=["authors", "harness"])
    parser.add_argument("--set-seed", required=True, type=int)
    parser.add_argument("--eval-seed", required=True, type=int)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--output", required=True, type=Path)
    args = parser.parse_args()
    sys.path.insert(0, HARNESS)
    from harness.records import RecordStore
    from harness.synset import sha256_file

    folder = Path(tempfile.mkdtemp(prefix="ncfm_eval_"))
    if args.maker == "harness":
        load_path, loaded_as = harness_set_as_theirs(args.set, folder)
        factor = 1
    else:
        load_path, loaded_as, factor = args.set, "their data_*.pt, decoded by their code at factor 2", 2
    config = folder / "eval.yaml"
    config.write_text(their_config(args.eval_seed, args.epochs, factor))
    result = folder / "result.json"
    their_argv = ["evaluate", "--config_path", str(config), "--gpu", "0", "-i", "10", "--load_path", str(load_path),
                  "--val_repeat", "1"]
    log = RUN_DIR / f"eval_{args.maker}_s{args.set_seed}_e{args.eval_seed}.log"
    start = time.time()
    with open(log, "w") as out:
        subprocess.run([sys.executable, str(HERE / "run_ncfm.py"), *their_argv], cwd=RUN_DIR, check=True, stdout=out,
                       stderr=subprocess.STDOUT, env={**os.environ, "NCFM_REPO": str(NCFM_REPO),
                                                      "NCFM_RESULT_JSON": str(result)})
    wall = time.time() - start
    (accuracy,) = json.loads(result.read_text())
    cell = {"task": "authors-eval", "code": "ncfm", "set_sha256": sha256_file(args.set), "set_maker": args.maker,
            "set_seed": args.set_seed, "dataset": "fashion-mnist", "seed": args.eval_seed,
            "authors_evaluation": PROTOCOL.format(epochs=args.epochs)}
    store = RecordStore(args.output / "records" / "ncfm-authors-eval.jsonl")
    store.append(cell, {"accuracy": accuracy["last"], "best_accuracy_their_selection": accuracy["best"]},
                 timing={"wall_s": wall, "threads": torch.get_num_threads()},
                 extra={"distill_argv": THEIR_DISTILLATION if args.maker == "authors" else [], "authors_commit": "de92fb8", "set_path": str(args.set), "loaded_as": loaded_as,
                        "driver": "ncfm_authors_eval.py (outside the project)", "their_argv": ["run_ncfm.py", *their_argv],
                        "config": config.read_text(), "log": str(log)})
    print(f"{args.maker} set s{args.set_seed}, their evaluation seed {args.eval_seed}: {accuracy['last']:.2f} "
          f"(best {accuracy['best']:.2f}) in {wall:.0f} s")


if __name__ == "__main__":
    main()
