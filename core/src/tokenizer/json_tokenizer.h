#pragma once
// A Hugging Face tokenizer.json (BPE model) as a Tokenizer: added tokens,
// normalizer, pre-tokenizer, BPE, post-processor and decoder, each doing what
// the Rust `tokenizers` library does so ids match it exactly.
//
// Not supported (load error naming them): Unigram/WordPiece/WordLevel
// models and components outside the lists in normalizers.h, pre_tokenizers.h,
// post_processors.h, decoders.h. Ignored: truncation, padding, BPE dropout
// (inference never uses it), pair templates.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "superlens/core/tokenizer/tokenizer.h"
#include "tokenizer/added_vocabulary.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/decoders.h"
#include "tokenizer/normalizers.h"
#include "tokenizer/post_processors.h"
#include "tokenizer/pre_tokenizers.h"
#include "tokenizer/tokenizer_config.h"
#include "tokenizer/tokenizer_json_reader.h"

namespace superlens::core {

class JsonTokenizer final : public Tokenizer {
public:
    // Reads tokenizer_config.json beside the file for the BOS/EOS names.
    static Result<std::unique_ptr<Tokenizer>> load(const std::filesystem::path& file);
    // From parsed contents, with the BOS/EOS names given (a GGUF file's).
    static Result<std::unique_ptr<Tokenizer>> fromContents(TokenizerJsonContents contents, const std::filesystem::path& file,
                                                            const TokenizerConfig& config);

    std::vector<TokenId> encode(std::string_view text, bool addSpecialTokens) const override;
    std::string decode(std::span<const TokenId> ids, bool skipSpecialTokens) const override;
    std::string tokenString(TokenId id) const override;
    std::string tokenText(TokenId id) const override;
    std::optional<TokenId> tokenToId(std::string_view piece) const override;
    std::int64_t vocabSize() const override { return m_vocabSize; }
    std::optional<TokenId> bosId() const override { return m_bos; }
    std::optional<TokenId> eosId() const override { return m_eos; }
    bool isSpecial(TokenId id) const override;
    const std::filesystem::path& sourceFile() const override { return m_file; }

private:
    const std::string* idToString(TokenId id) const;

    std::filesystem::path m_file;
    std::unique_ptr<Normalizer> m_normalizer;
    std::unique_ptr<PreTokenizer> m_preTokenizer;
    std::unique_ptr<BpeModel> m_model;
    std::unique_ptr<PostProcessor> m_postProcessor;
    std::unique_ptr<Decoder> m_decoder;
    AddedVocabulary m_added;
    std::optional<TokenId> m_bos;
    std::optional<TokenId> m_eos;
    std::int64_t m_vocabSize = 0;
};

}  // namespace superlens::core
