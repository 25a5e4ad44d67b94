#!/usr/bin/env bash
# Put the NCFM 2 x 2 of /work/agree/ncfm3/out (and fresh agree records) into docs/agreement-data and regenerate the page.
set -euo pipefail
D=/work/main/docs/agreement-data; OUT=/work/agree/ncfm3/out
rm -f $D/synsets/fashion-mnist/external/ncfm-authors-*.json $D/records/ncfm-evaluate.jsonl
mkdir -p $D/synsets/fashion-mnist/ncfm-official
cp $OUT/synsets/fashion-mnist/external/ncfm-authors-*.json $D/synsets/fashion-mnist/external/
cp $OUT/synsets/fashion-mnist/ncfm-official/ipc10-seed*.json $D/synsets/fashion-mnist/ncfm-official/
cp $OUT/records/ncfm-authors-eval.jsonl $D/records/ncfm-authors-eval.jsonl
cp $OUT/records/evaluate.jsonl $D/records/ncfm-evaluate.jsonl
cp /work/agree/drivers/continuous-crop-about.md $D/earlier/ncfm-continuous-crop/about.md
if [ -s /work/agree/agree-out/records/agree.jsonl ]; then cp /work/agree/agree-out/records/agree.jsonl $D/records/agree.jsonl; fi
cd /work/main && .venv/bin/python -m harness agreement-page --output docs/agreement-data
