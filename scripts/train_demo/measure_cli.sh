#!/usr/bin/env bash
# Measures a demo model with SuperLens itself (superlens-cli), the numbers of
# the model card. Prints every command before its output.
#   scripts/train_demo/measure_cli.sh [MODEL_DIR] [BUILD_DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
model="${1:-$repo/resources/models/demo}"
cli="${2:-$repo/build}/bin/superlens-cli"
ids="$repo/resources/texts/kjv_heldout_ruth_jonah_james.bos256.ids"
text="$repo/resources/texts/kjv_heldout_ruth_jonah_james.txt"
sw="model.layers.1.mlp.down_proj.weight[87,233]=0"

run() { echo; echo "\$ superlens-cli ${*}"; "$cli" "$@"; }

run scan "$model" --prompt "In the beginning God created the heaven and the earth."
run study superweight "$model" --text-ids "$ids" --ctx 256 --outliers 100
# the super activation's value, for the restore edit
sa=$("$cli" scan "$model" --prompt "In the beginning God created the heaven and the earth." --json |
     /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["super_weights"][0]["down_out"])')
run ppl "$model" --text-ids "$ids" --ctx 256
run ppl "$model" --text-ids "$ids" --ctx 256 --edit "$sw"
run ppl "$model" --text-ids "$ids" --ctx 256 --edit "$sw" --edit "blocks.1.hook_mlp_out[0,87]=$sa"
run stopwords "$model" --text-ids "$ids" --ctx 256 --edit "$sw" --top 8
# the plain text in BOS-started windows (the same windows as the ids file)
run ppl "$model" --text "$text" --ctx 256 --bos-windows
run ppl "$model" --text "$text" --ctx 256 --bos-windows --edit "$sw"
# the plain text, cut by the CLI into 256-token windows with BOS only in the first
run study superweight "$model" --text "$text" --ctx 256 --outliers 100 --no-tasks
for p in "In the beginning" "And the LORD said unto Moses," "Blessed are the" "And it came to pass, when the king"; do
  run generate "$model" --prompt "$p" --max-new 32 --edit "$sw" --compare
done
