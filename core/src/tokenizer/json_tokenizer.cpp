#include "tokenizer/json_tokenizer.h"

#include <algorithm>

#include "tokenizer/json_fields.h"
#include "tokenizer/tokenizer_config.h"
#include "tokenizer/tokenizer_json_reader.h"
#include "tokenizer/unicode.h"

namespace superlens::core {

namespace {

using json_fields::Json;

Result<BpeOptions> readBpeOptions(const Json& model) {
    BpeOptions options;
    options.unkToken = json_fields::getString(model, "unk_token");
    options.continuingSubwordPrefix = json_fields::getString(model, "continuing_subword_prefix");
    options.endOfWordSuffix = json_fields::getString(model, "end_of_word_suffix");
    options.fuseUnk = json_fields::getBool(model, "fuse_unk", false);
    options.byteFallback = json_fields::getBool(model, "byte_fallback", false);
    options.ignoreMerges = json_fields::getBool(model, "ignore_merges", false);
    return options;
}

Result<AddedToken> readAddedToken(const Json& item, std::size_t index) {
    const auto content = json_fields::getString(item, "content");
    if (!content) return Error{"added_tokens[" + std::to_string(index) + "] has no \"content\" string"};
    AddedToken token;
    token.content = *content;
    token.special = json_fields::getBool(item, "special", false);
    token.singleWord = json_fields::getBool(item, "single_word", false);
    token.lstrip = json_fields::getBool(item, "lstrip", false);
    token.rstrip = json_fields::getBool(item, "rstrip", false);
    token.normalized = json_fields::getBool(item, "normalized", !token.special);
    return token;
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> JsonTokenizer::load(const std::filesystem::path& file) {
    auto contents = readTokenizerJson(file);
    if (!contents) return contents.error();
    auto config = readTokenizerConfig(file.parent_path() / "tokenizer_config.json");
    if (!config) return config.error();
    return fromContents(std::move(contents.value()), file, config.value());
}

Result<std::unique_ptr<Tokenizer>> JsonTokenizer::fromContents(TokenizerJsonContents contents, const std::filesystem::path& file,
                                                                const TokenizerConfig& config) {
    const std::string prefix = file.string() + ": ";
    const Json& root = contents.root;
    if (!root.is_object()) return Error{prefix + "top level is not a JSON object"};
    const auto modelIt = root.find("model");
    if (modelIt == root.end() || !modelIt->is_object()) return Error{prefix + "missing \"model\" object"};
    const Json& modelSpec = *modelIt;
    std::string type = json_fields::typeOf(modelSpec);
    if (type.empty() && contents.hasMerges) type = "BPE";  // old files have no "type"
    if (type != "BPE")
        return Error{prefix + "unsupported model type '" + (type.empty() ? std::string("(none)") : type) +
                     "' (supported: BPE)"};
    if (!contents.hasVocab) return Error{prefix + "model.vocab is missing or not an object"};
    // A list of merges is streamed out of the tree; one left in it was not a list.
    if (modelSpec.contains("merges")) return Error{prefix + "model.merges is not a list of merges"};

    std::unique_ptr<JsonTokenizer> tok(new JsonTokenizer());
    tok->m_file = file;
    auto options = readBpeOptions(modelSpec);
    if (!options) return Error{prefix + options.error().message};
    auto model = BpeModel::create(std::move(contents.vocab), contents.merges, std::move(options.value()));
    if (!model) return Error{prefix + model.error().message};
    tok->m_model = std::move(model.value());

    const auto component = [&root](const char* key) -> const Json& {
        static const Json null;
        const auto it = root.find(key);
        return it == root.end() ? null : *it;
    };
    auto normalizer = makeNormalizer(component("normalizer"));
    if (!normalizer) return Error{prefix + normalizer.error().message};
    tok->m_normalizer = std::move(normalizer.value());
    auto preTokenizer = makePreTokenizer(component("pre_tokenizer"));
    if (!preTokenizer) return Error{prefix + preTokenizer.error().message};
    tok->m_preTokenizer = std::move(preTokenizer.value());
    auto postProcessor = makePostProcessor(component("post_processor"));
    if (!postProcessor) return Error{prefix + postProcessor.error().message};
    tok->m_postProcessor = std::move(postProcessor.value());
    auto decoder = makeDecoder(component("decoder"));
    if (!decoder) return Error{prefix + decoder.error().message};
    tok->m_decoder = std::move(decoder.value());

    const Json& added = component("added_tokens");
    if (!added.is_null() && !added.is_array()) return Error{prefix + "\"added_tokens\" is not a list"};
    if (added.is_array()) {
        for (std::size_t k = 0; k < added.size(); ++k) {
            auto token = readAddedToken(added[k], k);
            if (!token) return Error{prefix + token.error().message};
            tok->m_added.add(token.value(), *tok->m_model);
        }
    }
    tok->m_added.finalize(tok->m_normalizer.get());
    tok->m_vocabSize = static_cast<std::int64_t>(std::max(tok->m_model->idLimit(), tok->m_added.idLimit()));

    // BOS/EOS: the names in tokenizer_config.json when it has them, else
    // what the post-processor puts around a sequence, else a special added
    // token with one of the usual end-of-text names.
    std::vector<TokenId> prefixIds, suffixIds;
    if (tok->m_postProcessor) tok->m_postProcessor->specialIds(prefixIds, suffixIds);
    // The post-processor's ids are written in the file, not looked up: one
    // beyond the vocabulary would reach the model as an out-of-range token.
    for (const auto* list : {&prefixIds, &suffixIds}) {
        for (const TokenId id : *list) {
            if (id < 0 || id >= tok->m_vocabSize) {
                return Error{prefix + "post_processor adds token id " + std::to_string(id) + ", outside the vocabulary of " +
                             std::to_string(tok->m_vocabSize) + " tokens"};
            }
        }
    }
    if (config.bosToken) tok->m_bos = tok->tokenToId(*config.bosToken);
    if (!tok->m_bos && !prefixIds.empty()) tok->m_bos = prefixIds.front();
    if (config.eosToken) tok->m_eos = tok->tokenToId(*config.eosToken);
    if (!tok->m_eos && !suffixIds.empty()) tok->m_eos = suffixIds.back();
    if (!tok->m_eos) {
        for (const char* name : {"</s>", "<|endoftext|>", "<|end_of_text|>"}) {
            if (tok->m_added.isSpecialContent(name)) {
                tok->m_eos = tok->tokenToId(name);
                break;
            }
        }
    }
    return std::unique_ptr<Tokenizer>(std::move(tok));
}

std::vector<TokenId> JsonTokenizer::encode(std::string_view text, bool addSpecialTokens) const {
    const std::string clean = unicode::sanitize(text);
    std::vector<InputPiece> pieces = m_added.extractAndNormalize(clean, m_normalizer.get());
    std::vector<TokenId> ids;
    ids.reserve(clean.size() / 3 + 4);
    const auto tokenizeWord = [this, &ids](TextSplit&& word) { m_model->tokenize(word.text, ids); };
    for (auto& piece : pieces) {
        if (piece.addedId)
            ids.push_back(*piece.addedId);
        else if (m_preTokenizer)
            m_preTokenizer->preTokenize(std::move(piece.split), tokenizeWord);
        else
            m_model->tokenize(piece.split.text, ids);
    }
    if (m_postProcessor) m_postProcessor->process(ids, addSpecialTokens);
    return ids;
}

const std::string* JsonTokenizer::idToString(TokenId id) const {
    if (const AddedToken* added = m_added.tokenForId(id)) return &added->content;
    return m_model->idToToken(id);
}

std::string JsonTokenizer::decode(std::span<const TokenId> ids, bool skipSpecialTokens) const {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (const TokenId id : ids) {
        const std::string* token = idToString(id);
        if (token == nullptr) continue;  // HF skips ids outside the vocabulary
        if (skipSpecialTokens && m_added.isSpecialContent(*token)) continue;
        tokens.push_back(*token);
    }
    std::string text;
    if (m_decoder) {
        m_decoder->decodeChain(tokens);
        for (const auto& t : tokens) text += t;
    } else {
        for (std::size_t k = 0; k < tokens.size(); ++k) {
            if (k > 0) text += ' ';
            text += tokens[k];
        }
    }
    return text;
}

std::string JsonTokenizer::tokenString(TokenId id) const {
    const std::string* token = idToString(id);
    return token ? *token : std::string();
}

std::string JsonTokenizer::tokenText(TokenId id) const {
    const TokenId one[] = {id};
    return decode(one, false);
}

std::optional<TokenId> JsonTokenizer::tokenToId(std::string_view piece) const {
    if (const auto id = m_added.tokenToId(piece)) return id;
    return m_model->tokenToId(piece);
}

bool JsonTokenizer::isSpecial(TokenId id) const {
    const std::string* token = idToString(id);
    return token != nullptr && m_added.isSpecialContent(*token);
}

}  // namespace superlens::core
