#!/bin/bash
# llama.cpp baseline for the engine benchmarks, through node-llama-cpp's
# prebuilt CPU binaries (npm), on the same random weights as
# bench/run_engine_bench.py, written as GGUF F32/F16 by safetensors_to_gguf.py.
#
#   bench/llamacpp/run.sh install   # node-llama-cpp into $SL_LLAMACPP_DIR (default /tmp/sl-llamacpp)
#   bench/llamacpp/run.sh check     # tiny checkpoint: llama.cpp logits vs superlens-cli logits
#   bench/llamacpp/run.sh bench     # TinyLlama-1.1B shape, GGUF F32 and F16: prompt T=128, 32 decode steps
#                                   # (then bench_forward and pytorch_baseline.py on the same weights)
#   bench/llamacpp/run.sh all       # the three, in order (default)
#   bench/llamacpp/run.sh ab        # interleaved rounds on a busy machine: llama.cpp F16/F32 and
#                                   # bench_forward bf16/f32 under each SUPERLENS_GEMM path, one after
#                                   # the other in every round (ROUNDS, default 3), so ratios come from
#                                   # neighbouring measurements; the load average is printed with each
#
# Environment: SL_LLAMACPP_DIR (npm folder), SL_WORK (checkpoints, default
# /tmp/sl-bench), SL_BUILD (SuperLens build, default build), THREADS (2),
# T (128), N_DECODE (32), RUNS (3), MAX_LOAD (0.5: before each timing, wait up
# to WAIT_S=1800 s for the 1-minute load average to fall below it; the load
# is printed either way). Nothing is compiled and nothing is fetched but the
# npm packages.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
NLC_VERSION=3.22.1                      # pinned: the version measured in docs/PERFORMANCE.md
export SL_LLAMACPP_DIR=${SL_LLAMACPP_DIR:-/tmp/sl-llamacpp}
WORK=${SL_WORK:-/tmp/sl-bench}
BUILD=${SL_BUILD:-$ROOT/build}
THREADS=${THREADS:-2}
T=${T:-128}
N_DECODE=${N_DECODE:-32}
RUNS=${RUNS:-3}
MAX_LOAD=${MAX_LOAD:-0.5}
WAIT_S=${WAIT_S:-1800}
PY=/usr/bin/python3                     # Debian's python with python3-numpy, not pyenv's

install() {
    mkdir -p "$SL_LLAMACPP_DIR"
    cd "$SL_LLAMACPP_DIR"
    [ -f package.json ] || echo '{"name": "sl-llamacpp", "private": true}' > package.json
    # Only the CPU binary package for linux-x64 (the CUDA/Vulkan optional
    # packages are ~600 MB and unused). --ignore-scripts and
    # NODE_LLAMA_CPP_SKIP_DOWNLOAD: the postinstall step would otherwise try to
    # build llama.cpp from source (downloading it) when no prebuilt binary fits;
    # the prebuilt one is used at run time with getLlama({build: "never"}).
    NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --no-audit --no-fund --ignore-scripts --omit=optional \
        "node-llama-cpp@$NLC_VERSION" "@node-llama-cpp/linux-x64@$NLC_VERSION"
    ls "$SL_LLAMACPP_DIR/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/"
}

ensure_installed() {
    [ -f "$SL_LLAMACPP_DIR/node_modules/node-llama-cpp/package.json" ] &&
        [ -d "$SL_LLAMACPP_DIR/node_modules/@node-llama-cpp/linux-x64" ] || install
}

wait_quiet() {
    local waited=0
    while awk -v m="$MAX_LOAD" '{exit !($1 > m)}' /proc/loadavg && [ "$waited" -lt "$WAIT_S" ]; do
        [ $((waited % 300)) -eq 0 ] && echo "load $(cut -d' ' -f1-3 /proc/loadavg) > $MAX_LOAD: waiting (up to ${WAIT_S}s)" >&2
        sleep 15
        waited=$((waited + 15))
    done
    echo "load average before timing: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
}

