#!/usr/bin/env bash
# One worker: takes each unclaimed job in order (mkdir claims/NAME is the lock), waits for its input, runs it.
cd /work/agree/ncfm3; source jobs.sh; mkdir -p claims done
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
for job in "${jobs[@]}"; do
  IFS='|' read -r name needs cmd <<< "$job"
  mkdir claims/$name 2>/dev/null || continue
  if [ "$needs" != "-" ]; then until compgen -G "$needs" > /dev/null; do sleep 20; done; fi
  echo "$(date -u +%FT%T) start $name (worker $1)" >> worker.log
  t0=$(date +%s)
  if bash -c "$cmd" > logs/$name.log 2>&1; then touch done/$name; r=end; else r=FAIL; fi
  echo "$(date -u +%FT%T) $r $name $(( $(date +%s) - t0 )) s (worker $1)" >> worker.log
done
