#!/usr/bin/env bash
# Trains the demo model's SentencePiece tokenizer on the training verses with
# Debian's spm_train (package `sentencepiece`). Settings follow Llama-2's
# tokenizer.model (BPE, byte fallback, identity normalization, dummy prefix,
# digits split, unk=0 bos=1 eos=2, no pad), so any reader that handles
# Llama-2's tokenizer handles this one.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-$here/work}"
vocab="${VOCAB_SIZE:-2048}"
spm_train \
  --input="$work/verses.txt" \
  --model_prefix="$work/tokenizer" \
  --model_type=bpe \
  --vocab_size="$vocab" \
  --character_coverage=1.0 \
  --byte_fallback=true \
  --split_digits=true \
  --normalization_rule_name=identity \
  --add_dummy_prefix=true \
  --remove_extra_whitespaces=false \
  --allow_whitespace_only_pieces=true \
  --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1 \
  --input_sentence_size=0 --shuffle_input_sentence=false \
  --num_threads=1 \
  --minloglevel=1
echo "tokenizer: $work/tokenizer.model ($vocab pieces)"
