// Every line of every shared expected.jsonl: ids, token strings and decoded
// text from the reference libraries (SentencePiece 0.1.97 for *-spm, Hugging
// Face tokenizers 0.23.2 for *-hf), with and without special tokens.
// SUPERLENS_EXTRA_TOKENIZERS=DIR[:DIR...] adds folders outside the repository
// for local checks, such as Gemma 3's tokenizer written by
// `scripts/fixtures/tokenizers/vendor_npm.sh --gemma-to DIR` (not vendored:
// see tests/data/tokenizers/SOURCES.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "superlens/core/tokenizer/tokenizer.h"
#include "test_paths.h"

namespace {

using superlens::core::TokenId;
using superlens::core::Tokenizer;

std::string quoted(const std::string& s) { return nlohmann::json(s).dump(); }

template <class T>
std::string listText(const std::vector<T>& values) {
    return nlohmann::json(values).dump();
}

class ExpectedLines : public testing::TestWithParam<const char*> {};

TEST_P(ExpectedLines, EveryLineMatchesTheReferenceLibrary) {
    const auto folder = superlens::test::testData() / "tokenizers" / GetParam();
    const auto expectedFile = folder / "expected.jsonl";
    ASSERT_TRUE(std::filesystem::exists(expectedFile)) << expectedFile;

    auto loaded = Tokenizer::loadFromFolder(folder);
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    const Tokenizer& tok = *loaded.value();
    const bool isSpm = std::string(GetParam()).ends_with("-spm");
    EXPECT_EQ(tok.sourceFile().filename(), isSpm ? "tokenizer.model" : "tokenizer.json");

    std::ifstream in(expectedFile);
    std::string line;
    int total = 0;
    int matched = 0;
    int reported = 0;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        ++total;
        const auto row = nlohmann::json::parse(line);
        const auto text = row["text"].get<std::string>();
        const bool addSpecial = row["add_special_tokens"].get<bool>();
        const auto wantIds = row["ids"].get<std::vector<TokenId>>();
        const auto wantTokens = row["tokens"].get<std::vector<std::string>>();
        const auto wantDecoded = row["decoded"].get<std::string>();

        const auto ids = tok.encode(text, addSpecial);
        std::vector<std::string> tokens;
        for (const TokenId id : ids) tokens.push_back(tok.tokenString(id));
        // Decode the reference ids, so a decode check does not depend on encode.
        const auto decoded = tok.decode(wantIds, false);

        // Hugging Face's Encoding.tokens gives an lstrip/rstrip added token's
        // matched text, with the whitespace it absorbed (RoBERTa's " <mask>");
        // tokenString is the vocabulary entry. The ids show both are the same token.
        bool tokensOk = tokens.size() == wantTokens.size();
        for (std::size_t i = 0; tokensOk && i < tokens.size(); ++i) {
            if (tokens[i] == wantTokens[i]) continue;
            const std::string& w = wantTokens[i];
            const auto a = w.find_first_not_of(" \t\n"), b = w.find_last_not_of(" \t\n");
            tokensOk = tok.isSpecial(ids[i]) && a != std::string::npos && w.substr(a, b - a + 1) == tokens[i];
        }
        const bool ok = ids == wantIds && tokensOk && decoded == wantDecoded;
        if (ok) {
            ++matched;
        } else if (reported++ < 8) {
            ADD_FAILURE() << GetParam() << " line " << total << " text=" << quoted(text)
                          << " add_special_tokens=" << addSpecial << "\n  want ids " << listText(wantIds)
                          << "\n  got  ids " << listText(ids) << "\n  want tokens " << listText(wantTokens)
                          << "\n  got  tokens " << listText(tokens) << "\n  want decoded " << quoted(wantDecoded)
                          << "\n  got  decoded " << quoted(decoded);
        }
    }
    std::cout << "[ COUNT    ] " << GetParam() << ": " << matched << "/" << total << " lines match\n";
    RecordProperty("matched", matched);
    RecordProperty("total", total);
    EXPECT_GT(total, 0);
    EXPECT_EQ(matched, total);
}

std::string caseName(const testing::TestParamInfo<const char*>& info) {
    std::string name = info.param;
    for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    }
    return name;
}

// Absolute paths of the SUPERLENS_EXTRA_TOKENIZERS folders (none when unset);
// `testData() / "tokenizers" / absolutePath` is that path.
std::vector<const char*> extraFolders() {
    static const std::vector<std::string> s_paths = [] {
        std::vector<std::string> paths;
        const char* env = std::getenv("SUPERLENS_EXTRA_TOKENIZERS");
        const std::string list = env != nullptr ? env : "";
        std::size_t start = 0;
        while (start < list.size()) {
            const std::size_t end = std::min(list.find(':', start), list.size());
            if (end > start) paths.push_back(std::filesystem::absolute(list.substr(start, end - start)).string());
            start = end + 1;
        }
        return paths;
    }();
    std::vector<const char*> result;
    for (const auto& p : s_paths) result.push_back(p.c_str());
    return result;
}

INSTANTIATE_TEST_SUITE_P(SharedTokenizers, ExpectedLines,
                         testing::Values("llama-2-spm", "llama-2-hf", "mistral-7b-v0.1-spm", "mistral-7b-v0.1-hf",
                                         "llama-3-hf", "olmo1-gpt-neox-olmo-dolma-v1_5-hf",
                                         "olmo-gpt-neox-20b-pii-special-hf", "olmo2-dolma2-hf", "stories260K-spm",
                                         "stories260K-hf", "gpt2-hf", "qwen3-hf", "roberta-tiny-hf"),
                         caseName);

INSTANTIATE_TEST_SUITE_P(LocalTokenizers, ExpectedLines, testing::ValuesIn(extraFolders()), caseName);

}  // namespace
