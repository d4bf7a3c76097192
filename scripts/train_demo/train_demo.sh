#!/usr/bin/env bash
# Regenerates the bundled demo model (resources/models/demo) from scratch:
# corpus dump -> SentencePiece tokenizer -> training with the shipped recipe
# (train.py's DEFAULT_RECIPE, fixed seeds) -> export -> held-out id windows ->
# PyTorch evaluation. Not run by CI or tests. One training process, one thread;
# about 8-10 minutes on the 2-core development machine when a core is free.
#
#   scripts/train_demo/setup.sh          # once, as root: bible-kjv, python3-torch, sentencepiece
#   scripts/train_demo/train_demo.sh     # [OUT_DIR] (default resources/models/demo);
#                                        # WORK=DIR for the intermediate files (default scripts/train_demo/work)
#
# Then measure with SuperLens itself (see resources/models/demo/README.md):
#   build/bin/superlens-cli study superweight resources/models/demo \
#       --text-ids resources/texts/kjv_heldout_ruth_jonah_james.bos256.ids --ctx 256 --outliers 100
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$repo/resources/models/demo}"
work="${WORK:-$here/work}"
py=/usr/bin/python3   # Debian's python3-torch and python3-sentencepiece

"$py" "$here/prepare_corpus.py" --work "$work"
VOCAB_SIZE=2048 bash "$here/train_tokenizer.sh" "$work"
"$py" "$here/train.py" --work "$work" --name demo
"$py" "$here/export.py" "$work/demo.pt" "$out" --tokenizer "$work/tokenizer.model"
"$py" "$here/make_eval_ids.py" "$work/tokenizer.model" "$work/heldout.txt" "$work/heldout.bos256.ids" --ctx 256
"$py" "$here/evaluate.py" --model "$out" --text "$work/heldout.txt" --ctx 256 --json "$work/eval.json"
echo "model in $out; held-out id windows in $work/heldout.bos256.ids"
