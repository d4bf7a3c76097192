#!/bin/bash
# superlens-cli figure: every kind renders valid PDF/SVG/PNG with a CSV; bad
# input exits 1 with one error line. superlens --screenshot: a PNG of at
# least 1280x800, exit 0. Uses the llama-planted reference model (ids only).
set -u
BIN="${SUPERLENS_BIN_DIR:?}"
MODEL="${SUPERLENS_TEST_DATA:?}/reference/llama-planted"
IDS="1,5,77,130,12,200,99,31,250,64"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
export QT_QPA_PLATFORM=offscreen
pass=0
fail=0
check() {  # check NAME COMMAND...
    local name="$1"
    shift
    if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $name" >&2; fi
}
png_size() {  # width x height from the IHDR chunk
    python3 -c "import struct,sys; d=open(sys.argv[1],'rb').read(24); print('%dx%d' % struct.unpack('>II', d[16:24]))" "$1"
}

for kind in spikes layer propagation massive logits attention; do
    check "$kind pdf" "$BIN/superlens-cli" figure "$kind" "$MODEL" --ids "$IDS" --edit 'model.layers.1.mlp.down_proj.weight[13,57]=0' --out "$OUT/$kind.pdf"
    check "$kind pdf header" test "$(head -c 4 "$OUT/$kind.pdf")" = "%PDF"
    check "$kind csv" test -s "$OUT/$kind.csv"
done
check "svg" "$BIN/superlens-cli" figure spikes "$MODEL" --ids "$IDS" --out "$OUT/s.svg"
check "svg root" grep -q "<svg" "$OUT/s.svg"
check "png" "$BIN/superlens-cli" figure logits "$MODEL" --ids "$IDS" --out "$OUT/l.png" --dpi 200
check "png size" test "$(png_size "$OUT/l.png")" = "700x519"
check "png two-column" "$BIN/superlens-cli" figure attention "$MODEL" --ids "$IDS" --out "$OUT/a.png" --width two --dpi 100
check "png two-column size" test "$(png_size "$OUT/a.png" | cut -dx -f1)" = "700"
check "json" bash -c "'$BIN/superlens-cli' figure layer '$MODEL' --ids '$IDS' --layer 1 --out '$OUT/j.svg' --json | python3 -c 'import json,sys; j=json.load(sys.stdin); assert j[\"layer\"]==1 and j[\"super_weights\"][0]==dict(layer=1,row=13,col=57), j'"

"$BIN/superlens-cli" figure nosuchkind "$MODEL" --ids "$IDS" --out "$OUT/x.pdf" 2> "$OUT/err.txt"
check "unknown kind exits 1" test $? -eq 1
check "unknown kind names the kinds" grep -q "spikes, layer" "$OUT/err.txt"
"$BIN/superlens-cli" figure spikes "$MODEL" --ids "$IDS" --out "$OUT/x.gif" 2> /dev/null
check "unknown format exits 1" test $? -eq 1
"$BIN/superlens-cli" figure spikes "$MODEL" --out "$OUT/x.pdf" 2> /dev/null
check "missing input exits 2" test $? -eq 2

if [ -x "$BIN/superlens" ]; then
    check "screenshot" "$BIN/superlens" --model "$MODEL" --ids "$IDS" --edit 'model.layers.1.mlp.down_proj.weight[13,57]=0' --screenshot "$OUT/shot.png" --view propagation
    size="$(png_size "$OUT/shot.png")"
    check "screenshot >= 1280x800 ($size)" test "${size%x*}" -ge 1280 -a "${size#*x}" -ge 800
    "$BIN/superlens" --model "$OUT/missing" --ids "$IDS" --screenshot "$OUT/bad.png" 2> /dev/null
    check "screenshot of a missing model exits 1" test $? -eq 1
fi
echo "$pass passed, $fail failed"
test "$fail" -eq 0
