#pragma once
// A SentencePiece tokenizer.model as a Tokenizer, through libsentencepiece,
// with BOS/EOS added as Hugging Face's LlamaTokenizer does: add_bos_token
// (default true) and add_eos_token (default false) from tokenizer_config.json
// beside the model, using the model's own bos_id/eos_id.

#include <filesystem>
#include <memory>

#include <sentencepiece_processor.h>

#include "superlens/core/tokenizer/tokenizer.h"

namespace superlens::core {

class SentencePieceTokenizer final : public Tokenizer {
public:
    static Result<std::unique_ptr<Tokenizer>> load(const std::filesystem::path& modelFile);
    // A serialized ModelProto (a tokenizer.model's bytes, or one built from a
    // GGUF file's tokenizer.ggml.* arrays); sourceFile names it in errors.
    static Result<std::unique_ptr<Tokenizer>> fromSerialized(const std::string& bytes, const std::filesystem::path& sourceFile, bool addBos,
                                                              bool addEos);

    std::vector<TokenId> encode(std::string_view text, bool addSpecialTokens) const override;
    std::string decode(std::span<const TokenId> ids, bool skipSpecialTokens) const override;
    std::string tokenString(TokenId id) const override;
    std::string tokenText(TokenId id) const override;
    std::optional<TokenId> tokenToId(std::string_view piece) const override;
    std::int64_t vocabSize() const override { return m_processor.GetPieceSize(); }
    std::optional<TokenId> bosId() const override;
    std::optional<TokenId> eosId() const override;
    bool isSpecial(TokenId id) const override;
    const std::filesystem::path& sourceFile() const override { return m_file; }

private:
    bool inRange(TokenId id) const { return id >= 0 && id < m_processor.GetPieceSize(); }

    std::filesystem::path m_file;
    sentencepiece::SentencePieceProcessor m_processor;
    bool m_addBos = true;
    bool m_addEos = false;
};

}  // namespace superlens::core
