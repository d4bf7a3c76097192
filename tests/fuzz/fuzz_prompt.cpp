// Fuzz target: what a user types as the model's input. The first byte
// chooses: 0, token ids (core::parseTokenIds: `--ids`, `--stopword-ids`,
// `--text-ids` files, the GUI's "token ids" mode) for a vocabulary of 0
// (unbounded), 256 or 151669 ids; 1-3, prompt text with special tokens
// encoded by a real tokenizer of tests/data (1: Qwen3's tokenizer.json,
// byte-level BPE with added special tokens such as <|im_start|>; 2: Llama 2's
// tokenizer.json, SentencePiece-style BPE with byte fallback; 3: Llama 2's
// tokenizer.model through libsentencepiece), with and without the
// tokenizer's own specials, then decoded.
//
// Ids: a list that parses is non-empty, every id inside the vocabulary, and
// its canonical text ("1, 5, 9") parses back to the same list; a refused list
// gives one error line starting with the label. Text: every id inside the
// vocabulary, at most a bounded number of tokens per input byte.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.h"
#include "superlens/core/tokenizer/token_ids.h"
#include "superlens/core/tokenizer/tokenizer.h"

#ifndef SUPERLENS_FUZZ_SOURCE_DIR
#error "SUPERLENS_FUZZ_SOURCE_DIR must name the repository (tests/fuzz/fuzz.cmake sets it)"
#endif

using namespace superlens::core;
namespace fz = superlens::fuzz;

namespace {

std::vector<std::unique_ptr<Tokenizer>>& tokenizers() {
    static std::vector<std::unique_ptr<Tokenizer>> s_tokenizers;
    return s_tokenizers;
}

void loadTokenizers() {
    if (!tokenizers().empty()) return;
    const std::filesystem::path data = std::filesystem::path(SUPERLENS_FUZZ_SOURCE_DIR) / "tests" / "data" / "tokenizers";
    for (const char* folder : {"qwen3-hf", "llama-2-hf", "llama-2-spm"}) {
        auto tok = Tokenizer::loadFromFolder(data / folder);
        if (!tok) fz::fail("cannot load the fuzz target's tokenizer: " + tok.error().message);
        tokenizers().push_back(std::move(tok).value());
    }
}

void fuzzIds(std::string_view text, std::int64_t vocab) {
    auto ids = parseTokenIds(text, vocab, "--ids");
    if (!ids) {
        fz::checkMessage(ids.error().message, "--ids: ");
        return;
    }
    fz::require(!ids->empty(), "a list that parses is not empty");
    std::string canonical;
    for (const TokenId id : *ids) {
        fz::require(id >= 0 && (vocab <= 0 || id < vocab), "ids inside the vocabulary");
        canonical += (canonical.empty() ? "" : ", ") + std::to_string(id);
    }
    auto again = parseTokenIds(canonical, vocab, "--ids");
    fz::require(again && *again == *ids, "the canonical text of a list parses back to the same list");
}

void fuzzPrompt(std::string_view text, const Tokenizer& t) {
    for (const bool specials : {true, false}) {
        const std::vector<TokenId> ids = t.encode(text, specials);
        fz::require(ids.size() <= 16 * text.size() + 8, "a bounded number of tokens per byte");
        for (const TokenId id : ids) {
            if (id < 0 || id >= t.vocabSize()) fz::fail("encode gives id " + std::to_string(id) + " outside the vocabulary of " + std::to_string(t.vocabSize()));
        }
        (void)t.decode(ids, false);
        (void)t.decode(ids, true);
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    loadTokenizers();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    loadTokenizers();
    const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
    switch (data[0] % 4) {
        case 0: {
            static const std::int64_t kVocabs[] = {0, 256, 151669};
            fuzzIds(rest, kVocabs[(data[0] / 4) % 3]);
            break;
        }
        default:
            fuzzPrompt(rest, *tokenizers()[static_cast<std::size_t>(data[0] % 4) - 1]);
            break;
    }
    return 0;
}
