// Loading: which file wins, what tokenizer_config.json changes, and that
// missing or damaged files give one clear line naming the file and problem
// (never a crash, never a silent fallback).
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "superlens/core/tokenizer/tokenizer.h"
#include "test_paths.h"

namespace {

namespace fs = std::filesystem;
using superlens::core::TokenId;
using superlens::core::Tokenizer;

fs::path shared(const std::string& folder, const std::string& file) {
    return superlens::test::testData() / "tokenizers" / folder / file;
}

std::string readAll(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class TokenizerLoading : public testing::Test {
protected:
    void SetUp() override {
        const auto* info = testing::UnitTest::GetInstance()->current_test_info();
        m_dir = fs::temp_directory_path() / ("superlens_tok_" + std::string(info->name()) + "_" +
                                             std::to_string(std::random_device{}()));
        fs::create_directories(m_dir);
    }
    void TearDown() override { fs::remove_all(m_dir); }

    void write(const std::string& name, const std::string& bytes) {
        std::ofstream(m_dir / name, std::ios::binary) << bytes;
    }
    // Shared files are linked, never copied into the repository or the folder.
    void link(const std::string& name, const fs::path& target) { fs::create_symlink(target, m_dir / name); }

    std::string loadError() {
        auto loaded = Tokenizer::loadFromFolder(m_dir);
        EXPECT_FALSE(loaded.ok());
        if (loaded.ok()) return {};
        const std::string message = loaded.error().message;
        EXPECT_EQ(message.find('\n'), std::string::npos) << "error spans several lines: " << message;
        return message;
    }

    fs::path m_dir;
};

TEST_F(TokenizerLoading, MissingFolderIsAnError) {
    auto loaded = Tokenizer::loadFromFolder(m_dir / "nope");
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.error().message, (m_dir / "nope").string() + ": not a folder");
}

TEST_F(TokenizerLoading, FolderWithoutTokenizerNamesBothFiles) {
    EXPECT_FALSE(Tokenizer::folderHasTokenizer(m_dir));
    write("config.json", "{}");
    EXPECT_EQ(loadError(), m_dir.string() + ": no tokenizer.json or tokenizer.model");
}

TEST_F(TokenizerLoading, FolderHasTokenizerSeesEitherFile) {
    link("tokenizer.model", shared("llama-2-spm", "tokenizer.model"));
    EXPECT_TRUE(Tokenizer::folderHasTokenizer(m_dir));
    fs::remove(m_dir / "tokenizer.model");
    write("tokenizer.json", "garbage");
    EXPECT_TRUE(Tokenizer::folderHasTokenizer(m_dir));  // present, even if it will not load
}

TEST_F(TokenizerLoading, TokenizerJsonWinsOverTokenizerModel) {
    link("tokenizer.json", shared("llama-3-hf", "tokenizer.json"));
    link("tokenizer.model", shared("llama-2-spm", "tokenizer.model"));
    auto loaded = Tokenizer::loadFromFolder(m_dir);
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    EXPECT_EQ(loaded.value()->sourceFile(), m_dir / "tokenizer.json");
    EXPECT_EQ(loaded.value()->vocabSize(), 128256);
}

TEST_F(TokenizerLoading, DamagedTokenizerJsonIsNotReplacedByTokenizerModel) {
    write("tokenizer.json", "{\"model\": ");
    link("tokenizer.model", shared("llama-2-spm", "tokenizer.model"));
    const std::string error = loadError();
    EXPECT_EQ(error.rfind((m_dir / "tokenizer.json").string() + ": invalid JSON", 0), 0u) << error;
}

TEST_F(TokenizerLoading, BadJsonNamesFileAndPosition) {
    write("tokenizer.json", "{ not json }");
    const std::string error = loadError();
    EXPECT_EQ(error.rfind((m_dir / "tokenizer.json").string() + ": invalid JSON: parse error at line 1", 0), 0u)
        << error;
}

TEST_F(TokenizerLoading, TruncatedTokenizerJsonIsInvalidJson) {
    const std::string full = readAll(shared("llama-2-hf", "tokenizer.json"));
    for (const std::size_t size : {std::size_t{0}, std::size_t{1}, full.size() / 3, full.size() - 2}) {
        write("tokenizer.json", full.substr(0, size));
        const std::string error = loadError();
        EXPECT_NE(error.find("tokenizer.json: invalid JSON"), std::string::npos) << size << ": " << error;
    }
}

TEST_F(TokenizerLoading, UnknownModelTypeIsNamed) {
    write("tokenizer.json", R"({"model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0]]}})");
    EXPECT_EQ(loadError(), (m_dir / "tokenizer.json").string() + ": unsupported model type 'Unigram' (supported: BPE)");
}

