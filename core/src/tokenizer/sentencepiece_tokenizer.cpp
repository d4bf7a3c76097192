#include "tokenizer/sentencepiece_tokenizer.h"
#include "superlens/core/model/mapped_file.h"

#include "tokenizer/sentencepiece_check.h"
#include "tokenizer/tokenizer_config.h"
#include "tokenizer/tokenizer_json_reader.h"
#include "tokenizer/unicode.h"

namespace superlens::core {

Result<std::unique_ptr<Tokenizer>> SentencePieceTokenizer::load(const std::filesystem::path& modelFile) {
    // SentencePiece models are a few MB (Gemma's 256k vocabulary: 4.2 MB).
    auto bytes = readRegularFile(modelFile, std::size_t{256} << 20);
    if (!bytes) return bytes.error();
    auto config = readTokenizerConfig(modelFile.parent_path() / "tokenizer_config.json");
    if (!config) return config.error();
    return fromSerialized(bytes.value(), modelFile, config->addBosToken.value_or(true), config->addEosToken.value_or(false));
}

Result<std::unique_ptr<Tokenizer>> SentencePieceTokenizer::fromSerialized(const std::string& bytes, const std::filesystem::path& sourceFile, bool addBos,
                                                                          bool addEos) {
    // libsentencepiece trusts the normalization tables inside the model.
    SL_TRY(checkSentencePieceModel(bytes, sourceFile));
    std::unique_ptr<SentencePieceTokenizer> tok(new SentencePieceTokenizer());
    tok->m_file = sourceFile;
    const auto status = tok->m_processor.LoadFromSerializedProto(bytes);
    if (!status.ok())
        return Error{sourceFile.string() + ": not a valid SentencePiece model: " + std::string(status.message())};
    // An empty or foreign file can parse as an empty protobuf.
    if (tok->m_processor.GetPieceSize() == 0) return Error{sourceFile.string() + ": SentencePiece model has no pieces"};
    tok->m_addBos = addBos;
    tok->m_addEos = addEos;
    return std::unique_ptr<Tokenizer>(std::move(tok));
}

std::vector<TokenId> SentencePieceTokenizer::encode(std::string_view text, bool addSpecialTokens) const {
    std::vector<int> pieces;
    if (!m_processor.Encode(unicode::sanitize(text), &pieces).ok()) pieces.clear();
    std::vector<TokenId> ids;
    ids.reserve(pieces.size() + 2);
    if (addSpecialTokens && m_addBos && m_processor.bos_id() >= 0) ids.push_back(m_processor.bos_id());
    ids.insert(ids.end(), pieces.begin(), pieces.end());
    if (addSpecialTokens && m_addEos && m_processor.eos_id() >= 0) ids.push_back(m_processor.eos_id());
    return ids;
}

std::string SentencePieceTokenizer::decode(std::span<const TokenId> ids, bool skipSpecialTokens) const {
    // SentencePiece itself drops control pieces (<s>, </s>); skipping also
    // drops <unk>, as HF's slow tokenizer does for its special tokens.
    std::vector<int> kept;
    kept.reserve(ids.size());
    for (const TokenId id : ids) {
        if (!inRange(id)) continue;
        if (skipSpecialTokens && isSpecial(id)) continue;
        kept.push_back(id);
    }
    std::string text;
    if (!m_processor.Decode(kept, &text).ok()) text.clear();
    return text;
}

std::string SentencePieceTokenizer::tokenString(TokenId id) const {
    return inRange(id) ? m_processor.IdToPiece(id) : std::string();
}

std::string SentencePieceTokenizer::tokenText(TokenId id) const {
    const TokenId one[] = {id};
    return decode(one, false);
}

std::optional<TokenId> SentencePieceTokenizer::tokenToId(std::string_view piece) const {
    const int id = m_processor.PieceToId(piece);
    // Unknown pieces map to unk_id: only the unk piece itself really is it.
    if (!inRange(id) || m_processor.IdToPiece(id) != piece) return std::nullopt;
    return id;
}

std::optional<TokenId> SentencePieceTokenizer::bosId() const {
    const int id = m_processor.bos_id();
    return inRange(id) ? std::optional<TokenId>(id) : std::nullopt;
}

std::optional<TokenId> SentencePieceTokenizer::eosId() const {
    const int id = m_processor.eos_id();
    return inRange(id) ? std::optional<TokenId>(id) : std::nullopt;
}

bool SentencePieceTokenizer::isSpecial(TokenId id) const {
    return inRange(id) && (m_processor.IsControl(id) || m_processor.IsUnknown(id));
}

}  // namespace superlens::core
