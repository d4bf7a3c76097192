// Hard cases beyond the shared expectations: empty input, invalid UTF-8 and
// random bytes (no crash, repaired as U+FFFD), very long words and
// whitespace runs, special tokens inside text, round trips, concurrent
// encoding, and the per-token accessors.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <random>
#include <string>
#include <thread>

#include "superlens/core/tokenizer/token_ids.h"
#include "superlens/core/tokenizer/tokenizer.h"
#include "test_paths.h"

namespace {

namespace fs = std::filesystem;
using superlens::core::TokenId;
using superlens::core::Tokenizer;

const char* kFolders[] = {"llama-2-spm",
                          "llama-2-hf",
                          "mistral-7b-v0.1-spm",
                          "llama-3-hf",
                          "olmo1-gpt-neox-olmo-dolma-v1_5-hf",
                          "olmo2-dolma2-hf",
                          "stories260K-hf",
                          "gpt2-hf",
                          "qwen3-hf"};

// Folders whose encode(text, true) adds nothing although a BOS is named
// (tokenizer_config.json says add_bos_token false, or OLMo's has no BOS).
bool addsNoBos(const std::string& folder) {
    return folder.find("olmo") != std::string::npos || folder == "gpt2-hf" || folder == "qwen3-hf";
}

// Loading Llama-3 costs a few hundred ms: load each folder once per binary.
const Tokenizer& tokenizer(const std::string& folder) {
    static std::map<std::string, std::unique_ptr<Tokenizer>> s_cache;
    auto& slot = s_cache[folder];
    if (!slot) {
        auto loaded = Tokenizer::loadFromFolder(superlens::test::testData() / "tokenizers" / folder);
        if (!loaded) throw std::runtime_error(loaded.error().message);
        slot = std::move(loaded.value());
    }
    return *slot;
}

bool isValidUtf8(const std::string& s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (std::size_t k = 1; k < n; ++k) {
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        }
        i += n;
    }
    return true;
}

double secondsOf(const std::function<void()>& fn) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

class EveryTokenizer : public testing::TestWithParam<const char*> {
protected:
    const Tokenizer& tok() const { return tokenizer(GetParam()); }
};

TEST_P(EveryTokenizer, EmptyTextGivesOnlyTheSpecialTokens) {
    EXPECT_TRUE(tok().encode("", false).empty());
    const auto withSpecial = tok().encode("", true);
    if (tok().bosId() && !addsNoBos(GetParam())) {
        EXPECT_EQ(withSpecial, std::vector<TokenId>{*tok().bosId()});
    }
    EXPECT_EQ(tok().decode(std::vector<TokenId>{}), "");
}

