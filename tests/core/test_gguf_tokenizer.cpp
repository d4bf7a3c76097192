// The tokenizer a GGUF file carries (tokenizer.ggml.*), rebuilt as a
// SentencePiece model: checked against llama.cpp's own test vectors on its
// vocab-only GGUF files, against the original tokenizer.model of the same
// vocabulary, and against damaged metadata.
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "superlens/core/model/model.h"
#include "superlens/core/tokenizer/tokenizer.h"
#include "test_gguf_writer.h"
#include "test_paths.h"

using namespace superlens::core;
namespace fs = std::filesystem;
namespace gw = superlens::test::gguf;

namespace {

fs::path tokenizers() { return superlens::test::testData() / "tokenizers"; }

std::string readAll(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// llama.cpp's vectors: strings separated by "\n__ggml_vocab_test__\n", one
// line of ids per string in the .out file, encoded without BOS.
std::vector<std::pair<std::string, std::vector<TokenId>>> vectors(const fs::path& inp) {
    const std::string separator = "\n__ggml_vocab_test__\n";
    const std::string all = readAll(inp);
    std::vector<std::string> texts;
    std::size_t begin = 0;
    for (std::size_t at; (at = all.find(separator, begin)) != std::string::npos; begin = at + separator.size()) texts.push_back(all.substr(begin, at - begin));
    fs::path out = inp;
    out.replace_extension(".out");
    std::istringstream lines(readAll(out));
    std::vector<std::pair<std::string, std::vector<TokenId>>> v;
    std::string line;
    for (const auto& t : texts) {
        std::getline(lines, line);
        std::istringstream ids(line);
        std::vector<TokenId> want;
        for (TokenId id; ids >> id;) want.push_back(id);
        v.emplace_back(t, want);
    }
    return v;
}

std::vector<std::string> texts() {
    std::vector<std::string> out;
    std::ifstream in(tokenizers() / "texts.jsonl");
    for (std::string line; std::getline(in, line);) {
        if (!line.empty()) out.push_back(nlohmann::json::parse(line).at("text").get<std::string>());
    }
    return out;
}

std::unique_ptr<Tokenizer> loadOk(Result<std::unique_ptr<Tokenizer>> r) {
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? std::move(r.value()) : nullptr;
}

// Same ids, texts and pieces as a reference tokenizer on every test text.
void expectSameAs(const Tokenizer& got, const Tokenizer& want) {
    ASSERT_EQ(got.vocabSize(), want.vocabSize());
    EXPECT_EQ(got.bosId(), want.bosId());
    EXPECT_EQ(got.eosId(), want.eosId());
    for (TokenId id = 0; id < want.vocabSize(); ++id) {
        ASSERT_EQ(got.tokenString(id), want.tokenString(id)) << id;
        ASSERT_EQ(got.isSpecial(id), want.isSpecial(id)) << id;
    }
    const auto all = texts();
    ASSERT_GE(all.size(), 80u);
    for (const std::string& t : all) {
        const auto ids = want.encode(t, true);
        EXPECT_EQ(got.encode(t, true), ids) << nlohmann::json(t).dump();
        EXPECT_EQ(got.encode(t, false), want.encode(t, false)) << nlohmann::json(t).dump();
        EXPECT_EQ(got.decode(ids, false), want.decode(ids, false)) << nlohmann::json(t).dump();
        EXPECT_EQ(got.decode(ids, true), want.decode(ids, true)) << nlohmann::json(t).dump();
    }
}

}  // namespace

TEST(GgufTokenizer, LlamaSpmVocabMatchesLlamaCppsOwnVectors) {
    for (const char* name : {"llama-spm", "phi-3"}) {
        const fs::path dir = tokenizers() / (std::string(name) + "-ggml-vocab");
        const fs::path gguf = dir / ("ggml-vocab-" + std::string(name) + ".gguf");
        auto tok = loadOk(Tokenizer::loadGguf(gguf));
        ASSERT_TRUE(tok);
        EXPECT_EQ(tok->sourceFile(), gguf);
        const auto v = vectors(fs::path(gguf.string() + ".inp"));
        ASSERT_EQ(v.size(), 46u);
        int matched = 0;
        for (const auto& [text, want] : v) {
            const auto ids = tok->encode(text, false);
            matched += ids == want ? 1 : 0;
            EXPECT_EQ(ids, want) << name << " " << nlohmann::json(text).dump();
        }
        std::cout << "[ COUNT    ] " << name << " GGUF tokenizer: " << matched << "/46 llama.cpp vectors\n";
    }
}

TEST(GgufTokenizer, LlamaSpmVocabEqualsTheOriginalTokenizerModel) {
    auto fromGguf = loadOk(Tokenizer::loadGguf(tokenizers() / "llama-spm-ggml-vocab" / "ggml-vocab-llama-spm.gguf"));
    auto original = loadOk(Tokenizer::loadSentencePiece(tokenizers() / "llama-2-spm" / "tokenizer.model"));
    ASSERT_TRUE(fromGguf && original);
    expectSameAs(*fromGguf, *original);
}

TEST(GgufTokenizer, Stories260KModelFileUsesItsOwnTokenizer) {
    auto model = Model::open(superlens::test::testData() / "stories260K" / "stories260K.gguf");
    ASSERT_TRUE(model.ok()) << model.error().message;
    EXPECT_TRUE(Tokenizer::modelHasTokenizer(**model));
    auto tok = loadOk(Tokenizer::loadForModel(**model));
    ASSERT_TRUE(tok);
    EXPECT_EQ(tok->sourceFile().filename(), "stories260K.gguf");
    auto original = loadOk(Tokenizer::loadSentencePiece(tokenizers() / "stories260K-spm" / "tokenizer.model"));
    ASSERT_TRUE(original);
    ASSERT_EQ(tok->vocabSize(), original->vocabSize());
    EXPECT_EQ(tok->bosId(), original->bosId());
    EXPECT_EQ(tok->eosId(), original->eosId());
    for (TokenId id = 0; id < original->vocabSize(); ++id) {
        ASSERT_EQ(tok->tokenString(id), original->tokenString(id)) << id;
        ASSERT_EQ(tok->isSpecial(id), original->isSpecial(id)) << id;
    }
    // GGUF files do not carry SentencePiece's normalizer; the file is read as
    // llama.cpp reads it (whitespace kept as is). Plain text gives the ids of
    // the tokenizer.model, which was trained with SentencePiece's default
    // normalizer (nmt_nfkc, extra whitespace removed) ...
    for (const char* text : {"Once upon a time, there was a little girl named Lily.", "She liked to play in the park with her dog, Max!",
                             "\"Can I have one?\" asked Tom. Mom said yes.", "The sun was big and yellow; the sky was blue."}) {
        EXPECT_EQ(tok->encode(text, true), original->encode(text, true)) << text;
        const auto ids = original->encode(text, true);
        EXPECT_EQ(tok->decode(ids, true), original->decode(ids, true)) << text;
    }
    // ... and runs of spaces differ, as they do between llama.cpp and SentencePiece.
    EXPECT_EQ(original->encode("  ", false), std::vector<TokenId>{});
    EXPECT_EQ(tok->encode("  ", false).size(), 3u) << "the dummy prefix and two spaces, as llama.cpp";
    // The safetensors folder of the same model: the same ids.
    auto folderModel = Model::open(superlens::test::testData() / "stories260K");
    ASSERT_TRUE(folderModel.ok());
    auto folderTok = loadOk(Tokenizer::loadForModel(**folderModel));
    ASSERT_TRUE(folderTok);
    EXPECT_EQ(tok->encode("Once upon a time, there was a little girl named Lily.", true),
              folderTok->encode("Once upon a time, there was a little girl named Lily.", true));
}

namespace {

// A vocab-only GGUF with a small SentencePiece vocabulary, for damage tests.
struct Vocab {
    std::vector<std::string> tokens = {"<unk>", "<s>", "</s>", "\u2581a", "a", "\u2581"};
    std::vector<float> scores = {0, 0, 0, -1, -2, -3};
    std::vector<std::int32_t> types = {2, 3, 3, 1, 1, 1};
    std::string model = "llama";