TEST_F(TokenizerLoading, StructuralProblemsAreNamed) {
    const std::string file = (m_dir / "tokenizer.json").string();
    const std::pair<std::string, std::string> cases[] = {
        {"[1, 2]", "top level is not a JSON object"},
        {"{}", "missing \"model\" object"},
        {R"({"model": {"type": "BPE", "merges": []}})", "model.vocab is missing or not an object"},
        {R"({"model": {"type": "BPE", "vocab": {"a": "x"}, "merges": []}})", "model.vocab: unexpected string"},
        {R"({"model": {"type": "BPE", "vocab": {"a": -3}, "merges": []}})", "model.vocab: id of 'a' is out of range"},
        // An id of 10^8 used to size a 10^8-entry table (400 MB) for one token.
        {R"({"model": {"type": "BPE", "vocab": {"a": 100000000}, "merges": []}})",
         "model.vocab: id 100000000 of 'a' is beyond the limit of 16777216 tokens"},
        // Merges that are not a list used to be ignored: a tokenizer without merges, silently.
        {R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": 42}})", "model.merges is not a list of merges"},
        {R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": {"a": "b"}}})", "model.merges is not a list of merges"},
        {R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}})",
         "model.merges[0] 'a b': token 'ab' is not in the vocabulary"},
        {R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b c"]}})",
         "model.merges[0] 'a b c' is not two tokens separated by one space"},
        {R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [["a"]]}})", "model.merges[0] must be a pair of strings"},
        {R"({"normalizer": {"type": "Precompiled"}, "model": {"type": "BPE", "vocab": {}, "merges": []}})",
         "unsupported normalizer Precompiled"},
        {R"({"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "("}, "behavior": "Isolated"},
             "model": {"type": "BPE", "vocab": {}, "merges": []}})",
         "pre_tokenizer Split: invalid regex '('"},
        {R"({"decoder": {"type": "CTC"}, "model": {"type": "BPE", "vocab": {}, "merges": []}})",
         "unsupported decoder CTC"},
        {R"({"post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}],
             "special_tokens": {}}, "model": {"type": "BPE", "vocab": {}, "merges": []}})",
         "special token '<s>' is not in \"special_tokens\""},
        {R"({"added_tokens": [{"id": 0}], "model": {"type": "BPE", "vocab": {}, "merges": []}})",
         "added_tokens[0] has no \"content\" string"},
        // The post-processor's ids are taken as written: one beyond the
        // vocabulary reached the model as an out-of-range token (found by
        // fuzz_tokenizer_json on a cut-down Llama-3 tokenizer).
        {R"({"post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
             {"Sequence": {"id": "A", "type_id": 0}}], "special_tokens": {"<s>": {"id": "<s>", "ids": [128000], "tokens": ["<s>"]}}},
             "model": {"type": "BPE", "vocab": {"<s>": 0, "a": 1}, "merges": []}})",
         "post_processor adds token id 128000, outside the vocabulary of 2 tokens"},
        {R"({"post_processor": {"type": "BertProcessing", "sep": ["</s>", -1], "cls": ["<s>", 0]},
             "model": {"type": "BPE", "vocab": {"<s>": 0, "a": 1}, "merges": []}})",
         "post_processor adds token id -1, outside the vocabulary of 2 tokens"},
    };
    for (const auto& [json, problem] : cases) {
        write("tokenizer.json", json);
        const std::string error = loadError();
        EXPECT_EQ(error.rfind(file + ": ", 0), 0u) << error;
        EXPECT_NE(error.find(problem), std::string::npos) << "want '" << problem << "' in: " << error;
    }
}

TEST_F(TokenizerLoading, DamagedSentencePieceModelsAreErrors) {
    const std::string full = readAll(shared("llama-2-spm", "tokenizer.model"));
    std::mt19937 rng(7);
    std::string random(4096, '\0');
    for (char& c : random) c = static_cast<char>(rng());
    for (const std::string& bytes : {std::string(), full.substr(0, 1000), full.substr(0, full.size() / 2),
                                     full.substr(0, full.size() - 3), random, std::string("not a model")}) {
        write("tokenizer.model", bytes);
        const std::string error = loadError();
        EXPECT_EQ(error.rfind((m_dir / "tokenizer.model").string() + ": ", 0), 0u) << error;
    }
}

TEST_F(TokenizerLoading, SentencePieceAddsBosByDefault) {
    link("tokenizer.model", shared("llama-2-spm", "tokenizer.model"));
    auto loaded = Tokenizer::loadFromFolder(m_dir);
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    const Tokenizer& tok = *loaded.value();
    EXPECT_EQ(tok.encode("Hello", true), (std::vector<TokenId>{1, 15043}));
    EXPECT_EQ(tok.encode("Hello", false), (std::vector<TokenId>{15043}));
    EXPECT_EQ(tok.bosId(), 1);
    EXPECT_EQ(tok.eosId(), 2);
}

