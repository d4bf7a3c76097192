// Fuzz target: the tokenizer a GGUF file carries (core/src/tokenizer/
// gguf_tokenizer.cpp): SentencePiece rebuilt from tokenizer.ggml.* arrays and
// byte-level BPE rebuilt as a tokenizer.json. Every input either loads or
// gives one error line naming the file; a loaded tokenizer encodes and
// decodes a few texts with ids inside its vocabulary.

#include <cstring>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "superlens/core/model/gguf.h"
#include "tokenizer/gguf_tokenizer.h"

using namespace superlens::core;
namespace fz = superlens::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::vector<std::byte> bytes(size);
    if (size) std::memcpy(bytes.data(), data, size);
    auto opened = GgufFile::fromBytes(std::move(bytes), "fuzz.gguf");
    if (!opened) return 0;  // the reader itself is fuzz_gguf's
    const GgufFile& f = **opened;
    if (!ggufHasTokenizer(f)) return 0;
    auto tok = loadGgufTokenizer(f, "fuzz.gguf");
    if (!tok) {
        fz::checkMessage(tok.error().message, "fuzz.gguf: ");
        return 0;
    }
    const Tokenizer& t = **tok;
    fz::require(t.vocabSize() > 0 && static_cast<std::uint64_t>(t.vocabSize()) <= kGgufMaxVocabulary, "vocabulary size");
    for (const char* text : {"", " ", "Once upon a time", "  two  spaces\n\tand a tab", "F\xc3\xbchrer \xe2\x96\x81 <s> <|endoftext|> 123"}) {
        const auto ids = t.encode(text, true);
        for (const TokenId id : ids) fz::require(id >= 0 && id < t.vocabSize(), "id inside the vocabulary");
        (void)t.decode(ids, false);
        (void)t.decode(ids, true);
    }
    for (TokenId id = 0; id < t.vocabSize() && id < 64; ++id) (void)t.tokenText(id);
    return 0;
}
