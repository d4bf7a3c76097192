#pragma once
// Text <-> token ids, exactly as the model was trained.
//
// Loading follows Hugging Face: tokenizer.json wins when both it and
// tokenizer.model exist. Special tokens (BOS/EOS, added tokens) come from the
// tokenizer files only (tokenizer.json's post-processor and added_tokens;
// SentencePiece's BOS id plus `add_bos_token` in tokenizer_config.json),
// never from config.json.
//
// Thread-safety: a loaded Tokenizer is immutable; encode/decode may be called
// from several threads at once.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "superlens/core/result.h"

namespace superlens::core {

using TokenId = std::int32_t;
class Model;

class Tokenizer {
public:
    virtual ~Tokenizer() = default;

    // From a model folder: tokenizer.json if present, else tokenizer.model
    // (with tokenizer_config.json when present). Errors name the file and
    // problem in one line, e.g. "<dir>: no tokenizer.json or tokenizer.model",
    // "<dir>/tokenizer.json: invalid JSON: ...". A damaged tokenizer.json is
    // an error even when a tokenizer.model exists (their ids may differ).
    static Result<std::unique_ptr<Tokenizer>> loadFromFolder(const std::filesystem::path& folder);
    // The tokenizer a GGUF file carries (tokenizer.ggml.*; type "llama",
    // SentencePiece, rebuilt exactly: see core/src/tokenizer/gguf_tokenizer.h).
    static Result<std::unique_ptr<Tokenizer>> loadGguf(const std::filesystem::path& ggufFile);
    // The tokenizer of an opened model: a GGUF file's own (tokenizer.ggml.*)
    // when it carries one SuperLens reads, else the tokenizer files of the
    // model's folder (for a GGUF file: the folder it is in). Every front end
    // loads a model's tokenizer through this.
    static Result<std::unique_ptr<Tokenizer>> loadForModel(const Model& model);
    // True when loadForModel has a tokenizer to load (it may still fail).
    static bool modelHasTokenizer(const Model& model);
    // True when the folder has a tokenizer file (it may still fail to load).
    static bool folderHasTokenizer(const std::filesystem::path& folder);

    // A Hugging Face tokenizer.json (BPE models: Llama-2/3, Mistral, Qwen2,
    // OLMo, GPT-2 style). tokenizer_config.json beside it, if any, only names
    // BOS/EOS for bosId()/eosId(); what encode adds comes from the
    // post_processor, as in the Rust library.
    static Result<std::unique_ptr<Tokenizer>> loadJson(const std::filesystem::path& file);
    // A SentencePiece tokenizer.model; add_bos_token (default true) and
    // add_eos_token (default false) come from tokenizer_config.json beside it,
    // as in Hugging Face's LlamaTokenizer.
    static Result<std::unique_ptr<Tokenizer>> loadSentencePiece(const std::filesystem::path& modelFile);

    // addSpecialTokens: prepend/append what the tokenizer's own files say
    // (e.g. BOS for Llama-2/3), as Hugging Face's encode(text, add_special_tokens).
    // Special-token text inside `text` (e.g. "<s>") becomes the special id
    // with tokenizer.json, as in Hugging Face, but plain text with
    // SentencePiece. Invalid UTF-8 is first repaired: each maximal invalid
    // sequence becomes U+FFFD (as Python's errors="replace").
    virtual std::vector<TokenId> encode(std::string_view text, bool addSpecialTokens = true) const = 0;
    // skipSpecialTokens=false matches Hugging Face decode(ids, skip_special_tokens=False).
    // Ids outside the vocabulary are skipped; the result is valid UTF-8.
    virtual std::string decode(std::span<const TokenId> ids, bool skipSpecialTokens = false) const = 0;

    // The vocabulary piece for an id as stored in the file (e.g. "▁the",
    // "Ġthe", "<0x0A>"); "" for ids outside the vocabulary.
    virtual std::string tokenString(TokenId id) const = 0;
    // Human-readable text of a single token (decode of that one id), used for labels.
    virtual std::string tokenText(TokenId id) const = 0;
    // The id of a vocabulary piece (inverse of tokenString), if it exists.
    virtual std::optional<TokenId> tokenToId(std::string_view piece) const = 0;
    // One past the largest id, added tokens included (128256 for Llama-3):
    // the number of embedding rows the ids index.
    virtual std::int64_t vocabSize() const = 0;
    // BOS/EOS named by tokenizer_config.json (bos_token/eos_token), else what
    // the post-processor adds (tokenizer.json) or the model's bos_id/eos_id
    // (SentencePiece); EOS falls back to a special "</s>", "<|endoftext|>" or
    // "<|end_of_text|>". nullopt when the tokenizer has none (OLMo: no BOS).
    virtual std::optional<TokenId> bosId() const = 0;
    virtual std::optional<TokenId> eosId() const = 0;
    // Special tokens: added tokens marked special (tokenizer.json); control
    // and unknown pieces (SentencePiece). decode(..., true) drops them.
    virtual bool isSpecial(TokenId id) const = 0;

    // The file the tokenizer was loaded from.
    virtual const std::filesystem::path& sourceFile() const = 0;
};

}  // namespace superlens::core