TEST_P(EveryTokenizer, InvalidUtf8IsRepairedAsReplacementCharacters) {
    // Each maximal invalid subsequence becomes one U+FFFD, as Python's
    // bytes.decode(errors="replace") and Rust's from_utf8_lossy.
    const std::pair<std::string, std::string> cases[] = {
        {"\xFF", "\xEF\xBF\xBD"},
        {"a\x80z", "a\xEF\xBF\xBDz"},
        {"\xC3", "\xEF\xBF\xBD"},                              // truncated 2-byte sequence
        {"\xE2\x82", "\xEF\xBF\xBD"},                          // truncated 3-byte sequence
        {"\xF0\x9F\x98", "\xEF\xBF\xBD"},                      // truncated emoji
        {"\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD"},              // overlong '/'
        {"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},  // UTF-16 surrogate
        {"\xF4\x90\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},  // above U+10FFFF
        {"ok \xE2\x82 ok", "ok \xEF\xBF\xBD ok"},
    };
    for (const auto& [bad, repaired] : cases) {
        EXPECT_EQ(tok().encode(bad, true), tok().encode(repaired, true)) << GetParam();
    }
}

TEST_P(EveryTokenizer, RandomBytesNeverCrashAndDecodeToValidUtf8) {
    std::mt19937 rng(1234);
    for (int round = 0; round < 300; ++round) {
        std::string bytes(rng() % 64, '\0');
        for (char& c : bytes) c = static_cast<char>(rng());
        const auto ids = tok().encode(bytes, round % 2 == 0);
        const std::string text = tok().decode(ids);
        EXPECT_TRUE(isValidUtf8(text)) << GetParam();
        // Arbitrary ids, in range or not, decode without trouble too.
        std::vector<TokenId> randomIds(rng() % 16);
        for (auto& id : randomIds) id = static_cast<TokenId>(rng() % (tok().vocabSize() + 10)) - 5;
        EXPECT_TRUE(isValidUtf8(tok().decode(randomIds))) << GetParam();
    }
}

TEST_P(EveryTokenizer, LongWordsAndWhitespaceRunsStayFast) {
    // Without a pre-tokenizer (Llama-2 tokenizer.json) a text is one BPE
    // word, so merging must not be quadratic; regexes must not backtrack
    // quadratically on whitespace runs.
    const std::string longWord(200000, 'a');
    const std::string spaces = std::string(100000, ' ') + "x";
    const std::string mixed = [] {
        std::string s;
        for (int i = 0; i < 20000; ++i) s += "ab1 \n\t";
        return s;
    }();
    for (const std::string* text : {&longWord, &spaces, &mixed}) {
        std::vector<TokenId> ids;
        const double seconds = secondsOf([&] { ids = tok().encode(*text, false); });
        EXPECT_LT(seconds, 5.0) << GetParam();
        EXPECT_FALSE(ids.empty());
    }
}

TEST_P(EveryTokenizer, TokenAccessorsAgree) {
    const auto ids = tok().encode("Hello world, 2024!", false);
    ASSERT_FALSE(ids.empty());
    for (const TokenId id : ids) {
        const std::string piece = tok().tokenString(id);
        EXPECT_FALSE(piece.empty());
        EXPECT_EQ(tok().tokenToId(piece), id) << piece;
        EXPECT_FALSE(tok().isSpecial(id));
        EXPECT_TRUE(isValidUtf8(tok().tokenText(id)));
    }
    EXPECT_EQ(tok().tokenString(-1), "");
    EXPECT_EQ(tok().tokenString(static_cast<TokenId>(tok().vocabSize())), "");
    EXPECT_EQ(tok().tokenToId("no such piece \x01\x02"), std::nullopt);
    if (tok().bosId()) {
        EXPECT_TRUE(tok().isSpecial(*tok().bosId()));
    }
}

TEST_P(EveryTokenizer, ConcurrentEncodingGivesTheSameIds) {
    std::string text;
    for (int i = 0; i < 2000; ++i) text += "word" + std::to_string(i % 97) + " and more text, ";
    const auto expected = tok().encode(text, true);
    std::vector<std::vector<TokenId>> results(4);
    std::vector<std::thread> threads;
    for (auto& result : results) threads.emplace_back([&] { result = tok().encode(text, true); });
    for (auto& t : threads) t.join();
    for (const auto& result : results) EXPECT_EQ(result, expected);
}

std::string caseName(const testing::TestParamInfo<const char*>& info) {
    std::string name = info.param;
    for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    }
    return name;
}

INSTANTIATE_TEST_SUITE_P(SharedTokenizers, EveryTokenizer, testing::ValuesIn(kFolders), caseName);

TEST(TokenizerHardCases, ByteLevelTokenizersRoundTripAnyValidText) {
    const std::string texts[] = {"",
                                 "  leading spaces\n\n\ttabs\r\n",
                                 "Emoji 👨‍👩‍👧 🇺🇸 e\xCC\x81 \xE2\x80\x8B zero width",
                                 std::string("nul \0 inside", 12),
                                 "<|begin_of_text|> is text here <|end_of_text|>",
                                 "\xEF\xBF\xBD replacement"};
    // Not Qwen3 or GPT-NeoX: their NFC normalizer composes "e\xCC\x81" into "\xC3\xA9".
    for (const char* folder : {"llama-3-hf", "olmo2-dolma2-hf", "gpt2-hf"}) {
        for (const auto& text : texts) {
            EXPECT_EQ(tokenizer(folder).decode(tokenizer(folder).encode(text, false)), text) << folder;
        }
    }
}

TEST(TokenizerHardCases, SpecialTokenTextInsideInput) {
    // tokenizer.json matches special tokens in raw text, as Hugging Face does.
    const Tokenizer& llama3 = tokenizer("llama-3-hf");
    EXPECT_EQ(llama3.encode("<|begin_of_text|>Hello", false), (std::vector<TokenId>{128000, 9906}));
    EXPECT_EQ(llama3.encode("<|begin_of_text|>Hello", true), (std::vector<TokenId>{128000, 128000, 9906}));
    EXPECT_EQ(llama3.encode("a<|eot_id|>b", false), (std::vector<TokenId>{64, 128009, 65}));
    const Tokenizer& llama2 = tokenizer("llama-2-hf");
    EXPECT_EQ(llama2.encode("<s>hi</s>", false), (std::vector<TokenId>{1, 7251, 2}));
    // SentencePiece-style tokenizer.json (Replace normalizer, byte fallback,
    // <s> from TemplateProcessing, as Gemma's files): special-token text plus
    // the added BOS, and skipping specials through the Replace/ByteFallback/
    // Fuse/Strip decoder. Ids as in mistral-7b-v0.1-hf/expected.jsonl and
    // llama-2-hf/expected.jsonl; decode(ids, skipSpecialTokens=true) from
    // Hugging Face tokenizers 0.23.2 (npm binding) on the same files.
    const Tokenizer& mistral = tokenizer("mistral-7b-v0.1-hf");
    EXPECT_EQ(mistral.encode("<s>no space</s>", true), (std::vector<TokenId>{1, 1, 708, 2764, 2}));
    EXPECT_EQ(mistral.decode(std::vector<TokenId>{1, 1, 708, 2764, 2}, false), "<s><s> no space</s>");
    EXPECT_EQ(mistral.decode(std::vector<TokenId>{1, 1, 708, 2764, 2}, true), "no space");
    // 🦙 is four byte-fallback tokens <0xF0><0x9F><0xA6><0x99>.
    const std::vector<TokenId> llamaIds{29871, 445, 338, 29871, 243, 162, 169, 156, 29889, 8223};
    EXPECT_EQ(llama2.encode(" this is \xF0\x9F\xA6\x99.cpp", false), llamaIds);
    std::vector<TokenId> withBos{1};
    withBos.insert(withBos.end(), llamaIds.begin(), llamaIds.end());
    EXPECT_EQ(llama2.decode(withBos, false), "<s>  this is \xF0\x9F\xA6\x99.cpp");
    EXPECT_EQ(llama2.decode(withBos, true), " this is \xF0\x9F\xA6\x99.cpp");
    const Tokenizer& qwen = tokenizer("qwen3-hf");
    EXPECT_EQ(qwen.encode("<|im_start|>user\nHi<|im_end|>", true),
              (std::vector<TokenId>{151644, 872, 198, 13048, 151645}));
    EXPECT_EQ(qwen.encode("<think>x</think>", true), (std::vector<TokenId>{151667, 87, 151668}));
    EXPECT_EQ(qwen.decode(std::vector<TokenId>{64, 151643, 65}, true), "ab");
    EXPECT_EQ(qwen.decode(std::vector<TokenId>{151667, 87, 151668}, true), "<think>x</think>");
    const Tokenizer& gpt2 = tokenizer("gpt2-hf");
    EXPECT_EQ(gpt2.encode("a<|endoftext|>b", true), (std::vector<TokenId>{64, 50256, 65}));
    EXPECT_EQ(gpt2.decode(std::vector<TokenId>{64, 50256, 65}, true), "ab");
    // SentencePiece reads the same characters as plain text.
    const Tokenizer& spm = tokenizer("llama-2-spm");
    const auto spmIds = spm.encode("<s>hi</s>", false);
    EXPECT_EQ(std::count(spmIds.begin(), spmIds.end(), 1), 0);
    EXPECT_EQ(spm.decode(spmIds), "<s>hi</s>");
}

TEST(TokenizerHardCases, SkippingSpecialTokensWhenDecoding) {
    const Tokenizer& llama3 = tokenizer("llama-3-hf");
    const std::vector<TokenId> ids{128000, 9906, 128001};
    EXPECT_EQ(llama3.decode(ids, false), "<|begin_of_text|>Hello<|end_of_text|>");
    EXPECT_EQ(llama3.decode(ids, true), "Hello");
    EXPECT_TRUE(llama3.isSpecial(128001));
    EXPECT_EQ(llama3.tokenString(128000), "<|begin_of_text|>");
    EXPECT_EQ(llama3.tokenText(9906), "Hello");
    EXPECT_EQ(llama3.tokenString(1917), "\xC4\xA0world");  // "Ġworld"
    EXPECT_EQ(llama3.tokenText(1917), " world");
    const Tokenizer& spm = tokenizer("llama-2-spm");
    EXPECT_EQ(spm.decode(std::vector<TokenId>{1, 15043, 0, 2}, false), "Hello ⁇ ");
    EXPECT_EQ(spm.decode(std::vector<TokenId>{1, 15043, 0, 2}, true), "Hello");
}

TEST(TokenizerHardCases, VocabularySizes) {
    EXPECT_EQ(tokenizer("llama-2-spm").vocabSize(), 32000);
    EXPECT_EQ(tokenizer("llama-2-hf").vocabSize(), 32000);
    EXPECT_EQ(tokenizer("llama-3-hf").vocabSize(), 128256);
    EXPECT_EQ(tokenizer("olmo2-dolma2-hf").vocabSize(), 100278);
    // Hugging Face's get_vocab_size(with_added_tokens=true) for the same files.
    EXPECT_EQ(tokenizer("gpt2-hf").vocabSize(), 50257);
    EXPECT_EQ(tokenizer("qwen3-hf").vocabSize(), 151669);
}

TEST(TokenizerHardCases, SentencePieceAndJsonAgreeOnLongText) {
    // Same vocabulary in two formats: ids must agree on ordinary text.
    std::string text;
    std::mt19937 rng(5);
    const char* words[] = {"the", "super", "weight", "Llama", "activation", "ünïcödé", "日本", "42", "x-ray", "\n"};
    for (int i = 0; i < 5000; ++i) text += std::string(words[rng() % 10]) + (rng() % 3 ? " " : "  ");
    EXPECT_EQ(tokenizer("llama-2-hf").encode(text, true), tokenizer("llama-2-spm").encode(text, true));
}

}  // namespace