# Logit checks, one JSON line each (exit 1 on the first failure). F32 weights
# with an F32 KV cache measure the GGUF writer alone (expect ~1e-7 on the
# random tiny checkpoint); llama.cpp's default F16 KV cache and F16 weights
# add their rounding (tolerance 2e-2).
check() {
    ensure_installed
    local cli="$BUILD/bin/superlens-cli"
    [ -x "$cli" ] || { echo "$cli not built" >&2; exit 1; }
    local tiny=/tmp/sl-llamacpp-tiny out=/tmp/sl-llamacpp-gguf
    mkdir -p "$out"
    [ -f "$tiny/model.safetensors" ] || $PY "$ROOT/bench/make_checkpoint.py" --preset tiny --dtype f32 --out "$tiny"
    local ids64
    ids64=$($PY -c "print(','.join(['1'] + [str((7 + (i * 7919) % 30000) % 256) for i in range(63)]))")
    for ty in f32 f16; do
        $PY "$HERE/safetensors_to_gguf.py" "$tiny" "$out/tiny-$ty.gguf" --type "$ty"
        local tol=1e-4
        [ "$ty" = f16 ] && tol=2e-2
        for kv in F32 F16; do
            [ "$kv" = F16 ] && tol=2e-2
            $PY "$HERE/check_logits.py" --model "$tiny" --gguf "$out/tiny-$ty.gguf" --cli "$cli" \
                --ids 1,5,77 --kv-type "$kv" --tol "$tol"
        done
        [ "$ty" = f32 ] && tol=1e-4
        $PY "$HERE/check_logits.py" --model "$tiny" --gguf "$out/tiny-$ty.gguf" --cli "$cli" \
            --ids "$ids64" --kv-type F32 --tol "$tol" | sed 's/"ids": "[^"]*"/"ids": "64 tokens"/'
    done
    # a real trained model (llama2.c's stories260K, GQA 8/4, tied embeddings), vendored in tests/data with
    # the GGUF llama.cpp's own converter wrote: ours must give llama.cpp the same logits as that file
    local st="$ROOT/tests/data/stories260K" ids
    ids=$($PY -c "import json; print(','.join(map(str, json.load(open('$st/reference.json'))['prompts'][0]['ids'])))")
    $PY "$HERE/safetensors_to_gguf.py" "$st" "$out/stories260K-f32.gguf" --type f32
    $PY "$HERE/check_logits.py" --model "$st" --gguf "$out/stories260K-f32.gguf" --cli "$cli" --ids "$ids" \
        --kv-type F32 --tol 1e-4 --gguf-ref "$st/stories260K.gguf"
}

bench() {
    ensure_installed
    df -h "$WORK" 2>/dev/null || df -h /tmp
    local model="$WORK/tinyllama-f32"
    mkdir -p "$WORK"
    [ -f "$model/model.safetensors" ] ||
        $PY "$ROOT/bench/make_checkpoint.py" --preset tinyllama --dtype f32 --out "$model"
    for ty in f32 f16; do
        local gguf="$WORK/tinyllama-$ty.gguf"
        [ -f "$gguf" ] || $PY "$HERE/safetensors_to_gguf.py" "$model" "$gguf" --type "$ty"
    done
    lscpu | grep -E '^Model name' >&2
    # node-llama-cpp's default (flash attention off), then with it on (llama.cpp's own tools default to "auto")
    for fa in "" --flash-attn; do
        for ty in f32 f16; do
            wait_quiet
            node "$HERE/bench_llamacpp.mjs" "$WORK/tinyllama-$ty.gguf" --threads "$THREADS" --tokens "$T" \
                --decode "$N_DECODE" --runs "$RUNS" $fa
            echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
        done
    done
    # The machine's own baselines (best GEMM per OpenBLAS core type, memory read
    # bandwidth), then SuperLens on the same weights (f32, and bf16 of the same
    # shape), and PyTorch, in the same run, when they are there
    if [ -x "$BUILD/bin/bench_machine" ]; then
        wait_quiet
        "$BUILD/bin/bench_machine" --tokens "$T" --json
    fi
    if [ -x "$BUILD/bin/bench_forward" ]; then
        local bf16="$WORK/tinyllama-bf16"
        [ -f "$bf16/model.safetensors" ] ||
            $PY "$ROOT/bench/make_checkpoint.py" --preset tinyllama --dtype bf16 --out "$bf16"
        for m in "$model" "$bf16"; do
            wait_quiet
            "$BUILD/bin/bench_forward" "$m" --tokens "$T" --decode "$N_DECODE" --repeat "$RUNS" --json
            echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
        done
    fi
    if $PY -c "import torch" 2>/dev/null; then
        wait_quiet
        $PY "$ROOT/bench/pytorch_baseline.py" "$model" --tokens "$T" --repeat "$RUNS"
        echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    fi
}

# One line per measurement: "round R what load=L" then the tool's JSON.
ab() {
    ensure_installed
    local bf16="$WORK/tinyllama-bf16" f32="$WORK/tinyllama-f32" rounds=${ROUNDS:-3}
    local amx=0
    grep -q amx_bf16 /proc/cpuinfo && amx=1
    lscpu | grep -E '^Model name' >&2
    for r in $(seq 1 "$rounds"); do
        for ty in f16 f32; do
            echo "round $r llama.cpp-$ty load=$(cut -d' ' -f1 /proc/loadavg)"
            node "$HERE/bench_llamacpp.mjs" "$WORK/tinyllama-$ty.gguf" --threads "$THREADS" --tokens "$T" \
                --decode "$N_DECODE" --runs 1
        done
        local paths="auto blas"
        [ "$amx" = 1 ] && paths="auto blas amx"
        for m in "$bf16" "$f32"; do
            for p in $paths; do
                # SUPERLENS_GEMM=amx only differs from auto for f32/f16 weights
                [ "$p" = amx ] && [ "$m" = "$bf16" ] && continue
                echo "round $r superlens-$(basename "$m")-$p load=$(cut -d' ' -f1 /proc/loadavg)"
                SUPERLENS_GEMM=$p "$BUILD/bin/bench_forward" "$m" --tokens "$T" --decode "$N_DECODE" --repeat 2 \
                    --no-blas-baseline --json
            done
        done
    done
}

case "${1:-all}" in
    install) install ;;
    check) check ;;
    bench) bench ;;
    all) install; check; bench ;;
    ab) ab ;;
    *) echo "usage: $0 [install|check|bench|all|ab]" >&2; exit 2 ;;
esac
