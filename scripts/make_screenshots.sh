#!/usr/bin/env bash
# Remakes the screenshots in docs/screenshots/ from the bundled demo model with
# the app's own screenshot mode (offscreen, no display needed).
#   usage: scripts/make_screenshots.sh [BUILD_DIR]     (default: build)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
app="${1:-$here/build}/bin/superlens"
model="$here/resources/models/demo"
out="$here/docs/screenshots"
prompt="In the beginning God created the heaven and the earth."
edit="model.layers.1.mlp.down_proj.weight[87,233]=0"   # the demo's super weight (model card)
export QT_QPA_PLATFORM=offscreen SUPERLENS_RUN_CACHE=off

shot() {  # shot NAME [app arguments...]
  local name=$1; shift
  "$app" --model "$model" --prompt "$prompt" --screenshot "$out/$name.png" "$@" 2>/dev/null
}
shot main-window --view spikes
shot layer --view layer --layer 1
shot propagation --view propagation --edit "$edit"
shot massive --view massive --layer 3 --edit "$edit"
shot logits --view logits --edit "$edit"
shot attention --view attention --layer 3
shot lens --view lens --edit "$edit"
shot sinks --view sinks --edit "$edit"
shot loss --view loss --edit "$edit"
shot loss-heldout --view loss --edit "$edit" --held-out-loss
# Two runs of the history compared: the super weight zeroed (run 1) vs doubled (run 2).
shot history --view loss --edit "$edit" --compare-edit "${edit%=0}*=2"
# The Experts view on the mixture-of-experts test fixture (planted super expert L1 E0, pruned).
"$app" --model "$here/tests/data/moe/mixtral-bf16" --ids 1,5,77,30,12,100,99,31,120,64 --edit "expert:1:0=off" \
  --view experts --screenshot "$out/experts.png" 2>/dev/null
# Vision (issue 18): the Patch grid on DINOv2 with registers. The test image is
# 2x2 patches after the processor's crop, so the screenshot reads a 24x32
# pixel_values tensor drawn here (sky, sun, ground; normalised with DINOv2's
# mean and std): a 6x8 grid, position embeddings interpolated. The edit plants a
# massive activation (50) in channel 3 of CLS after block 1, as the edited side.
scene="$(mktemp -d)"
trap 'rm -rf "$scene"' EXIT
/usr/bin/python3 - "$scene/scene.npy" <<'PY'
import sys
import numpy as np
h, w = 24, 32
y, x = np.mgrid[0:h, 0:w].astype(np.float64)
img = np.zeros((h, w, 3))
img[..., 0] = 0.35 + 0.3 * y / h
img[..., 1] = 0.55 + 0.2 * y / h
img[..., 2] = 0.95 - 0.2 * y / h
sun = (x - 23.5) ** 2 + (y - 6.5) ** 2 < 16
img[sun] = [1.0, 0.85, 0.2]
ground = y > 16 + 2 * np.sin(x / 5)
img[ground] = np.stack([0.25 + 0.1 * np.sin(x / 3), 0.5 + 0.1 * np.cos(y / 2), 0.2 + 0 * x], -1)[ground]
mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
np.save(sys.argv[1], ((img - mean) / std).transpose(2, 0, 1)[None].astype(np.float32))
PY
"$app" --model "$here/tests/data/vision/dinov2-registers-bf16" --image "$scene/scene.npy" --edit "blocks.1.hook_resid_post[0,3]=50" \
  --view patches --layer 2 --screenshot "$out/patch-grid.png" 2>/dev/null
# An encoder's attention: bidirectional, the full matrix (RoBERTa test fixture).
"$app" --model "$here/tests/data/encoders/roberta-f32" --prompt "The capital of France is <mask>." \
  --view attention --layer 1 --screenshot "$out/encoder-attention.png" 2>/dev/null
# The Compare view (issue 19): the GGUF fixture checkpoint against its Q4_K quantization, written by the
# fixture script (as the gguf_quant_files test does) into a temporary folder.
quant="$(mktemp -d)"
trap 'rm -rf "$scene" "$quant"' EXIT
/usr/bin/python3 "$here/scripts/fixtures/make_gguf_models.py" --quantize "$quant" >/dev/null
"$app" --model "$here/tests/data/gguf/llama-q256" --ids 1,5,77,130,12,200,99,31,250,64 \
  --compare-with "$quant/llama-q256-Q4_K.gguf" --view compare --screenshot "$out/compare.png" 2>/dev/null
# Issue 23: the super-weight study (Studies ▸ Super-weight study…, or superlens-cli study superweight): the demo's
# four conditions with their 95% intervals, the null control (K = 20 random same-size changes per scope,
# the Ablations panel's "Null distribution…"), and the joint ablation's interaction matrix on the
# two-super-weight Phi-3 fixture (token ids; the planted activations sit on the first token).
cli="${1:-$here/build}/bin/superlens-cli"
sw="$(mktemp -d)"
trap 'rm -rf "$scene" "$quant" "$sw"' EXIT
"$cli" study superweight "$model" --text-ids "$here/resources/texts/kjv_heldout_ruth_jonah_james.bos256.ids" --ctx 256 \
  --null 20 --json > "$sw/demo.json"
shot superweight-study --study "$sw/demo.json" --study-state show=conditions --study-state metric=ppl
shot superweight-null --study "$sw/demo.json" --study-state show=null
/usr/bin/python3 -c 'import sys; ids = [1] + [x for x in ((i * 37 + 5) % 256 for i in range(1, 200)) if x != 1][:63]; print(" ".join(map(str, ids)))' \
  > "$sw/ids.txt"
"$cli" study superweight "$here/tests/data/reference/phi3-bf16-two-super-weights" --text-ids "$sw/ids.txt" --ctx 16 --joint --null 20 \
  --json > "$sw/phi3.json"
"$app" --model "$here/tests/data/reference/phi3-bf16-two-super-weights" --ids 1,5,77,130,12,200,99,31,250,64 --study "$sw/phi3.json" \
  --study-state show=joint --screenshot "$out/superweight-joint.png" 2>/dev/null
