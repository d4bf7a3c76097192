// SentencePiece models that carry normalization rules (a precompiled_charsmap:
// a double-array trie and the replacement strings it points into). Real rules
// load and apply as SentencePiece applies them; crafted ones, which crashed
// `tokenize` inside SentencePiece's normalizer (SIGSEGV, issue 15), are
// refused with one line naming the file before SentencePiece sees them; so
// are pieces libsentencepiece's trie builder throws on (empty, or holding a
// NUL byte: the uncaught exception aborted the process).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "superlens/core/tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using superlens::core::TokenId;
using superlens::core::Tokenizer;

const fs::path kFuzz = fs::path(SUPERLENS_SOURCE_DIR) / "tests" / "fuzz";

// A scratch folder holding one tokenizer.model (no tokenizer_config.json: BOS added).
class ModelFolder {
public:
    explicit ModelFolder(const fs::path& modelFile) {
        m_dir = fs::temp_directory_path() / ("superlens-spm-rules-" + std::to_string(::getpid()) + "-" + modelFile.stem().string());
        fs::remove_all(m_dir);
        fs::create_directories(m_dir);
        fs::copy_file(modelFile, m_dir / "tokenizer.model");
    }
    ~ModelFolder() { fs::remove_all(m_dir); }
    fs::path model() const { return m_dir / "tokenizer.model"; }

private:
    fs::path m_dir;
};

TEST(SentencePieceRules, RealRulesLoadAndApply) {
    // stories260K's model with SentencePiece-compiled rules spliced in
    // (make_corpus.py): A -> a, B -> b, U+FF21 -> A, U+2160 -> I, é -> e + U+0301.
    // Expected ids: libsentencepiece through Python on the same file,
    // sp.encode("AB café Ⅰ ＡB"), with BOS (1) in front.
    ModelFolder folder(kFuzz / "corpus" / "tokenizer_model" / "tests-data-stories260K-rules.model");
    auto tok = Tokenizer::loadSentencePiece(folder.model());
    ASSERT_TRUE(tok) << tok.error().message;
    const std::vector<TokenId> expected = {1, 261, 430, 280, 412, 431, 411, 207, 132, 359, 410, 447, 430};
    EXPECT_EQ((*tok)->encode("AB caf\xc3\xa9 \xe2\x85\xa0 \xef\xbc\xa1" "B", true), expected);
}

TEST(SentencePieceRules, CraftedRulesAreRefusedBeforeSentencePieceRunsThem) {
    // Each file: stories260K's model plus a damaged precompiled_charsmap. The
    // first three crashed `superlens-cli tokenize` with SIGSEGV before the check.
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"charsmap-value-beyond-strings", "replacement starts at byte"},
        {"charsmap-root-outside-trie", "root points outside the trie"},
        {"charsmap-child-outside-trie", "points outside the trie"},
        {"charsmap-trie-longer-than-blob", "is longer than the"},
        {"charsmap-no-nul", "not NUL-terminated"},
        {"charsmap-4-bytes", "shorter than its 4-byte header"},
    };
    for (const auto& [name, problem] : cases) {
        SCOPED_TRACE(name);
        ModelFolder folder(kFuzz / "regressions" / "tokenizer_model" / (name + ".model"));
        auto tok = Tokenizer::loadFromFolder(folder.model().parent_path());
        ASSERT_FALSE(tok);
        const std::string& m = tok.error().message;
        EXPECT_EQ(m.find('\n'), std::string::npos) << m;
        EXPECT_EQ(m.rfind(folder.model().string() + ": not a valid SentencePiece model: normalizer_spec.precompiled_charsmap: ", 0), 0u) << m;
        EXPECT_NE(m.find(problem), std::string::npos) << m;
    }
}

