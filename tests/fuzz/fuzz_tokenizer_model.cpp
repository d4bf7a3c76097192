// Fuzz target: tokenizer.model, a SentencePiece ModelProto
// (core/src/tokenizer/sentencepiece_tokenizer.cpp, with the check of its
// normalization tables in sentencepiece_check.cpp). Every input either loads
// or gives one error line naming the file; a loaded tokenizer encodes texts
// that reach the normalization rules (every byte value, full-width letters,
// combining marks) with ids inside its vocabulary, and decodes them.

#include <string>

#include "fuzz_common.h"
#include "tokenizer/sentencepiece_tokenizer.h"

using namespace superlens::core;
namespace fz = superlens::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    auto tok = SentencePieceTokenizer::fromSerialized(bytes, "tokenizer.model", true, true);
    if (!tok) {
        fz::checkMessage(tok.error().message, "tokenizer.model: ");
        return 0;
    }
    const Tokenizer& t = **tok;
    fz::require(t.vocabSize() > 0, "a loaded model has pieces");
    static const std::string s_everyByte = [] {
        std::string s;
        for (int c = 1; c < 256; ++c) s += static_cast<char>(c);
        return s;
    }();
    for (const std::string& text : {std::string(), std::string(" "), std::string("Once upon a time, AB caf\xc3\xa9"),
                                    std::string("\xef\xbc\xa1\xe2\x85\xa0 \xe3\x80\x80 e\xcc\x81  two  spaces\n\t<s></s><unk>"),
                                    std::string("nul\0inside", 10), s_everyByte}) {
        const auto ids = t.encode(text, true);
        for (const TokenId id : ids) fz::require(id >= 0 && id < t.vocabSize(), "id inside the vocabulary");
        (void)t.decode(ids, false);
        (void)t.decode(ids, true);
    }
    for (TokenId id = 0; id < t.vocabSize() && id < 64; ++id) {
        (void)t.tokenText(id);
        (void)t.tokenToId(t.tokenString(id));
    }
    return 0;
}
