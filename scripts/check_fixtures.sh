#!/usr/bin/env bash
# Proves that the committed test fixtures are what the project's scripts make:
# regenerates them into a temporary folder and compares byte for byte.
#   - tests/data/reference/** and tests/data/stories260K/reference.json
#     (scripts/fixtures/make_reference_models.py, float64, fixed seeds);
#   - tests/data/families/** but its README.md
#     (scripts/fixtures/make_family_models.py, float64, fixed seeds);
#   - tests/data/moe/** but its README.md
#     (scripts/fixtures/make_moe_models.py, float64, fixed seeds);
#   - tests/data/encoders/** but its README.md, mlm_text.txt (hand-written
#     study text) and the roberta-tiny-hf
#     tokenizer files (scripts/fixtures/make_encoder_models.py,
#     scripts/fixtures/tokenizers/make_roberta_tiny.py);
#   - tests/data/vision/** but its README.md (scripts/fixtures/make_vision_models.py);
#   - tests/data/vision-massive/** but its README.md (scripts/fixtures/make_vision_massive.py);
#   - tests/data/gguf/** but its README.md (scripts/fixtures/make_gguf_models.py);
#   - tests/data/tokenizers/*-spm/expected.jsonl (SentencePiece);
#   - tests/data/tokenizers/*-hf/expected.jsonl (Hugging Face tokenizers through
#     its npm Node binding), unless --offline.
# One line per file; exits 1 on any difference.
#
#   usage: scripts/check_fixtures.sh [--offline]
#     --offline  skip the Hugging Face expectations, which need the npm registry
#                (CTest's fixtures_reproducible runs this form)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="$here/tests/data"
py=/usr/bin/python3   # Debian's python, with python3-numpy and python3-sentencepiece

offline=0
for arg in "$@"; do
  case "$arg" in
    --offline) offline=1 ;;
    -h|--help) sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "check_fixtures: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

same=0; different=0
compare() {  # compare RELATIVE_PATH REGENERATED_FILE
  if [ ! -f "$data/$1" ]; then
    echo "missing    $1 (regenerated, not committed)"; different=$((different + 1))
  elif cmp -s "$2" "$data/$1"; then
    echo "same       $1"; same=$((same + 1))
  else
    echo "DIFFERENT  $1"; different=$((different + 1))
  fi
}

# Reference checkpoints and their float64 answers; stories260K's answers.
"$py" "$here/scripts/fixtures/make_reference_models.py" --out "$tmp/data" --stories "$data/stories260K" > "$tmp/log" \
  || { cat "$tmp/log" >&2; echo "check_fixtures: make_reference_models.py failed" >&2; exit 1; }
while IFS= read -r -d '' f; do
  compare "${f#"$tmp/data/"}" "$f"
done < <(find "$tmp/data" -type f -print0 | sort -z)
# a committed reference file that nothing regenerates is a difference too
while IFS= read -r -d '' f; do
  rel="${f#"$data/"}"
  [ -f "$tmp/data/$rel" ] || { echo "orphan     $rel (committed, not regenerated)"; different=$((different + 1)); }
done < <(find "$data/reference" -type f -print0 | sort -z)

# Model-family checkpoints and their float64 answers.
"$py" "$here/scripts/fixtures/make_family_models.py" --out "$tmp/families" > "$tmp/families.log" \
  || { cat "$tmp/families.log" >&2; echo "check_fixtures: make_family_models.py failed" >&2; exit 1; }
while IFS= read -r -d '' f; do
  compare "families/${f#"$tmp/families/"}" "$f"
done < <(find "$tmp/families" -type f -print0 | sort -z)
while IFS= read -r -d '' f; do
  rel="${f#"$data/families/"}"
  [ "$rel" = README.md ] || [ -f "$tmp/families/$rel" ] \
    || { echo "orphan     families/$rel (committed, not regenerated)"; different=$((different + 1)); }
done < <(find "$data/families" -type f -print0 | sort -z)

# Mixture-of-experts checkpoints and their float64 answers.
"$py" "$here/scripts/fixtures/make_moe_models.py" --out "$tmp/moe" > "$tmp/moe.log" \
  || { cat "$tmp/moe.log" >&2; echo "check_fixtures: make_moe_models.py failed" >&2; exit 1; }
while IFS= read -r -d '' f; do
  compare "moe/${f#"$tmp/moe/"}" "$f"
done < <(find "$tmp/moe" -type f -print0 | sort -z)
while IFS= read -r -d '' f; do
  rel="${f#"$data/moe/"}"
  [ "$rel" = README.md ] || [ -f "$tmp/moe/$rel" ] \
    || { echo "orphan     moe/$rel (committed, not regenerated)"; different=$((different + 1)); }
done < <(find "$data/moe" -type f -print0 | sort -z)