TEST(SentencePieceRules, DenormalizerRulesAreCheckedToo) {
    ModelFolder good(kFuzz / "corpus" / "tokenizer_model" / "tests-data-stories260K-denormalizer-rules.model");
    ASSERT_TRUE(Tokenizer::loadSentencePiece(good.model()));
    // The crafted trie as denormalizer_spec (field 5) instead of normalizer_spec (field 3).
    std::ifstream in(kFuzz / "regressions" / "tokenizer_model" / "charsmap-value-beyond-strings.model", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ifstream base(kFuzz / "corpus" / "tokenizer_model" / "tests-data-stories260K.model", std::ios::binary);
    const std::string plain((std::istreambuf_iterator<char>(base)), std::istreambuf_iterator<char>());
    ASSERT_GT(bytes.size(), plain.size());
    ASSERT_EQ(bytes.compare(0, plain.size(), plain), 0);
    ASSERT_EQ(bytes[plain.size()], '\x1a');  // key of field 3, length-delimited
    bytes[plain.size()] = '\x2a';            // field 5
    const fs::path scratch = fs::temp_directory_path() / ("superlens-spm-denorm-" + std::to_string(::getpid()) + ".model");
    std::ofstream(scratch, std::ios::binary) << bytes;
    {
        ModelFolder bad(scratch);
        auto tok = Tokenizer::loadSentencePiece(bad.model());
        ASSERT_FALSE(tok);
        EXPECT_NE(tok.error().message.find("denormalizer_spec.precompiled_charsmap: a rule's replacement starts at byte"), std::string::npos)
            << tok.error().message;
    }
    fs::remove(scratch);
}

TEST(SentencePieceRules, MalformedProtobufIsRefusedInOneLine) {
    ModelFolder folder(kFuzz / "corpus" / "tokenizer_model" / "tests-data-stories260K.model");
    std::string bytes;
    {
        std::ifstream in(folder.model(), std::ios::binary);
        bytes.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    }
    // A normalizer_spec whose length runs past the end of the file.
    bytes += std::string("\x1a\xff\xff\x03", 4);
    std::ofstream(folder.model(), std::ios::binary | std::ios::trunc) << bytes;
    auto tok = Tokenizer::loadSentencePiece(folder.model());
    ASSERT_FALSE(tok);
    EXPECT_EQ(tok.error().message, folder.model().string() + ": not a valid SentencePiece model: field 3 is longer than the file");
}

TEST(SentencePieceRules, EmptyPiecesAndNulBytesAreRefused) {
    // fuzz_tokenizer_model found a model with the piece "\0": libsentencepiece's
    // darts-clone builder threw "invalid null character", uncaught (abort).
    ModelFolder folder(kFuzz / "corpus" / "tokenizer_model" / "tests-data-stories260K.model");
    std::string plain;
    {
        std::ifstream in(folder.model(), std::ios::binary);
        plain.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    }
    const std::pair<std::string, std::string> cases[] = {
        // one more ModelProto.pieces entry (field 1) whose piece (field 1) is...
        {std::string("\x0a\x03\x0a\x01\x00", 5), "pieces[512] contains a NUL byte"},   // "\0"
        {std::string("\x0a\x05\x0a\x03\x61\x00\x62", 7), "pieces[512] contains a NUL byte"},  // "a\0b"
        {std::string("\x0a\x02\x0a\x00", 4), "pieces[512] is empty"},             // ""
        {std::string("\x0a\x02\x18\x01", 4), "pieces[512] is empty"},             // no piece, a type only
    };
    for (const auto& [extra, problem] : cases) {
        SCOPED_TRACE(problem);
        std::ofstream(folder.model(), std::ios::binary | std::ios::trunc) << plain << extra;
        auto tok = Tokenizer::loadSentencePiece(folder.model());
        ASSERT_FALSE(tok);
        EXPECT_EQ(tok.error().message, folder.model().string() + ": not a valid SentencePiece model: " + problem);
    }
    // The model as found by the fuzzer (also replayed by fuzz_replay_tokenizer_model).
    ModelFolder found(kFuzz / "regressions" / "tokenizer_model" / "piece-with-nul-byte.model");
    auto tok = Tokenizer::loadSentencePiece(found.model());
    ASSERT_FALSE(tok);
    EXPECT_NE(tok.error().message.find("contains a NUL byte"), std::string::npos) << tok.error().message;
}

}  // namespace
