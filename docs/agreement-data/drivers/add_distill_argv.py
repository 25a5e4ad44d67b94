#!/usr/bin/env python
"""Add extra.distill_argv (the command that made an authors' set, which the page names) to the
ncfm-authors-eval records of a run made before ncfm_authors_eval.py wrote it; nothing else changes.

usage: add_distill_argv.py RECORDS.jsonl
"""
import json
import sys

from ncfm_authors_eval import THEIR_DISTILLATION

path = sys.argv[1]
records = [json.loads(line) for line in open(path)]
for record in records:
    record["extra"].setdefault("distill_argv", THEIR_DISTILLATION if record["set_maker"] == "authors" else [])
with open(path, "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in records)