# Encoder checkpoints (BERT, RoBERTa) and their float64 answers; the tiny
# RoBERTa tokenizer files they copy.
"$py" "$here/scripts/fixtures/tokenizers/make_roberta_tiny.py" "$tmp/roberta-tiny-hf" > "$tmp/roberta.log" \
  || { cat "$tmp/roberta.log" >&2; echo "check_fixtures: make_roberta_tiny.py failed" >&2; exit 1; }
for f in tokenizer.json tokenizer_config.json; do
  compare "tokenizers/roberta-tiny-hf/$f" "$tmp/roberta-tiny-hf/$f"
done
"$py" "$here/scripts/fixtures/make_encoder_models.py" --out "$tmp/encoders" > "$tmp/encoders.log" \
  || { cat "$tmp/encoders.log" >&2; echo "check_fixtures: make_encoder_models.py failed" >&2; exit 1; }
while IFS= read -r -d '' f; do
  compare "encoders/${f#"$tmp/encoders/"}" "$f"
done < <(find "$tmp/encoders" -type f -print0 | sort -z)
while IFS= read -r -d '' f; do
  rel="${f#"$data/encoders/"}"
  [ "$rel" = README.md ] || [ "$rel" = mlm_text.txt ] || [ -f "$tmp/encoders/$rel" ] \
    || { echo "orphan     encoders/$rel (committed, not regenerated)"; different=$((different + 1)); }
done < <(find "$data/encoders" -type f -print0 | sort -z)

# Vision-encoder checkpoints, their pixels.npy and float64 answers.
"$py" "$here/scripts/fixtures/make_vision_models.py" --out "$tmp/vision" > "$tmp/vision.log" \
  || { cat "$tmp/vision.log" >&2; echo "check_fixtures: make_vision_models.py failed" >&2; exit 1; }
while IFS= read -r -d '' f; do
  compare "vision/${f#"$tmp/vision/"}" "$f"
done < <(find "$tmp/vision" -type f -print0 | sort -z)
while IFS= read -r -d '' f; do
  rel="${f#"$data/vision/"}"
  [ "$rel" = README.md ] || [ -f "$tmp/vision/$rel" ] \
    || { echo "orphan     vision/$rel (committed, not regenerated)"; different=$((different + 1)); }
done < <(find "$data/vision" -type f -print0 | sort -z)

"$py" "$here/scripts/fixtures/make_vision_massive.py" --out "$tmp/vision-massive" > "$tmp/vision-massive.log" \
  || { cat "$tmp/vision-massive.log" >&2; echo "check_fixtures: make_vision_massive.py failed" >&2; exit 1; }
while IFS= read -r -d '' f; do
  compare "vision-massive/${f#"$tmp/vision-massive/"}" "$f"
done < <(find "$tmp/vision-massive" -type f -print0 | sort -z)
while IFS= read -r -d '' f; do
  rel="${f#"$data/vision-massive/"}"
  [ "$rel" = README.md ] || [ -f "$tmp/vision-massive/$rel" ] \
    || { echo "orphan     vision-massive/$rel (committed, not regenerated)"; different=$((different + 1)); }
done < <(find "$data/vision-massive" -type f -print0 | sort -z)

# The checkpoint the GGUF files of every block type are quantized from (the
# GGUF files themselves are written at test time: CTest's gguf_quant_files).
"$py" "$here/scripts/fixtures/make_gguf_models.py" --out "$tmp/gguf" > "$tmp/gguf.log" \
  || { cat "$tmp/gguf.log" >&2; echo "check_fixtures: make_gguf_models.py failed" >&2; exit 1; }
while IFS= read -r -d '' f; do
  compare "gguf/${f#"$tmp/gguf/"}" "$f"
done < <(find "$tmp/gguf" -type f -print0 | sort -z)
while IFS= read -r -d '' f; do
  rel="${f#"$data/gguf/"}"
  [ "$rel" = README.md ] || [ -f "$tmp/gguf/$rel" ] \
    || { echo "orphan     gguf/$rel (committed, not regenerated)"; different=$((different + 1)); }
done < <(find "$data/gguf" -type f -print0 | sort -z)

# SentencePiece expectations (offline).
for dir in "$data"/tokenizers/*-spm/; do
  name="$(basename "$dir")"
  "$py" "$here/scripts/fixtures/tokenizers/spm_expected.py" "$dir/tokenizer.model" "$data/tokenizers/texts.jsonl" \
    "$tmp/$name.jsonl"
  compare "tokenizers/$name/expected.jsonl" "$tmp/$name.jsonl"
done

echo "$same identical, $different different"
if [ "$offline" = 0 ]; then
  # Every expectation, the Hugging Face ones with npm tokenizers (needs the npm registry).
  "$here/scripts/fixtures/tokenizers/regenerate.sh" --check || different=$((different + 1))
fi
[ "$different" = 0 ]
