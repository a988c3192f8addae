#!/bin/bash
# A/B: Stage-1 describing steps in fp32 and bf16 autocast, same seed, same 48 pairs, one thread
cd "$(git rev-parse --show-toplevel)"
for rep in 1 2; do
for mp in no bf16; do
  out=runs/s1probe/bf16ab/$mp-$rep; rm -rf $out; mkdir -p runs/s1probe/bf16ab
  nice -n 5 env OMP_NUM_THREADS=1 python -m sensorllm.cli.main align --config configs/recommended/uci-har/stage1-describe.yaml data.prepared=runs/uci-har/data run.seed=0 run.threads=1 data.max_train_examples=48 run.out_dir=$out encoder.kind=conv encoder.trainable=true encoder.tokenizer=null encoder.patch_size=1 run.mixed_precision=$mp run.log_every=1 eval_generate=0 run.eval_every=100000 run.save_every=100000 > $out.log 2>&1
  echo "$mp $rep $(tail -n 1 $out/train_log.csv | cut -d, -f1,2,5)"
done; done
