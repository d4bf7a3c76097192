#pragma once
// Checks a serialized SentencePiece ModelProto before libsentencepiece sees
// it. libsentencepiece trusts the normalization rules a model carries
// (NormalizerSpec.precompiled_charsmap: a darts-clone double-array trie and
// the replacement strings it points into): it walks the trie with the input
// text's bytes without bounds checks, so a crafted tokenizer.model crashed
// `tokenize` inside SentencePiece's normalizer (issue 15). It also refuses
// pieces that are empty or hold a NUL byte (libsentencepiece's trie builder
// throws on them, uncaught: found by fuzz_tokenizer_model). This check walks
// every trie state any text can reach and refuses the model unless each unit
// read lies inside the trie and each replacement inside the string table,
// NUL-terminated.

#include <cstddef>
#include <filesystem>
#include <string_view>

#include "superlens/core/result.h"

namespace superlens::core {

// Largest precompiled_charsmap accepted: SentencePiece's own NFKC tables
// are about 240 KB; the walk costs up to 256 steps per trie unit.
inline constexpr std::size_t kMaxSentencePieceCharsmapBytes = std::size_t{4} << 20;

// Errors: "<file>: not a valid SentencePiece model: ..." naming the field.
Status checkSentencePieceModel(std::string_view serialized, const std::filesystem::path& file);

}  // namespace superlens::core
