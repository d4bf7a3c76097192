// llama.cpp's tokenizer test vectors (models/ggml-vocab-*.gguf.inp/.out):
// strings separated by "\n__ggml_vocab_test__\n", one line of expected ids
// per string, encoded without BOS.
//   - llama-bpe (Llama-3): against llama-3-hf/tokenizer.json;
//   - llama-spm and phi-3 (Phi-3 shares Llama-2's vocabulary, and llama.cpp
//     expects the same ids for both, leading "▁" included): against
//     llama-2-spm/tokenizer.model and llama-2-hf/tokenizer.json;
//   - qwen2: the repository has no Qwen2 tokenizer, so this runs only when
//     SUPERLENS_QWEN2_TOKENIZER names a Qwen2-family tokenizer.json.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "superlens/core/tokenizer/tokenizer.h"
#include "test_paths.h"

namespace {

namespace fs = std::filesystem;
using superlens::core::TokenId;
using superlens::core::Tokenizer;

struct Vector {
    std::string text;
    std::vector<TokenId> ids;
};

std::string readAll(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<Vector> readVectors(const fs::path& inp) {
    const std::string separator = "\n__ggml_vocab_test__\n";
    const std::string all = readAll(inp);
    std::vector<std::string> texts;
    std::size_t begin = 0;
    for (std::size_t at; (at = all.find(separator, begin)) != std::string::npos; begin = at + separator.size())
        texts.push_back(all.substr(begin, at - begin));

    fs::path out = inp;
    out.replace_extension(".out");
    std::istringstream lines(readAll(out));
    std::vector<Vector> vectors;
    std::string line;
    for (const auto& text : texts) {
        std::getline(lines, line);
        Vector v{text, {}};
        std::istringstream ids(line);
        for (TokenId id; ids >> id;) v.ids.push_back(id);
        vectors.push_back(std::move(v));
    }
    return vectors;
}

void expectAllMatch(const Tokenizer& tok, const fs::path& inp, const std::string& label) {
    const auto vectors = readVectors(inp);
    ASSERT_EQ(vectors.size(), 46u) << inp;
    int matched = 0;
    for (const auto& v : vectors) {
        const auto ids = tok.encode(v.text, false);
        if (ids == v.ids)
            ++matched;
        else
            ADD_FAILURE() << label << " text=" << nlohmann::json(v.text).dump()
                          << "\n  want " << nlohmann::json(v.ids).dump() << "\n  got  " << nlohmann::json(ids).dump();
    }
    std::cout << "[ COUNT    ] " << label << ": " << matched << "/" << vectors.size() << " vectors match\n";
}

fs::path tokenizers() { return superlens::test::testData() / "tokenizers"; }

std::unique_ptr<Tokenizer> load(const fs::path& folder) {
    auto loaded = Tokenizer::loadFromFolder(folder);
    EXPECT_TRUE(loaded.ok()) << loaded.error().message;
    return loaded.ok() ? std::move(loaded.value()) : nullptr;
}

TEST(LlamaCppVectors, Llama3BpeWithTokenizerJson) {
    auto tok = load(tokenizers() / "llama-3-hf");
    ASSERT_TRUE(tok);
    expectAllMatch(*tok, tokenizers() / "llama-bpe-llama3-testcases" / "ggml-vocab-llama-bpe.gguf.inp",
                   "llama-bpe vs llama-3-hf/tokenizer.json");
}

TEST(LlamaCppVectors, LlamaSpmWithTokenizerModel) {
    auto tok = load(tokenizers() / "llama-2-spm");
    ASSERT_TRUE(tok);
    expectAllMatch(*tok, tokenizers() / "llama-spm-ggml-vocab" / "ggml-vocab-llama-spm.gguf.inp",
                   "llama-spm vs llama-2-spm/tokenizer.model");
}

TEST(LlamaCppVectors, LlamaSpmWithTokenizerJson) {
    auto tok = load(tokenizers() / "llama-2-hf");
    ASSERT_TRUE(tok);
    expectAllMatch(*tok, tokenizers() / "llama-spm-ggml-vocab" / "ggml-vocab-llama-spm.gguf.inp",
                   "llama-spm vs llama-2-hf/tokenizer.json");
}

TEST(LlamaCppVectors, Phi3WithTokenizerModel) {
    auto tok = load(tokenizers() / "llama-2-spm");
    ASSERT_TRUE(tok);
    expectAllMatch(*tok, tokenizers() / "phi-3-ggml-vocab" / "ggml-vocab-phi-3.gguf.inp",
                   "phi-3 vs llama-2-spm/tokenizer.model");
}

TEST(LlamaCppVectors, Phi3WithTokenizerJson) {
    auto tok = load(tokenizers() / "llama-2-hf");
    ASSERT_TRUE(tok);
    expectAllMatch(*tok, tokenizers() / "phi-3-ggml-vocab" / "ggml-vocab-phi-3.gguf.inp",
                   "phi-3 vs llama-2-hf/tokenizer.json");
}

TEST(LlamaCppVectors, Qwen2WhenATokenizerIsGiven) {
    const char* file = std::getenv("SUPERLENS_QWEN2_TOKENIZER");
    if (file == nullptr || *file == '\0')
        GTEST_SKIP() << "no Qwen2 tokenizer.json in tests/data; set SUPERLENS_QWEN2_TOKENIZER to run the "
                        "qwen2 vectors";
    auto loaded = Tokenizer::loadJson(file);
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    expectAllMatch(*loaded.value(), tokenizers() / "qwen2-testcases" / "ggml-vocab-qwen2.gguf.inp",
                   std::string("qwen2 vs ") + file);
}

}  // namespace
