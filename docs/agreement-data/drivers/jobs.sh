#!/usr/bin/env bash
# The NCFM 2 x 2 job list: NAME|NEEDS (a glob that must exist first, or -)|COMMAND. Sourced by run.sh.
R=/work/agree/ncfm-run; H=/work/agree/harness-5c3b095; OUT=/work/agree/ncfm3/out; PY=/work/main/.venv/bin/python; D=/work/agree/drivers
POOL=$(cat /work/agree/ncfm3/pool_name)
SRC="gszfwsb/NCFM (de92fb8) condense_script.py, fashion_ipc10.yaml with train.seed S, niter 100, on the pool imported as $POOL"
jobs=()
for s in 1 2 3 4 5; do
  jobs+=("authors-condense-s$s|-|cd $R && sed -e 's/seed: 0/seed: $s/' -e 's#save_dir: \"results\"#save_dir: \"results/seed$s\"#' fashion_ipc10.yaml > cfg_s$s.yaml && NCFM_REPO=/work/agree/ncfm $PY $D/run_ncfm.py condense --config_path cfg_s$s.yaml --gpu 0 -i 10 > condense_s$s.log 2>&1 && cd $H && DD_OUTPUT=$OUT $PY -m harness import $R/results/seed$s/condense/fashion/ipc10/*/distilled_data/data_100.pt --dataset fashion-mnist --layout ncfm --multi-formation 2 --name ncfm-authors-s$s --source \"${SRC/seed S/seed $s}\" --output $OUT")
  jobs+=("harness-condense-s$s|-|cd $H && DD_OUTPUT=$OUT $PY -m harness.distill --distiller ncfm-official --dataset fashion-mnist --ipc 10 --budget paper --iterations 100 --real-batch 64 --seed $s --set pretrain=$POOL --set pretrained=0 --no-progress --output $OUT")
done
for s in 1 2 3 4 5; do
  A="$R/results/seed$s/condense/fashion/ipc10/*/distilled_data/data_100.pt"
  I="$OUT/synsets/fashion-mnist/external/ncfm-authors-s$s-*.safetensors"
  S="$OUT/synsets/fashion-mnist/ncfm-official/ipc10-seed$s-*.safetensors"
  jobs+=("theirs-authors-s$s|$I|HARNESS=$H $PY $D/ncfm_authors_eval.py --set \$(ls $A) --maker authors --set-seed $s --eval-seed $s --output $OUT")
  jobs+=("ours-authors-s$s|$I|cd $H && DD_OUTPUT=$OUT $PY -m harness.evaluate --synset \$(ls $I) --archs convnet --protocol ncfm --epochs 100 --first-seed $s --seeds 1 --no-progress --output $OUT")
  jobs+=("theirs-harness-s$s|$S|HARNESS=$H $PY $D/ncfm_authors_eval.py --set \$(ls $S) --maker harness --set-seed $s --eval-seed $s --output $OUT")
  jobs+=("ours-harness-s$s|$S|cd $H && DD_OUTPUT=$OUT $PY -m harness.evaluate --synset \$(ls $S) --archs convnet --protocol ncfm --epochs 100 --first-seed $s --seeds 1 --no-progress --output $OUT")
done
