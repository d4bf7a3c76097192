#pragma once
// The tokenizer a GGUF file carries in its metadata (tokenizer.ggml.*), as
// llama.cpp's convert scripts write it from the original checkpoint.
//
// tokenizer.ggml.model "llama" (SentencePiece BPE: Llama-2, TinyLlama,
// Mistral, Gemma): the pieces, scores and token types are rebuilt into a
// SentencePiece ModelProto (identity normalizer, add_space_prefix as the
// dummy prefix, byte fallback when the vocabulary has <0xXX> byte pieces) and
// run by libsentencepiece, so ids are those of the original tokenizer.model.
// tokenizer.ggml.model "gpt2" (byte-level BPE: GPT-2, Llama-3, Qwen2/3) is
// rebuilt as the Hugging Face tokenizer.json of its family — vocabulary,
// merges, control/user-defined tokens as added tokens, and the split regex,
// normalizer and ignore_merges that tokenizer.ggml.pre names (gpt-2,
// llama-bpe, qwen2) — and run by the tokenizer.json engine.
// Other tokenizer types and pre-tokenizers are refused in one line naming them.

#include <filesystem>
#include <memory>

#include "superlens/core/model/gguf.h"
#include "superlens/core/tokenizer/tokenizer.h"

namespace superlens::core {

// Vocabulary sizes above this are refused (largest published: ~262k).
inline constexpr std::uint64_t kGgufMaxVocabulary = std::uint64_t{1} << 24;

// True when the file has tokenizer.ggml.model.
bool ggufHasTokenizer(const GgufFile& file);

Result<std::unique_ptr<Tokenizer>> loadGgufTokenizer(const GgufFile& file, const std::filesystem::path& path);

}  // namespace superlens::core
