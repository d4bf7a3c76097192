#include "tokenizer/gguf_tokenizer.h"

#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/json_tokenizer.h"
#include "tokenizer/sentencepiece_tokenizer.h"

namespace superlens::core {
namespace {

// A protobuf writer for the few ModelProto fields a SentencePiece model
// needs (sentencepiece_model.proto, proto2 wire format).
class ProtoWriter {
public:
    void varint(std::uint64_t v) {
        while (v >= 0x80) {
            m_out.push_back(static_cast<char>((v & 0x7F) | 0x80));
            v >>= 7;
        }
        m_out.push_back(static_cast<char>(v));
    }
    void key(int field, int wire) { varint(static_cast<std::uint64_t>(field) << 3 | static_cast<std::uint64_t>(wire)); }
    void integer(int field, std::int64_t v) {
        key(field, 0);
        varint(static_cast<std::uint64_t>(v));  // negative int32: ten bytes, as protobuf encodes them
    }
    void bytes(int field, std::string_view s) {
        key(field, 2);
        varint(s.size());
        m_out.append(s);
    }
    void float32(int field, float f) {
        key(field, 5);
        char b[4];
        std::memcpy(b, &f, 4);  // little-endian hosts only (x86-64, aarch64)
        m_out.append(b, 4);
    }
    const std::string& str() const { return m_out; }

private:
    std::string m_out;
};

// llama.cpp's token types (llama_token_type) are SentencePiece's piece types:
// 1 normal, 2 unknown, 3 control, 4 user defined, 5 unused, 6 byte.
constexpr std::int64_t kNormal = 1, kUnknown = 2, kUnused = 5, kByte = 6;

// The vocabulary every GGUF tokenizer type has: tokens (1..kGgufMaxVocabulary
// of them) and their types (default normal), arrays of one length.
struct GgufVocab {
    std::vector<std::string_view> tokens;
    std::vector<std::int64_t> types;
};

Result<GgufVocab> readVocab(const GgufFile& file, const std::string& prefix) {
    GgufVocab v;
    auto tokens = file.getStringArray("tokenizer.ggml.tokens");
    if (!tokens) return tokens.error();
    const std::size_t n = tokens->size();
    if (n == 0) return Error{prefix + "tokenizer.ggml.tokens is empty"};
    if (n > kGgufMaxVocabulary) return Error{prefix + "tokenizer.ggml.tokens has " + std::to_string(n) + " entries, more than the limit of " + std::to_string(kGgufMaxVocabulary)};
    v.tokens = std::move(tokens.value());
    v.types.assign(n, kNormal);
    if (file.has("tokenizer.ggml.token_type")) {
        auto t = file.getIntArray("tokenizer.ggml.token_type");
        if (!t) return t.error();
        if (t->size() != n) return Error{prefix + "tokenizer.ggml.token_type has " + std::to_string(t->size()) + " entries for " + std::to_string(n) + " tokens"};
        v.types = std::move(t.value());
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (v.types[i] < 0 || v.types[i] > 6) {
            return Error{prefix + "tokenizer.ggml.token_type[" + std::to_string(i) + "] is " + std::to_string(v.types[i]) + " (expected 0-6)"};
        }
        if (v.types[i] == 0) v.types[i] = kNormal;  // llama.cpp's "undefined"
        if (v.tokens[i].empty()) return Error{prefix + "tokenizer.ggml.tokens[" + std::to_string(i) + "] is empty"};
    }
    return v;
}

Result<std::unique_ptr<Tokenizer>> loadSentencePieceFromGguf(const GgufFile& file, const std::filesystem::path& path) {
    const std::string prefix = path.string() + ": ";
    auto vocabRead = readVocab(file, prefix);
    if (!vocabRead) return vocabRead.error();
    const std::vector<std::string_view>* tokens = &vocabRead->tokens;
    const std::vector<std::int64_t>& types = vocabRead->types;
    const std::size_t n = tokens->size();
    std::vector<float> scores(n, 0.0f);
    if (file.has("tokenizer.ggml.scores")) {
        auto s = file.getFloatArray("tokenizer.ggml.scores");
        if (!s) return s.error();
        if (s->size() != n) return Error{prefix + "tokenizer.ggml.scores has " + std::to_string(s->size()) + " entries for " + std::to_string(n) + " tokens"};
        scores = std::move(s.value());
    }
    const auto optionalId = [&](const char* key, std::int64_t fallback) -> Result<std::int64_t> {
        if (!file.has(key)) return fallback;
        auto v = file.getUInt(key);
        if (!v) return v.error();
        // llama.cpp writes 0xFFFFFFFF for "none".
        if (*v >= n) return std::int64_t{-1};
        return static_cast<std::int64_t>(*v);
    };
    const auto optionalBool = [&](const char* key, bool fallback) -> Result<bool> {
        if (!file.has(key)) return fallback;
        return file.getBool(key);
    };
    auto unk = optionalId("tokenizer.ggml.unknown_token_id", -1);
    auto bos = optionalId("tokenizer.ggml.bos_token_id", 1);
    auto eos = optionalId("tokenizer.ggml.eos_token_id", 2);
    auto pad = optionalId("tokenizer.ggml.padding_token_id", -1);
    auto addBos = optionalBool("tokenizer.ggml.add_bos_token", true);
    auto addEos = optionalBool("tokenizer.ggml.add_eos_token", false);
    auto spacePrefix = optionalBool("tokenizer.ggml.add_space_prefix", true);
    for (const auto* r : {&unk, &bos, &eos, &pad}) {
        if (!*r) return r->error();
    }
    for (const auto* r : {&addBos, &addEos, &spacePrefix}) {
        if (!*r) return r->error();
    }

    ProtoWriter model;
    bool byteFallback = false;
    std::int64_t unkId = *unk;
    for (std::size_t i = 0; i < n; ++i) {
        const std::string_view piece = (*tokens)[i];
        std::int64_t type = types[i];
        byteFallback = byteFallback || type == kByte;
        // SentencePiece has exactly one unknown piece: the one unknown_token_id
        // names (whatever type the converter gave it). Other "unknown" tokens
        // (Phi-3's [PAD...] fillers) are pieces segmentation never produces:
        // SentencePiece's UNUSED, as llama.cpp never produces them either.
        if (type == kUnknown && unkId < 0) unkId = static_cast<std::int64_t>(i);
        if (static_cast<std::int64_t>(i) == unkId) type = kUnknown;
        else if (type == kUnknown) type = kUnused;
        ProtoWriter p;
        p.bytes(1, piece);
        p.float32(2, scores[i]);
        p.integer(3, type);
        model.bytes(1, p.str());
    }
    if (unkId < 0) return Error{prefix + "the SentencePiece vocabulary has no unknown token (tokenizer.ggml.unknown_token_id, token type 2)"};
    ProtoWriter trainer;
    trainer.integer(3, 2);  // model_type: BPE (llama.cpp's SPM tokenizer merges by score, as SentencePiece BPE)
    trainer.integer(4, static_cast<std::int64_t>(n));
    trainer.integer(35, byteFallback ? 1 : 0);
    trainer.integer(40, unkId);
    trainer.integer(41, *bos);
    trainer.integer(42, *eos);
    trainer.integer(43, *pad);
    // The special pieces by name: SentencePiece looks BOS/EOS/UNK/PAD up by piece.
    const auto pieceOf = [&](std::int64_t id, std::string_view fallback) { return id >= 0 ? (*tokens)[static_cast<std::size_t>(id)] : fallback; };
    trainer.bytes(45, pieceOf(unkId, "<unk>"));
    trainer.bytes(46, pieceOf(*bos, "<s>"));
    trainer.bytes(47, pieceOf(*eos, "</s>"));
    trainer.bytes(48, pieceOf(*pad, "<pad>"));
    model.bytes(2, trainer.str());
    ProtoWriter normalizer;
    normalizer.bytes(1, "identity");
    normalizer.integer(3, *spacePrefix ? 1 : 0);  // add_dummy_prefix
    normalizer.integer(4, 0);                     // remove_extra_whitespaces: llama.cpp keeps them
    normalizer.integer(5, 1);                     // escape_whitespaces: ' ' -> U+2581
    model.bytes(3, normalizer.str());
    return SentencePieceTokenizer::fromSerialized(model.str(), path, *addBos, *addEos);
}

// Byte-level BPE ("gpt2"): llama.cpp's pre-tokenizer names (tokenizer.ggml.pre)
// and the Hugging Face tokenizer.json components of the checkpoints they come
// from (split regex, normalizer, whether merges are skipped for whole-vocab
// words, whether BOS is added by default).
struct BytePre {
    std::string_view name;
    std::string_view splitRegex;  // empty: ByteLevel's own GPT-2 regex
    bool nfc = false;
    bool ignoreMerges = false;
    bool addBosByDefault = false;
};

constexpr BytePre kBytePres[] = {
    {"gpt-2", "", false, false, false},
    {"gpt2", "", false, false, false},
    {"llama-bpe", R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)", false, true, true},
    {"llama3", R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)", false, true, true},
    {"qwen2", R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)", true, false, false},
};

Result<std::unique_ptr<Tokenizer>> loadByteLevelBpeFromGguf(const GgufFile& file, const std::filesystem::path& path) {
    using nlohmann::json;
    const std::string prefix = path.string() + ": ";
    std::string preName = "gpt-2";  // llama.cpp's default for files without the key
    if (file.has("tokenizer.ggml.pre")) {
        auto p = file.getString("tokenizer.ggml.pre");
        if (!p) return p.error();
        preName = std::string(*p);
    }
    const BytePre* pre = nullptr;
    for (const BytePre& b : kBytePres) {
        if (b.name == preName) pre = &b;
    }
    if (!pre) {
        return Error{prefix + "byte-level BPE pre-tokenizer '" + preName +
                     "' (tokenizer.ggml.pre) is not read by SuperLens (it reads gpt-2, llama-bpe and qwen2); put the model's tokenizer.json beside the file"};
    }
    auto vocabRead = readVocab(file, prefix);
    if (!vocabRead) return vocabRead.error();
    const std::vector<std::string_view>* tokens = &vocabRead->tokens;
    const std::vector<std::int64_t>& types = vocabRead->types;
    const std::size_t n = tokens->size();
    auto merges = file.getStringArray("tokenizer.ggml.merges");
    if (!merges) return merges.error();

    // Control (3) and user-defined (4) tokens are Hugging Face's added tokens
    // (special and not).
    json vocab = json::object();
    json added = json::array();
    for (std::size_t i = 0; i < n; ++i) {
        const std::string piece((*tokens)[i]);
        const std::int64_t type = types[i];
        // Every token keeps its id in the vocabulary; added tokens take the
        // vocabulary's id for their content, so ids stay the file's even where
        // control tokens sit between ordinary ones.
        vocab[piece] = i;
        if (type == 3 || type == 4) {
            added.push_back({{"id", i}, {"content", piece}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                             {"normalized", type == 4}, {"special", type == 3}});
        }
    }
    json mergeList = json::array();
    for (std::size_t i = 0; i < merges->size(); ++i) {
        const std::string_view m = (*merges)[i];
        const auto space = m.find(' ');
        if (space == std::string_view::npos || space == 0 || space + 1 >= m.size() || m.find(' ', space + 1) != std::string_view::npos) {
            return Error{prefix + "tokenizer.ggml.merges[" + std::to_string(i) + "] is not two tokens separated by one space"};
        }
        mergeList.push_back(std::string(m));
    }
    const auto optionalBool = [&](const char* key, bool fallback) -> Result<bool> {
        if (!file.has(key)) return fallback;
        return file.getBool(key);
    };
    const auto optionalId = [&](const char* key) -> Result<std::optional<std::size_t>> {
        if (!file.has(key)) return std::optional<std::size_t>{};
        auto v = file.getUInt(key);
        if (!v) return v.error();
        return *v < n ? std::optional<std::size_t>(static_cast<std::size_t>(*v)) : std::nullopt;
    };
    auto addBos = optionalBool("tokenizer.ggml.add_bos_token", pre->addBosByDefault);
    if (!addBos) return addBos.error();
    auto bos = optionalId("tokenizer.ggml.bos_token_id");
    if (!bos) return bos.error();
    auto eos = optionalId("tokenizer.ggml.eos_token_id");
    if (!eos) return eos.error();

    json root;
    root["version"] = "1.0";
    root["added_tokens"] = std::move(added);
    root["normalizer"] = pre->nfc ? json{{"type", "NFC"}} : json(nullptr);
    if (pre->splitRegex.empty()) {
        root["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
    } else {
        root["pre_tokenizer"] = {
            {"type", "Sequence"},
            {"pretokenizers",
             json::array({json{{"type", "Split"}, {"pattern", {{"Regex", std::string(pre->splitRegex)}}}, {"behavior", "Isolated"}, {"invert", false}},
                          json{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}})}};
    }
    root["post_processor"] = nullptr;
    if (*addBos && *bos) {
        const std::string b((*tokens)[**bos]);
        root["post_processor"] = {{"type", "TemplateProcessing"},
                                  {"single", json::array({json{{"SpecialToken", {{"id", b}, {"type_id", 0}}}}, json{{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
                                  {"pair", json::array({json{{"SpecialToken", {{"id", b}, {"type_id", 0}}}}, json{{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                                                        json{{"SpecialToken", {{"id", b}, {"type_id", 1}}}}, json{{"Sequence", {{"id", "B"}, {"type_id", 1}}}}})},
                                  {"special_tokens", {{b, {{"id", b}, {"ids", json::array({**bos})}, {"tokens", json::array({b})}}}}}};
    }
    root["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
    root["model"] = {{"type", "BPE"},          {"dropout", nullptr},      {"unk_token", nullptr},         {"continuing_subword_prefix", nullptr},
                     {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false},    {"ignore_merges", pre->ignoreMerges},
                     {"vocab", std::move(vocab)},     {"merges", std::move(mergeList)}};
    auto contents = readTokenizerJsonText(root.dump(), path);
    if (!contents) return contents.error();
    TokenizerConfig config;
    if (*bos) config.bosToken = std::string((*tokens)[**bos]);
    if (*eos) config.eosToken = std::string((*tokens)[**eos]);
    return JsonTokenizer::fromContents(std::move(contents.value()), path, config);
}

}  // namespace

bool ggufHasTokenizer(const GgufFile& file) { return file.has("tokenizer.ggml.model"); }

Result<std::unique_ptr<Tokenizer>> loadGgufTokenizer(const GgufFile& file, const std::filesystem::path& path) {
    auto type = file.getString("tokenizer.ggml.model");
    if (!type) return type.error();
    try {
        if (*type == "llama") return loadSentencePieceFromGguf(file, path);
        if (*type == "gpt2") return loadByteLevelBpeFromGguf(file, path);
    } catch (const std::exception& ex) {
        return Error{path.string() + ": cannot load its tokenizer: " + ex.what()};
    }
    return Error{path.string() + ": tokenizer type '" + std::string(*type) +
                 "' (tokenizer.ggml.model) is not read by SuperLens (it reads 'llama', SentencePiece, and 'gpt2', byte-level BPE); put the model's tokenizer.json beside the file"};
}

}  // namespace superlens::core