    std::string build() const {
        gw::Builder b;
        b.kvString("general.architecture", "llama");
        b.kvString("tokenizer.ggml.model", model);
        std::vector<std::string> enc;
        for (const auto& t : tokens) enc.push_back(gw::str(t));
        b.kv("tokenizer.ggml.tokens", gw::kArray, gw::array(gw::kString, enc));
        std::vector<std::string> s, ty;
        for (float f : scores) s.push_back(gw::le(f));
        for (std::int32_t t : types) ty.push_back(gw::le(t));
        b.kv("tokenizer.ggml.scores", gw::kArray, gw::array(gw::kF32, s));
        b.kv("tokenizer.ggml.token_type", gw::kArray, gw::array(gw::kI32, ty));
        return b.build();
    }
};

std::string loadError(const Vocab& v) {
    const fs::path file = fs::temp_directory_path() / ("superlens-gguf-tok-" + std::to_string(::getpid()) + ".gguf");
    std::ofstream(file, std::ios::binary) << v.build();
    auto r = Tokenizer::loadGguf(file);
    fs::remove(file);
    return r.ok() ? std::string() : r.error().message;
}

}  // namespace

TEST(GgufTokenizer, ASmallVocabularyEncodesAndDamageIsRefusedInOneLine) {
    Vocab ok;
    EXPECT_EQ(loadError(ok), "");
    const fs::path file = fs::temp_directory_path() / ("superlens-gguf-tok-ok-" + std::to_string(::getpid()) + ".gguf");
    std::ofstream(file, std::ios::binary) << ok.build();
    auto tok = loadOk(Tokenizer::loadGguf(file));
    fs::remove(file);
    ASSERT_TRUE(tok);
    EXPECT_EQ(tok->encode("a a", true), (std::vector<TokenId>{1, 3, 3}));  // BOS, "▁a" twice (dummy prefix)
    EXPECT_EQ(tok->decode(std::vector<TokenId>{1, 3, 3}, true), "a a");

    Vocab badType = ok;
    badType.types[4] = 9;
    EXPECT_NE(loadError(badType).find("tokenizer.ggml.token_type[4] is 9 (expected 0-6)"), std::string::npos) << loadError(badType);
    Vocab shortScores = ok;
    shortScores.scores.pop_back();
    EXPECT_NE(loadError(shortScores).find("tokenizer.ggml.scores has 5 entries for 6 tokens"), std::string::npos) << loadError(shortScores);
    Vocab noUnk = ok;
    noUnk.types[0] = 1;
    EXPECT_NE(loadError(noUnk).find("has no unknown token"), std::string::npos) << loadError(noUnk);
    Vocab empty = ok;
    empty.tokens[3] = "";
    EXPECT_NE(loadError(empty).find("tokenizer.ggml.tokens[3] is empty"), std::string::npos) << loadError(empty);
    Vocab dup = ok;
    dup.tokens[4] = "\u2581a";
    EXPECT_FALSE(loadError(dup).empty()) << "a duplicated piece is refused by SentencePiece";
    Vocab other = ok;
    other.model = "rwkv";
    EXPECT_NE(loadError(other).find("tokenizer type 'rwkv' (tokenizer.ggml.model) is not read by SuperLens"), std::string::npos) << loadError(other);
    for (const Vocab& v : {badType, shortScores, noUnk, empty, dup, other}) {
        EXPECT_EQ(loadError(v).find('\n'), std::string::npos);
    }
}

namespace {

// A vocab-only GGUF written from a vendored Hugging Face tokenizer.json the
// way llama.cpp's converter writes byte-level BPE vocabularies: every id's
// token (added ones included), token types (3 for special added tokens, 4
// for other added ones, 1 otherwise), merges as "a b", and tokenizer.ggml.pre.
fs::path byteLevelGguf(const fs::path& tokenizerJson, const std::string& pre, std::optional<std::uint32_t> bos, const fs::path& out) {
    const auto j = nlohmann::json::parse(readAll(tokenizerJson));
    std::vector<std::string> tokens;
    std::vector<std::int32_t> types;
    auto put = [&](std::size_t id, const std::string& t, std::int32_t type) {
        if (tokens.size() <= id) {
            tokens.resize(id + 1);
            types.resize(id + 1, 1);
        }
        tokens[id] = t;
        types[id] = type;
    };
    for (const auto& [t, id] : j["model"]["vocab"].items()) put(id.get<std::size_t>(), t, 1);
    for (const auto& a : j["added_tokens"]) put(a["id"].get<std::size_t>(), a["content"].get<std::string>(), a["special"].get<bool>() ? 3 : 4);
    std::vector<std::string> merges;
    for (const auto& m : j["model"]["merges"]) merges.push_back(m.is_string() ? m.get<std::string>() : m[0].get<std::string>() + " " + m[1].get<std::string>());
    gw::Builder b;
    b.kvString("general.architecture", "llama");
    b.kvString("tokenizer.ggml.model", "gpt2");
    b.kvString("tokenizer.ggml.pre", pre);
    std::vector<std::string> enc, ty, me;
    for (const auto& t : tokens) enc.push_back(gw::str(t));
    for (auto t : types) ty.push_back(gw::le(t));
    for (const auto& m : merges) me.push_back(gw::str(m));
    b.kv("tokenizer.ggml.tokens", gw::kArray, gw::array(gw::kString, enc));
    b.kv("tokenizer.ggml.token_type", gw::kArray, gw::array(gw::kI32, ty));
    b.kv("tokenizer.ggml.merges", gw::kArray, gw::array(gw::kString, me));
    if (bos) {
        b.kvU32("tokenizer.ggml.bos_token_id", *bos);
        b.kv("tokenizer.ggml.add_bos_token", gw::kBool, std::string(1, '\1'));
    }
    std::ofstream(out, std::ios::binary) << b.build();
    return out;
}

fs::path scratch(const std::string& name) { return fs::temp_directory_path() / ("superlens-" + std::to_string(::getpid()) + "-" + name); }

}  // namespace

TEST(GgufTokenizer, Llama3ByteLevelBpeMatchesLlamaCppsOwnVectors) {
    const fs::path gguf = byteLevelGguf(tokenizers() / "llama-3-hf" / "tokenizer.json", "llama-bpe", 128000, scratch("llama3.gguf"));
    auto tok = loadOk(Tokenizer::loadGguf(gguf));
    fs::remove(gguf);
    ASSERT_TRUE(tok);
    int matched = 0;
    for (const auto& [text, want] : vectors(tokenizers() / "llama-bpe-llama3-testcases" / "ggml-vocab-llama-bpe.gguf.inp")) {
        const auto ids = tok->encode(text, false);
        matched += ids == want ? 1 : 0;
        EXPECT_EQ(ids, want) << nlohmann::json(text).dump();
    }
    std::cout << "[ COUNT    ] llama-bpe GGUF tokenizer: " << matched << "/46 llama.cpp vectors\n";
    // BOS as the file says, and the same everything as the tokenizer.json.
    EXPECT_EQ(tok->bosId(), 128000);
    auto json = loadOk(Tokenizer::loadJson(tokenizers() / "llama-3-hf" / "tokenizer.json"));
    ASSERT_TRUE(json);
    for (const std::string& t : texts()) {
        EXPECT_EQ(tok->encode(t, true), json->encode(t, true)) << nlohmann::json(t).dump();
        const auto ids = json->encode(t, true);
        EXPECT_EQ(tok->decode(ids, true), json->decode(ids, true));
    }
}

TEST(GgufTokenizer, Qwen2ByteLevelBpeMatchesLlamaCppsOwnVectors) {
    // Qwen3's tokenizer.json has Qwen2's vocabulary and merges (and more added tokens).
    const fs::path gguf = byteLevelGguf(tokenizers() / "qwen3-hf" / "tokenizer.json", "qwen2", std::nullopt, scratch("qwen.gguf"));
    auto tok = loadOk(Tokenizer::loadGguf(gguf));
    fs::remove(gguf);
    ASSERT_TRUE(tok);
    int matched = 0;
    for (const auto& [text, want] : vectors(tokenizers() / "qwen2-testcases" / "ggml-vocab-qwen2.gguf.inp")) {
        const auto ids = tok->encode(text, false);
        matched += ids == want ? 1 : 0;
        EXPECT_EQ(ids, want) << nlohmann::json(text).dump();
    }
    std::cout << "[ COUNT    ] qwen2 GGUF tokenizer: " << matched << "/46 llama.cpp vectors\n";
    EXPECT_EQ(tok->encode("Hello world", true), tok->encode("Hello world", false)) << "Qwen adds no BOS";
}

TEST(GgufTokenizer, Gpt2ByteLevelBpeEqualsItsTokenizerJson) {
    const fs::path gguf = byteLevelGguf(tokenizers() / "gpt2-hf" / "tokenizer.json", "gpt-2", std::nullopt, scratch("gpt2.gguf"));
    auto tok = loadOk(Tokenizer::loadGguf(gguf));
    fs::remove(gguf);
    auto json = loadOk(Tokenizer::loadJson(tokenizers() / "gpt2-hf" / "tokenizer.json"));
    ASSERT_TRUE(tok && json);
    EXPECT_EQ(tok->vocabSize(), 50257);
    EXPECT_TRUE(tok->isSpecial(50256));
    // Hugging Face's own outputs for these texts (expected.jsonl) and the same decode.
    std::ifstream in(tokenizers() / "gpt2-hf" / "expected.jsonl");
    int lines = 0;
    for (std::string line; std::getline(in, line);) {
        if (line.empty()) continue;
        const auto e = nlohmann::json::parse(line);
        if (!e.contains("ids")) continue;
        const auto want = e["ids"].get<std::vector<TokenId>>();
        const std::string text = e["text"].get<std::string>();
        const bool special = e.value("add_special_tokens", true);
        EXPECT_EQ(tok->encode(text, special), want) << nlohmann::json(text).dump();
        EXPECT_EQ(tok->decode(want, false), json->decode(want, false));
        ++lines;
    }
    EXPECT_GE(lines, 80);
}

TEST(GgufTokenizer, UnknownBytePreTokenizersAndBadMergesAreRefused) {
    Vocab v;
    v.model = "gpt2";
    // No merges at all: the key is required for byte-level BPE.
    EXPECT_NE(loadError(v).find("tokenizer.ggml.merges"), std::string::npos) << loadError(v);
    const fs::path gguf = byteLevelGguf(tokenizers() / "gpt2-hf" / "tokenizer.json", "falcon", std::nullopt, scratch("falcon.gguf"));
    auto r = Tokenizer::loadGguf(gguf);
    fs::remove(gguf);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("pre-tokenizer 'falcon' (tokenizer.ggml.pre) is not read by SuperLens"), std::string::npos) << r.error().message;
}