TEST_F(TokenizerLoading, SentencePieceFollowsTokenizerConfig) {
    link("tokenizer.model", shared("llama-2-spm", "tokenizer.model"));
    write("tokenizer_config.json", R"({"add_bos_token": false, "add_eos_token": true})");
    auto loaded = Tokenizer::loadFromFolder(m_dir);
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    EXPECT_EQ(loaded.value()->encode("Hello", true), (std::vector<TokenId>{15043, 2}));
    EXPECT_EQ(loaded.value()->encode("Hello", false), (std::vector<TokenId>{15043}));
}

TEST_F(TokenizerLoading, DamagedTokenizerConfigIsAnError) {
    link("tokenizer.model", shared("llama-2-spm", "tokenizer.model"));
    write("tokenizer_config.json", "{\"add_bos_token\": tru");
    EXPECT_EQ(loadError(), (m_dir / "tokenizer_config.json").string() + ": invalid JSON");
}

TEST_F(TokenizerLoading, JsonBosComesFromThePostProcessorNotTheConfig) {
    // add_bos_token=false in tokenizer_config.json does not change what
    // tokenizer.json's TemplateProcessing adds (as in the Rust library).
    link("tokenizer.json", shared("llama-2-hf", "tokenizer.json"));
    write("tokenizer_config.json", R"({"add_bos_token": false, "bos_token": "<s>", "eos_token": {"content": "</s>"}})");
    auto loaded = Tokenizer::loadFromFolder(m_dir);
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    EXPECT_EQ(loaded.value()->encode("Hello", true), (std::vector<TokenId>{1, 15043}));
    EXPECT_EQ(loaded.value()->bosId(), 1);
    EXPECT_EQ(loaded.value()->eosId(), 2);
}

TEST(TokenizerSpecialIds, BosAndEosOfTheSharedTokenizers) {
    struct Case {
        const char* folder;
        std::optional<TokenId> bos, eos;
    };
    const Case cases[] = {
        {"llama-2-hf", 1, 2},
        {"mistral-7b-v0.1-hf", 1, 2},
        {"llama-3-hf", 128000, 128001},
        {"mistral-7b-v0.1-spm", 1, 2},
        {"olmo-gpt-neox-20b-pii-special-hf", std::nullopt, 0},  // <|endoftext|>, no BOS
        {"olmo2-dolma2-hf", std::nullopt, 100257},
        {"gpt2-hf", 50256, 50256},         // <|endoftext|> for both, as GPT2Tokenizer
        {"qwen3-hf", std::nullopt, 151645},  // bos_token null; eos <|im_end|> (instruct config)
    };
    for (const auto& c : cases) {
        auto loaded = Tokenizer::loadFromFolder(superlens::test::testData() / "tokenizers" / c.folder);
        ASSERT_TRUE(loaded.ok()) << loaded.error().message;
        EXPECT_EQ(loaded.value()->bosId(), c.bos) << c.folder;
        EXPECT_EQ(loaded.value()->eosId(), c.eos) << c.folder;
    }
}

TEST(TokenizerSpecialIds, WhatEncodeAddsAgreesWithAddBosTokenOfTheConfig) {
    // Transformers' fast tokenizers for these families either keep
    // tokenizer.json's post-processor (GPT-2, Qwen2/3) or rebuild it from
    // add_bos_token/add_eos_token (Llama, Mistral, Gemma); the vendored files
    // agree, so encode(text, true) is what transformers gives: <s> for
    // Llama-2 and Mistral (TemplateProcessing, as Gemma's <bos>), nothing for
    // GPT-2 and Qwen3.
    struct Case {
        const char* folder;
        std::vector<TokenId> added;
    };
    const Case cases[] = {{"llama-2-hf", {1}},
                          {"mistral-7b-v0.1-hf", {1}},
                          {"gpt2-hf", {}},
                          {"qwen3-hf", {}},
                          {"llama-3-hf", {128000}}};
    for (const auto& c : cases) {
        const auto folder = superlens::test::testData() / "tokenizers" / c.folder;
        const auto config = nlohmann::json::parse(readAll(folder / "tokenizer_config.json"));
        const bool addBos = config.value("add_bos_token", false);
        const bool addEos = config.value("add_eos_token", false);
        EXPECT_FALSE(addEos) << c.folder;
        auto loaded = Tokenizer::loadFromFolder(folder);
        ASSERT_TRUE(loaded.ok()) << loaded.error().message;
        const auto plain = loaded.value()->encode("Hello world", false);
        auto withSpecial = loaded.value()->encode("Hello world", true);
        ASSERT_GE(withSpecial.size(), plain.size()) << c.folder;
        const std::vector<TokenId> added(withSpecial.begin(), withSpecial.end() - static_cast<long>(plain.size()));
        EXPECT_EQ(added, c.added) << c.folder;
        if (std::string(c.folder) != "llama-3-hf") {  // Llama-3's config has no add_bos_token
            EXPECT_EQ(addBos, !c.added.empty()) << c.folder;
        }
        EXPECT_TRUE(std::equal(plain.begin(), plain.end(), withSpecial.end() - static_cast<long>(plain.size())))
            << c.folder;
    }
}

}  // namespace
