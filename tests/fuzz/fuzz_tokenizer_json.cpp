// Fuzz target: tokenizer.json (core/src/tokenizer/tokenizer_json_reader.cpp
// streaming model.vocab and model.merges, json_tokenizer.cpp building the
// normalizer, pre-tokenizer, BPE model, post-processor and decoder). Every
// input either loads or gives one error line naming the file; a loaded
// tokenizer encodes a few texts with ids inside its vocabulary and decodes them.

#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "tokenizer/json_tokenizer.h"
#include "tokenizer/tokenizer_json_reader.h"

using namespace superlens::core;
namespace fz = superlens::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto contents = readTokenizerJsonText(text, "tokenizer.json");
    if (!contents) {
        fz::checkMessage(contents.error().message, "tokenizer.json: ");
        return 0;
    }
    TokenizerConfig config;
    config.bosToken = "<s>";
    config.eosToken = "</s>";
    auto tok = JsonTokenizer::fromContents(std::move(contents).value(), "tokenizer.json", config);
    if (!tok) {
        fz::checkMessage(tok.error().message, "tokenizer.json: ");
        return 0;
    }
    const Tokenizer& t = **tok;
    fz::require(t.vocabSize() >= 0 && t.vocabSize() <= (std::int64_t{1} << 24), "vocabulary within the limit");
    for (const char* sample : {"", " ", "Once upon a time", "  two  spaces\n\tand a tab", "F\xc3\xbchrer \xe2\x96\x81 <s> </s> <|endoftext|> 123",
                               "\xff\xfe invalid \xc3 utf-8", "caf\xc3\xa9 \xef\xbc\xa1 \xe4\xb8\xad\xe6\x96\x87 I'm you'll"}) {
        const auto ids = t.encode(sample, true);
        for (const TokenId id : ids) {
            if (id < 0 || id >= t.vocabSize()) {
                fz::fail("encode(\"" + fz::visible(sample) + "\") gives id " + std::to_string(id) + " outside the vocabulary of " +
                         std::to_string(t.vocabSize()));
            }
        }
        (void)t.decode(ids, false);
        (void)t.decode(ids, true);
    }
    for (TokenId id = 0; id < t.vocabSize() && id < 64; ++id) {
        (void)t.tokenText(id);
        (void)t.tokenToId(t.tokenString(id));
    }
    return 0;
}
