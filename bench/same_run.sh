#!/bin/bash
# Every number of issue 22's target table in one run. On a shared VM the
# speed of memory and cores moves by 10-40 % from one minute to the next, so
# the programs being compared run next to each other in rounds, and
# bench/same_run_summary.py takes each ratio within a round, then the median
# of the rounds:
#   once:       every checkpoint dropped from the page cache and read once
#               (bench/warm_page_cache.py: all programs find their files in
#               the same state), decode checks (GEMV ISA, pool spin),
#               bench_machine (best GEMM);
#   each round: the checkpoints dropped and read again (the page cache
#               splits their folios over minutes, and decode runs up to 15 %
#               slower from small ones: docs/PERFORMANCE.md), memory read
#               bandwidth, llama.cpp F32/F16 with flash attention
#               off and on, SuperLens f32/bf16 (prompt, decode, and 16 decode
#               steps between reads of memory), PyTorch fp32;
#   once:       the GUI toggle on the TinyLlama shape and the 7B bf16
#               incremental recompute (when those checkpoints exist).
# Meant to run inside bench/quiet_run.sh (about 4 minutes a round and 2 more
# on a 2-vCPU VM), then summarised:
#   bench/quiet_run.sh /tmp/same_run.out bench/same_run.sh
#   python3 bench/same_run_summary.py /tmp/same_run.out
# SL_ROUNDS (default 3) sets the rounds. Checkpoints in SL_WORK (default
# /tmp/sl-bench): tinyllama-{f32,bf16} and the GGUFs (bench/llamacpp/run.sh
# bench makes them), tinyllama-sw and llama7b-bf16 (bench/make_checkpoint.py:
# --preset tinyllama --dtype bf16 --plant 2:1000:3000; --preset llama7b
# --dtype bf16 --shards 3).
cd "$(dirname "$0")/.."
B=${SL_BUILD:-build}/bin; W=${SL_WORK:-/tmp/sl-bench}; PY=/usr/bin/python3; H=bench/llamacpp
ROUNDS=${SL_ROUNDS:-3}
stamp() { echo "### $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg) $*"; }
stamp start; lscpu | grep -E '^Model name'; git log --oneline -1
sleep 3  # quiet_run.sh pauses the others within its first 2 s
FILES=$(for m in tinyllama-f32 tinyllama-bf16 tinyllama-f32.gguf tinyllama-f16.gguf; do [ -e $W/$m ] && echo $W/$m; done)
stamp page_cache; $PY bench/warm_page_cache.py $FILES
dec() { stamp "decode $*"; env "$@" $B/bench_forward $M --tokens 16 --repeat 1 --decode 33 --no-blas-baseline --json; }
M=$W/tinyllama-bf16; dec X=1; dec SUPERLENS_GEMV=avx2; dec SUPERLENS_POOL_SPIN_US=0
M=$W/tinyllama-f16.gguf; dec X=1
stamp bench_machine; $B/bench_machine --tokens 128 --seconds 1.5 --json
for r in $(seq 1 "$ROUNDS"); do
  stamp "round $r page_cache"; $PY bench/warm_page_cache.py $FILES
  stamp "round $r memory"; $B/bench_machine --memory-only --json
  for fa in "" --flash-attn; do for ty in f32 f16; do
    stamp "round $r llama.cpp $ty $fa"; timeout 200 node $H/bench_llamacpp.mjs $W/tinyllama-$ty.gguf --threads 2 --tokens 128 --decode 32 --runs 3 $fa
  done; done
  for m in tinyllama-f32 tinyllama-bf16; do stamp "round $r superlens $m"; $B/bench_forward $W/$m --tokens 128 --decode 33 --repeat 3 --read-pairs 16 --json; done
  stamp "round $r pytorch"; timeout 200 $PY bench/pytorch_baseline.py $W/tinyllama-f32 --tokens 128 --repeat 3
done
if [ -x $B/bench_gui_toggle ] && [ -f $W/tinyllama-sw/config.json ]; then
  stamp gui_toggle; QT_QPA_PLATFORM=offscreen timeout 120 $B/bench_gui_toggle --model $W/tinyllama-sw --tokens 32 --toggles 5
fi
if [ -f $W/llama7b-bf16/config.json ]; then
  stamp 7b; timeout 240 $B/bench_forward $W/llama7b-bf16 --tokens 32 --decode 4 --repeat 2 --no-blas-baseline --json
fi
stamp end