using superlens::core::parseTokenIds;

// Token ids typed by a user: one rule (core::parseTokenIds) for the CLI's
// --ids, --stopword-ids and --text-ids files and the GUI's "token ids" mode,
// which used to parse them three different ways.
TEST(TokenIdLists, SeparatorsAndRanges) {
    const std::vector<TokenId> expected{1, 5, 9};
    for (const char* text : {"1,5,9", "1, 5, 9", "1 5 9", "1,5,9,", " 1\n5\n9\n", "1,\t5\r\n9", "1 ,5 , 9 ,"}) {
        auto ids = parseTokenIds(text, 0, "--ids");
        ASSERT_TRUE(ids.ok()) << text << ": " << ids.error().message;
        EXPECT_EQ(*ids, expected) << text;
    }
    auto big = parseTokenIds("0, 2147483647", 0, "--ids");
    ASSERT_TRUE(big.ok());
    EXPECT_EQ(big->back(), 2147483647);
    const std::pair<std::string, std::string> refused[] = {
        {"", "--ids: no token ids given"},
        {" , ", "--ids: empty item in ' , '"},
        {",1", "--ids: empty item in ',1'"},
        {"1,,2", "--ids: empty item in '1,,2'"},
        {"1,2,,", "--ids: empty item in '1,2,,'"},
        {"1,x", "--ids: 'x' is not a token id"},
        {"-1", "--ids: '-1' is not a token id"},
        {"+1", "--ids: '+1' is not a token id"},
        {"1.5", "--ids: '1.5' is not a token id"},
        {"0x10", "--ids: '0x10' is not a token id"},
        {"2147483648", "--ids: '2147483648' is not a token id"},
        {"99999999999999999999999", "--ids: '99999999999999999999999' is not a token id"},
        {"1;2", "--ids: '1;2' is not a token id"},
        // Control bytes are shown, never sent to the terminal (core::Error).
        {"1,5\x1b[2J", "--ids: '5\\x1b[2J' is not a token id"},
    };
    for (const auto& [text, message] : refused) {
        auto ids = parseTokenIds(text, 0, "--ids");
        ASSERT_FALSE(ids.ok()) << text;
        EXPECT_EQ(ids.error().message, message);
    }
    auto outside = parseTokenIds("1, 256", 256, "token ids");
    ASSERT_FALSE(outside.ok());
    EXPECT_EQ(outside.error().message, "token ids: token id 256 is outside the model's vocabulary (0..255)");
    auto inside = parseTokenIds("255", 256, "token ids");
    ASSERT_TRUE(inside.ok());
    // A very long item is cut in the message, on a character boundary.
    const std::string longItem = "1," + std::string(99, 'a') + "\xc3\xa9" + std::string(500, 'b');
    auto cut = parseTokenIds(longItem, 0, "--ids");
    ASSERT_FALSE(cut.ok());
    EXPECT_EQ(cut.error().message, "--ids: '" + std::string(99, 'a') + "...' is not a token id");
}
