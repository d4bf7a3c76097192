// The tokenizer.json components one by one, on small synthetic tokenizers
// that exercise what the shared files do not: Metaspace (prepend_scheme
// first/always/never, split), every Split behaviour with and without invert,
// String split patterns, Digits, ByteLevel add_prefix_space, Whitespace and
// WhitespaceSplit, NFKC/Lowercase/Strip normalizers, Bert/Roberta
// post-processors, added tokens with lstrip/rstrip/single_word/normalized,
// continuing_subword_prefix/end_of_word_suffix with and without fuse_unk,
// and the Replace/ByteFallback/Fuse/Strip decoders.
//
// The expected ids and decoded texts below are what Hugging Face tokenizers
// 0.23.2 (the Rust library via its npm binding) gives for the same JSON.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "superlens/core/tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using superlens::core::TokenId;
using superlens::core::Tokenizer;

const std::string kMeta = "\xE2\x96\x81";  // "▁"

Json addedToken(int id, const std::string& content, bool special, bool normalized = false, bool lstrip = false,
                bool rstrip = false, bool singleWord = false) {
    return {{"id", id},         {"content", content}, {"single_word", singleWord}, {"lstrip", lstrip},
            {"rstrip", rstrip}, {"normalized", normalized}, {"special", special}};
}

Json bosTemplate() {
    return {{"type", "TemplateProcessing"},
            {"single", Json::array({{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                                    {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
            {"pair", Json::array()},
            {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}};
}

struct BpeSpec {
    std::vector<std::string> tokens;  // id = position
    std::vector<std::string> merges;
    Json unk = nullptr, prefix = nullptr, suffix = nullptr;
    bool fuseUnk = false, byteFallback = false;
};

Json bpe(const BpeSpec& spec) {
    Json vocab = Json::object();
    for (std::size_t i = 0; i < spec.tokens.size(); ++i) vocab[spec.tokens[i]] = i;
    return {{"type", "BPE"},        {"dropout", nullptr},         {"unk_token", spec.unk},
            {"continuing_subword_prefix", spec.prefix},           {"end_of_word_suffix", spec.suffix},
            {"fuse_unk", spec.fuseUnk}, {"byte_fallback", spec.byteFallback}, {"ignore_merges", false},
            {"vocab", vocab},       {"merges", spec.merges}};
}

Json tokenizerJson(const Json& model, Json normalizer = nullptr, Json pre = nullptr, Json post = nullptr,
                   Json decoder = nullptr, Json added = Json::array()) {
    return {{"version", "1.0"},         {"truncation", nullptr}, {"padding", nullptr},
            {"added_tokens", added},     {"normalizer", normalizer}, {"pre_tokenizer", pre},
            {"post_processor", post},    {"decoder", decoder},   {"model", model}};
}

// A Llama-like vocabulary: specials, 256 byte tokens, "▁", a-z, a few merges.
BpeSpec llamaLike() {
    BpeSpec spec;
    spec.tokens = {"<unk>", "<s>", "</s>"};
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", b);
        spec.tokens.push_back(name);
    }
    spec.tokens.push_back(kMeta);
    for (char c = 'a'; c <= 'z'; ++c) spec.tokens.push_back(std::string(1, c));
    for (const char* t : {"\xE2\x96\x81h", "he", "ll", "\xE2\x96\x81he", "llo", "\xE2\x96\x81hello", "\xE2\x96\x81w", "or",
                          "\xE2\x96\x81wor", "ld", "\xE2\x96\x81world", "\xE2\x96\x81\xE2\x96\x81"})
        spec.tokens.push_back(t);
    spec.merges = {kMeta + " h", "h e", "l l", kMeta + "h e", "ll o", kMeta + "he llo", kMeta + " w", "o r",
                   kMeta + "w or", "l d", kMeta + "wor ld", kMeta + " " + kMeta};
    spec.unk = "<unk>";
    spec.byteFallback = true;
    return spec;
}

// GPT-2's byte-to-character table, so byte-level vocabularies can be built.
std::vector<std::string> byteChars() {
    std::vector<int> bs, cs;
    for (int b = '!'; b <= '~'; ++b) bs.push_back(b);
    for (int b = 0xA1; b <= 0xAC; ++b) bs.push_back(b);
    for (int b = 0xAE; b <= 0xFF; ++b) bs.push_back(b);
    cs = bs;
    int n = 0;
    for (int b = 0; b < 256; ++b) {
        if (std::find(bs.begin(), bs.end(), b) == bs.end()) {
            bs.push_back(b);
            cs.push_back(256 + n++);
        }
    }
    std::vector<std::string> chars(256);
    for (std::size_t i = 0; i < bs.size(); ++i) {
        std::string utf8;
        const int c = cs[i];
        if (c < 0x80) {
            utf8 += static_cast<char>(c);
        } else {
            utf8 += static_cast<char>(0xC0 | (c >> 6));
            utf8 += static_cast<char>(0x80 | (c & 0x3F));
        }
        chars[bs[i]] = utf8;
    }
    return chars;
}

BpeSpec byteLevelLike() {
    BpeSpec spec;
    spec.tokens = byteChars();
    for (const char* t : {"\xC4\xA0t", "he", "\xC4\xA0the", "12", "123", "\xC4\xA0\xC4\xA0"}) spec.tokens.push_back(t);
    spec.merges = {"\xC4\xA0 t", "h e", "\xC4\xA0t he", "1 2", "12 3", "\xC4\xA0 \xC4\xA0"};
    return spec;
}

const Json kByteLevelPre = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}};
const Json kByteLevelDecoder = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};

Json sequence(const char* key, std::initializer_list<Json> parts) {
    Json list = Json::array();
    for (const Json& part : parts) list.push_back(part);
    return {{"type", "Sequence"}, {key, list}};
}

std::map<std::string, Json> syntheticTokenizers() {
    std::map<std::string, Json> t;
    const Json specials = Json::array({addedToken(0, "<unk>", true), addedToken(1, "<s>", true), addedToken(2, "</s>", true)});
    BpeSpec llama = llamaLike();
    llama.fuseUnk = true;
    for (const char* scheme : {"first", "always", "never"}) {
        for (const bool split : {false, true}) {
            const Json meta = {{"type", "Metaspace"}, {"replacement", kMeta}, {"prepend_scheme", scheme}, {"split", split}};
            t[std::string("metaspace_") + scheme + (split ? "_split" : "_nosplit")] =
                tokenizerJson(bpe(llama), nullptr, meta, bosTemplate(), meta, specials);
        }
    }
    const BpeSpec bl = byteLevelLike();
    for (const char* behavior : {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"}) {
        for (const bool invert : {false, true}) {
            const Json split = {{"type", "Split"}, {"pattern", {{"Regex", "[0-9]+| "}}}, {"behavior", behavior}, {"invert", invert}};
            t[std::string("split_") + behavior + (invert ? "_inv" : "_plain")] =
                tokenizerJson(bpe(bl), nullptr, sequence("pretokenizers", {split, kByteLevelPre}), nullptr, kByteLevelDecoder);
        }
    }
    const Json dotSplit = {{"type", "Split"}, {"pattern", {{"String", "."}}}, {"behavior", "MergedWithPrevious"}, {"invert", false}};
    t["split_string_pattern"] =
        tokenizerJson(bpe(bl), nullptr, sequence("pretokenizers", {dotSplit, kByteLevelPre}), nullptr, kByteLevelDecoder);
    for (const bool individual : {false, true}) {
        const Json digits = {{"type", "Digits"}, {"individual_digits", individual}};
        t[individual ? "digits_individual" : "digits_grouped"] =
            tokenizerJson(bpe(bl), nullptr, sequence("pretokenizers", {digits, kByteLevelPre}), nullptr, kByteLevelDecoder);
    }
    t["bytelevel_prefix_space"] = tokenizerJson(
        bpe(bl), nullptr, {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}},
        {{"type", "RobertaProcessing"}, {"sep", {"</s>", 2}}, {"cls", {"<s>", 0}}, {"trim_offsets", true}, {"add_prefix_space", true}},
        kByteLevelDecoder);
    t["whitespace_lowercase"] = tokenizerJson(
        bpe(bl),
        sequence("normalizers", {{{"type", "NFKC"}}, {{"type", "Lowercase"}}, {{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}}}),
        sequence("pretokenizers", {{{"type", "Whitespace"}}, kByteLevelPre}),
        {{"type", "BertProcessing"}, {"sep", {"[SEP]", 5}}, {"cls", {"[CLS]", 4}}}, kByteLevelDecoder);
    t["whitespace_split"] = tokenizerJson(bpe(bl), nullptr, sequence("pretokenizers", {{{"type", "WhitespaceSplit"}}, kByteLevelPre}),
                                          nullptr, kByteLevelDecoder);
    const Json flagged = Json::array({addedToken(256, "<mask>", true, false, true, false),
                                      addedToken(257, "[X]", false, false, false, true),
                                      addedToken(258, "yes", false, true, false, false, true),
                                      addedToken(259, "<sep>", true, false, true, true),
                                      addedToken(260, "the", false, true)});
    t["added_flags"] = tokenizerJson(
        bpe(bl), {{"type", "Lowercase"}}, {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}},
        nullptr, kByteLevelDecoder, flagged);
    BpeSpec wordPiece;
    wordPiece.tokens = {"<unk>", "a", "b", "c", "##a", "##b", "##c", "ab", "abc", "a</w>", "##c</w>", "##b</w>", "b</w>", "c</w>",
                        "ab</w>", "abc</w>", "##bc</w>"};
    wordPiece.merges = {"a ##b", "ab ##c</w>", "a ##b</w>", "##b ##c</w>"};
    wordPiece.unk = "<unk>";
    wordPiece.prefix = "##";
    wordPiece.suffix = "</w>";
    t["prefix_suffix_unk"] = tokenizerJson(bpe(wordPiece), nullptr, {{"type", "WhitespaceSplit"}});
    wordPiece.fuseUnk = true;
    t["prefix_suffix_fused_unk"] = tokenizerJson(bpe(wordPiece), nullptr, {{"type", "WhitespaceSplit"}});
    t["decoders_strip_replace"] = tokenizerJson(
        bpe(llamaLike()),
        sequence("normalizers", {{{"type", "Replace"}, {"pattern", {{"Regex", "\\s+"}}}, {"content", " "}},
                                 {{"type", "Prepend"}, {"prepend", kMeta}},
                                 {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kMeta}}}),
        nullptr, bosTemplate(),
        sequence("decoders", {{{"type", "Replace"}, {"pattern", {{"String", kMeta}}}, {"content", " "}},
                              {{"type", "ByteFallback"}},
                              {{"type", "Fuse"}},
                              {{"type", "Strip"}, {"content", " "}, {"start", 2}, {"stop", 0}}}),
        specials);
    return t;
}

// [tokenizer, text, add_special_tokens, ids, decoded (null: = text), decoded
// skipping special tokens (null: = decoded)], from HF tokenizers 0.23.2.
const char* kReference = R"json(
[
["metaspace_first_nosplit","hello world",false,[291,296],null,null],
["metaspace_first_nosplit","hello world",true,[1,291,296],"<s> hello world","hello world"],
["metaspace_first_nosplit"," hello  world ",false,[291,259,296,259],"hello  world ",null],
["metaspace_first_nosplit"," hello  world ",true,[1,291,259,296,259],"<s> hello  world ","hello  world "],
["metaspace_first_nosplit","hello<s>world</s>",false,[291,1,282,293,295,2],null,"helloworld"],
["metaspace_first_nosplit","hello<s>world</s>",true,[1,291,1,282,293,295,2],"<s> hello<s>world</s>","helloworld"],
["metaspace_first_nosplit","héllo wörld ✓",false,[286,198,172,290,292,198,185,277,295,259,229,159,150],"h<0xC3><0xA9>llo w<0xC3><0xB6>rld <0xE2><0x9C><0x93>",null],
["metaspace_first_nosplit","héllo wörld ✓",true,[1,286,198,172,290,292,198,185,277,295,259,229,159,150],"<s> h<0xC3><0xA9>llo w<0xC3><0xB6>rld <0xE2><0x9C><0x93>","h<0xC3><0xA9>llo w<0xC3><0xB6>rld <0xE2><0x9C><0x93>"],
["metaspace_first_split","hello world",false,[291,296],null,null],
["metaspace_first_split","hello world",true,[1,291,296],"<s> hello world","hello world"],
["metaspace_first_split"," hello  world ",false,[291,259,296,259],"hello  world ",null],
["metaspace_first_split"," hello  world ",true,[1,291,259,296,259],"<s> hello  world ","hello  world "],
["metaspace_first_split","hello<s>world</s>",false,[291,1,282,293,295,2],null,"helloworld"],
["metaspace_first_split","hello<s>world</s>",true,[1,291,1,282,293,295,2],"<s> hello<s>world</s>","helloworld"],
["metaspace_first_split","héllo wörld ✓",false,[286,198,172,290,292,198,185,277,295,259,229,159,150],"h<0xC3><0xA9>llo w<0xC3><0xB6>rld <0xE2><0x9C><0x93>",null],
["metaspace_first_split","héllo wörld ✓",true,[1,286,198,172,290,292,198,185,277,295,259,229,159,150],"<s> h<0xC3><0xA9>llo w<0xC3><0xB6>rld <0xE2><0x9C><0x93>","h<0xC3><0xA9>llo w<0xC3><0xB6>rld <0xE2><0x9C><0x93>"],
["metaspace_always_nosplit","hello world",false,[291,296],null,null],
["metaspace_always_nosplit","hello world",true,[1,291,296],"<s> hello world","hello world"],
["metaspace_always_nosplit"," hello  world ",false,[291,259,296,259],"hello  world ",null],
["metaspace_always_nosplit"," hello  world ",true,[1,291,259,296,259],"<s> hello  world ","hello  world "],
["metaspace_always_nosplit","hello<s>world</s>",false,[291,1,296,2],"hello<s> world</s>","hello world"],
["metaspace_always_nosplit","hello<s>world</s>",true,[1,291,1,296,2],"<s> hello<s> world</s>","hello world"],
["metaspace_always_nosplit","héllo wörld ✓",false,[286,198,172,290,292,198,185,277,295,259,229,159,150],"h<0xC3><0xA9>llo w<0xC3><0xB6>rld <0xE2><0x9C><0x93>",null],
["metaspace_always_nosplit","héllo wörld ✓",true,[1,286,198,172,290,292,198,185,277,295,259,229,159,150],"<s> h<0xC3><0xA9>llo w<0xC3><0xB6>rld <0xE2><0x9C><0x93>","h<0xC3><0xA9>llo w<0xC3><0xB6>rld <0xE2><0x9C><0x93>"],
["metaspace_always_split","hello world",false,[291,296],null,null],
["metaspace_always_split","hello world",true,[1,291,296],"<s> hello world","hello world"],
["metaspace_always_split"," hello  world ",false,[291,259,296,259],"hello  world ",null],
["metaspace_always_split"," hello  world ",true,[1,291,259,296,259],"<s> hello  world ","hello  world "],
["metaspace_always_split","hello<s>world</s>",false,[291,1,296,2],"hello<s> world</s>","hello world"],
["metaspace_always_split","hello<s>world</s>",true,[1,291,1,296,2],"<s> hello<s> world</s>","hello world"],
["metaspace_always_split","héllo wörld ✓",false,[286,198,172,290,292,198,185,277,295,259,229,159,150],"h<0xC3><0xA9>llo w<0xC3><0xB6>rld <0xE2><0x9C><0x93>",null],
["metaspace_always_split","héllo wörld ✓",true,[1,286,198,172,290,292,198,185,277,295,259,229,159,150],"<s> h<0xC3><0xA9>llo w<0xC3><0xB6>rld <0xE2><0x9C><0x93>","h<0xC3><0xA9>llo w<0xC3><0xB6>rld <0xE2><0x9C><0x93>"],
["metaspace_never_nosplit","hello world",false,[287,290,296],null,null],
["metaspace_never_nosplit","hello world",true,[1,287,290,296],"<s>hello world","hello world"],
["metaspace_never_nosplit"," hello  world ",false,[291,259,296,259],null,null],
["metaspace_never_nosplit"," hello  world ",true,[1,291,259,296,259],"<s> hello  world "," hello  world "],
["metaspace_never_nosplit","hello<s>world</s>",false,[287,290,1,282,293,295,2],null,"helloworld"],
["metaspace_never_nosplit","hello<s>world</s>",true,[1,287,290,1,282,293,295,2],"<s>hello<s>world</s>","helloworld"],
["metaspace_never_nosplit","héllo wörld ✓",false,[267,198,172,290,292,198,185,277,295,259,229,159,150],"h<0xC3><0xA9>llo w<0xC3><0xB6>rld <0xE2><0x9C><0x93>",null],
["metaspace_never_nosplit","héllo wörld ✓",true,[1,267,198,172,290,292,198,185,277,295,259,229,159,150],"<s>h<0xC3><0xA9>llo w<0xC3><0xB6>rld <0xE2><0x9C><0x93>","h<0xC3><0xA9>llo w<0xC3><0xB6>rld <0xE2><0x9C><0x93>"],
["metaspace_never_split","hello world",false,[287,290,296],null,null],
["metaspace_never_split","hello world",true,[1,287,290,296],"<s>hello world","hello world"],
["metaspace_never_split"," hello  world ",false,[291,259,296,259],null,null],
["metaspace_never_split"," hello  world ",true,[1,291,259,296,259],"<s> hello  world "," hello  world "],
["metaspace_never_split","hello<s>world</s>",false,[287,290,1,282,293,295,2],null,"helloworld"],
["metaspace_never_split","hello<s>world</s>",true,[1,287,290,1,282,293,295,2],"<s>hello<s>world</s>","helloworld"],
["metaspace_never_split","héllo wörld ✓",false,[267,198,172,290,292,198,185,277,295,259,229,159,150],"h<0xC3><0xA9>llo w<0xC3><0xB6>rld <0xE2><0x9C><0x93>",null],
["metaspace_never_split","héllo wörld ✓",true,[1,267,198,172,290,292,198,185,277,295,259,229,159,150],"<s>h<0xC3><0xA9>llo w<0xC3><0xB6>rld <0xE2><0x9C><0x93>","h<0xC3><0xA9>llo w<0xC3><0xB6>rld <0xE2><0x9C><0x93>"],
["split_Removed_plain","the 123 thé12345 ..",false,[116,257,116,104,195,169,46,46],"thethé..",null],
["split_Removed_plain","the 123 thé12345 ..",true,[116,257,116,104,195,169,46,46],"thethé..",null],
["split_Removed_plain","  leading and trailing  ",false,[108,101,97,100,105,110,103,97,110,100,116,114,97,105,108,105,110,103],"leadingandtrailing",null],
["split_Removed_plain","  leading and trailing  ",true,[108,101,97,100,105,110,103,97,110,100,116,114,97,105,108,105,110,103],"leadingandtrailing",null],
["split_Removed_plain","12 1234567 x9y88z",false,[120,121,122],"xyz",null],
["split_Removed_plain","12 1234567 x9y88z",true,[120,121,122],"xyz",null],
["split_Removed_inv","the 123 thé12345 ..",false,[32,260,32,260,52,53,32]," 123 12345 ",null],
["split_Removed_inv","the 123 thé12345 ..",true,[32,260,32,260,52,53,32]," 123 12345 ",null],
["split_Removed_inv","  leading and trailing  ",false,[32,32,32,32,32,32],"      ",null],
["split_Removed_inv","  leading and trailing  ",true,[32,32,32,32,32,32],"      ",null],
["split_Removed_inv","12 1234567 x9y88z",false,[259,32,260,52,53,54,55,32,57,56,56],"12 1234567 988",null],
["split_Removed_inv","12 1234567 x9y88z",true,[259,32,260,52,53,54,55,32,57,56,56],"12 1234567 988",null],
["split_Isolated_plain","the 123 thé12345 ..",false,[116,257,32,260,32,116,104,195,169,260,52,53,32,46,46],null,null],
["split_Isolated_plain","the 123 thé12345 ..",true,[116,257,32,260,32,116,104,195,169,260,52,53,32,46,46],null,null],
["split_Isolated_plain","  leading and trailing  ",false,[32,32,108,101,97,100,105,110,103,32,97,110,100,32,116,114,97,105,108,105,110,103,32,32],null,null],
["split_Isolated_plain","  leading and trailing  ",true,[32,32,108,101,97,100,105,110,103,32,97,110,100,32,116,114,97,105,108,105,110,103,32,32],null,null],
["split_Isolated_plain","12 1234567 x9y88z",false,[259,32,260,52,53,54,55,32,120,57,121,56,56,122],null,null],
["split_Isolated_plain","12 1234567 x9y88z",true,[259,32,260,52,53,54,55,32,120,57,121,56,56,122],null,null],
["split_Isolated_inv","the 123 thé12345 ..",false,[116,257,32,260,32,116,104,195,169,260,52,53,32,46,46],null,null],
["split_Isolated_inv","the 123 thé12345 ..",true,[116,257,32,260,32,116,104,195,169,260,52,53,32,46,46],null,null],
["split_Isolated_inv","  leading and trailing  ",false,[32,32,108,101,97,100,105,110,103,32,97,110,100,32,116,114,97,105,108,105,110,103,32,32],null,null],
["split_Isolated_inv","  leading and trailing  ",true,[32,32,108,101,97,100,105,110,103,32,97,110,100,32,116,114,97,105,108,105,110,103,32,32],null,null],
["split_Isolated_inv","12 1234567 x9y88z",false,[259,32,260,52,53,54,55,32,120,57,121,56,56,122],null,null],
["split_Isolated_inv","12 1234567 x9y88z",true,[259,32,260,52,53,54,55,32,120,57,121,56,56,122],null,null],
["split_MergedWithPrevious_plain","the 123 thé12345 ..",false,[116,257,32,260,32,116,104,195,169,260,52,53,32,46,46],null,null],
["split_MergedWithPrevious_plain","the 123 thé12345 ..",true,[116,257,32,260,32,116,104,195,169,260,52,53,32,46,46],null,null],
["split_MergedWithPrevious_plain","  leading and trailing  ",false,[32,32,108,101,97,100,105,110,103,32,97,110,100,32,116,114,97,105,108,105,110,103,32,32],null,null],
["split_MergedWithPrevious_plain","  leading and trailing  ",true,[32,32,108,101,97,100,105,110,103,32,97,110,100,32,116,114,97,105,108,105,110,103,32,32],null,null],
["split_MergedWithPrevious_plain","12 1234567 x9y88z",false,[259,32,260,52,53,54,55,32,120,57,121,56,56,122],null,null],
["split_MergedWithPrevious_plain","12 1234567 x9y88z",true,[259,32,260,52,53,54,55,32,120,57,121,56,56,122],null,null],
["split_MergedWithPrevious_inv","the 123 thé12345 ..",false,[116,257,32,260,256,104,195,169,260,52,53,32,46,46],null,null],
["split_MergedWithPrevious_inv","the 123 thé12345 ..",true,[116,257,32,260,256,104,195,169,260,52,53,32,46,46],null,null],
["split_MergedWithPrevious_inv","  leading and trailing  ",false,[32,32,108,101,97,100,105,110,103,32,97,110,100,256,114,97,105,108,105,110,103,32,32],null,null],
["split_MergedWithPrevious_inv","  leading and trailing  ",true,[32,32,108,101,97,100,105,110,103,32,97,110,100,256,114,97,105,108,105,110,103,32,32],null,null],
["split_MergedWithPrevious_inv","12 1234567 x9y88z",false,[259,32,260,52,53,54,55,32,120,57,121,56,56,122],null,null],
["split_MergedWithPrevious_inv","12 1234567 x9y88z",true,[259,32,260,52,53,54,55,32,120,57,121,56,56,122],null,null],
["split_MergedWithNext_plain","the 123 thé12345 ..",false,[116,257,32,260,256,104,195,169,260,52,53,32,46,46],null,null],
["split_MergedWithNext_plain","the 123 thé12345 ..",true,[116,257,32,260,256,104,195,169,260,52,53,32,46,46],null,null],
["split_MergedWithNext_plain","  leading and trailing  ",false,[32,32,108,101,97,100,105,110,103,32,97,110,100,256,114,97,105,108,105,110,103,32,32],null,null],
["split_MergedWithNext_plain","  leading and trailing  ",true,[32,32,108,101,97,100,105,110,103,32,97,110,100,256,114,97,105,108,105,110,103,32,32],null,null],
["split_MergedWithNext_plain","12 1234567 x9y88z",false,[259,32,260,52,53,54,55,32,120,57,121,56,56,122],null,null],
["split_MergedWithNext_plain","12 1234567 x9y88z",true,[259,32,260,52,53,54,55,32,120,57,121,56,56,122],null,null],
["split_MergedWithNext_inv","the 123 thé12345 ..",false,[116,257,32,260,32,116,104,195,169,260,52,53,32,46,46],null,null],
["split_MergedWithNext_inv","the 123 thé12345 ..",true,[116,257,32,260,32,116,104,195,169,260,52,53,32,46,46],null,null],
["split_MergedWithNext_inv","  leading and trailing  ",false,[32,32,108,101,97,100,105,110,103,32,97,110,100,32,116,114,97,105,108,105,110,103,32,32],null,null],
["split_MergedWithNext_inv","  leading and trailing  ",true,[32,32,108,101,97,100,105,110,103,32,97,110,100,32,116,114,97,105,108,105,110,103,32,32],null,null],
["split_MergedWithNext_inv","12 1234567 x9y88z",false,[259,32,260,52,53,54,55,32,120,57,121,56,56,122],null,null],
["split_MergedWithNext_inv","12 1234567 x9y88z",true,[259,32,260,52,53,54,55,32,120,57,121,56,56,122],null,null],
["split_Contiguous_plain","the 123 thé12345 ..",false,[116,257,32,260,32,116,104,195,169,260,52,53,32,46,46],null,null],
["split_Contiguous_plain","the 123 thé12345 ..",true,[116,257,32,260,32,116,104,195,169,260,52,53,32,46,46],null,null],
["split_Contiguous_plain","  leading and trailing  ",false,[261,108,101,97,100,105,110,103,32,97,110,100,32,116,114,97,105,108,105,110,103,261],null,null],
["split_Contiguous_plain","  leading and trailing  ",true,[261,108,101,97,100,105,110,103,32,97,110,100,32,116,114,97,105,108,105,110,103,261],null,null],
["split_Contiguous_plain","12 1234567 x9y88z",false,[259,32,260,52,53,54,55,32,120,57,121,56,56,122],null,null],
["split_Contiguous_plain","12 1234567 x9y88z",true,[259,32,260,52,53,54,55,32,120,57,121,56,56,122],null,null],
["split_Contiguous_inv","the 123 thé12345 ..",false,[116,257,32,260,32,116,104,195,169,260,52,53,32,46,46],null,null],
["split_Contiguous_inv","the 123 thé12345 ..",true,[116,257,32,260,32,116,104,195,169,260,52,53,32,46,46],null,null],
["split_Contiguous_inv","  leading and trailing  ",false,[261,108,101,97,100,105,110,103,32,97,110,100,32,116,114,97,105,108,105,110,103,261],null,null],
["split_Contiguous_inv","  leading and trailing  ",true,[261,108,101,97,100,105,110,103,32,97,110,100,32,116,114,97,105,108,105,110,103,261],null,null],
["split_Contiguous_inv","12 1234567 x9y88z",false,[259,32,260,52,53,54,55,32,120,57,121,56,56,122],null,null],
["split_Contiguous_inv","12 1234567 x9y88z",true,[259,32,260,52,53,54,55,32,120,57,121,56,56,122],null,null],
["split_string_pattern","the 123 thé12345 ..",false,[116,257,32,260,256,104,195,169,260,52,53,32,46,46],null,null],
["split_string_pattern","the 123 thé12345 ..",true,[116,257,32,260,256,104,195,169,260,52,53,32,46,46],null,null],
["split_string_pattern","a.b.c..d",false,[97,46,98,46,99,46,46,100],null,null],
["split_string_pattern","a.b.c..d",true,[97,46,98,46,99,46,46,100],null,null],
["digits_grouped","the 123 thé12345 ..",false,[116,257,32,260,256,104,195,169,260,52,53,32,46,46],null,null],
["digits_grouped","the 123 thé12345 ..",true,[116,257,32,260,256,104,195,169,260,52,53,32,46,46],null,null],
["digits_grouped","12 1234567 x9y88z",false,[259,32,260,52,53,54,55,32,120,57,121,56,56,122],null,null],
["digits_grouped","12 1234567 x9y88z",true,[259,32,260,52,53,54,55,32,120,57,121,56,56,122],null,null],
["digits_individual","the 123 thé12345 ..",false,[116,257,32,49,50,51,256,104,195,169,49,50,51,52,53,32,46,46],null,null],
["digits_individual","the 123 thé12345 ..",true,[116,257,32,49,50,51,256,104,195,169,49,50,51,52,53,32,46,46],null,null],
["digits_individual","12 1234567 x9y88z",false,[49,50,32,49,50,51,52,53,54,55,32,120,57,121,56,56,122],null,null],
["digits_individual","12 1234567 x9y88z",true,[49,50,32,49,50,51,52,53,54,55,32,120,57,121,56,56,122],null,null],
["bytelevel_prefix_space","",false,[],null,null],
["bytelevel_prefix_space","",true,[0,2],"\u0000\u0002",null],
["bytelevel_prefix_space","hello world",false,[32,257,108,108,111,32,119,111,114,108,100]," hello world",null],
["bytelevel_prefix_space","hello world",true,[0,32,257,108,108,111,32,119,111,114,108,100,2],"\u0000 hello world\u0002",null],
["bytelevel_prefix_space"," hello  world ",false,[32,257,108,108,111,32,32,119,111,114,108,100,32],null,null],
["bytelevel_prefix_space"," hello  world ",true,[0,32,257,108,108,111,32,32,119,111,114,108,100,32,2],"\u0000 hello  world \u0002",null],
["whitespace_lowercase","hello\tworld\n",false,[257,108,108,111,119,111,114,108,100],"helloworld",null],
["whitespace_lowercase","hello\tworld\n",true,[4,257,108,108,111,119,111,114,108,100,5],"\u0004helloworld\u0005",null],
["whitespace_lowercase","ＨＥＬＬＯ　Ｗｏｒｌｄ ½",false,[257,108,108,111,119,111,114,108,100,49,226,129,132,50],"helloworld1⁄2",null],
["whitespace_lowercase","ＨＥＬＬＯ　Ｗｏｒｌｄ ½",true,[4,257,108,108,111,119,111,114,108,100,49,226,129,132,50,5],"\u0004helloworld1⁄2\u0005",null],
["whitespace_lowercase","  leading and trailing  ",false,[108,101,97,100,105,110,103,97,110,100,116,114,97,105,108,105,110,103],"leadingandtrailing",null],
["whitespace_lowercase","  leading and trailing  ",true,[4,108,101,97,100,105,110,103,97,110,100,116,114,97,105,108,105,110,103,5],"\u0004leadingandtrailing\u0005",null],
["whitespace_lowercase","x᠎y",false,[120,225,160,142,121],"x᠎y",null],
["whitespace_lowercase","x᠎y",true,[4,120,225,160,142,121,5],"\u0004x᠎y\u0005",null],
["whitespace_split"," hello  world ",false,[257,108,108,111,119,111,114,108,100],"helloworld",null],
["whitespace_split"," hello  world ",true,[257,108,108,111,119,111,114,108,100],"helloworld",null],
["whitespace_split","hello\tworld\n",false,[257,108,108,111,119,111,114,108,100],"helloworld",null],
["whitespace_split","hello\tworld\n",true,[257,108,108,111,119,111,114,108,100],"helloworld",null],
["whitespace_split","x᠎y",false,[120,225,160,142,121],"x᠎y",null],
["whitespace_split","x᠎y",true,[120,225,160,142,121],"x᠎y",null],
["added_flags","hello<s>world</s>",false,[257,108,108,111,60,115,62,119,111,114,108,100,60,47,115,62],null,null],
["added_flags","hello<s>world</s>",true,[257,108,108,111,60,115,62,119,111,114,108,100,60,47,115,62],null,null],
["added_flags","the 123 thé12345 ..",false,[266,32,260,256,104,195,169,260,52,53,32,46,46],null,null],
["added_flags","the 123 thé12345 ..",true,[266,32,260,256,104,195,169,260,52,53,32,46,46],null,null],
["added_flags","The YES yes yesno <mask>  x[X]  y <sep> z THE the",false,[266,32,264,32,264,32,121,101,115,110,111,262,32,32,120,263,121,265,122,32,266,32,266],"the yes yes yesno<mask>  x[X]y<sep>z the the","the yes yes yesno  x[X]yz the the"],
["added_flags","The YES yes yesno <mask>  x[X]  y <sep> z THE the",true,[266,32,264,32,264,32,121,101,115,110,111,262,32,32,120,263,121,265,122,32,266,32,266],"the yes yes yesno<mask>  x[X]y<sep>z the the","the yes yes yesno  x[X]yz the the"],
["prefix_suffix_unk","hello world",false,[0,0,0,0,0,0,0,0,0,0],"<unk> <unk> <unk> <unk> <unk> <unk> <unk> <unk> <unk> <unk>",null],
["prefix_suffix_unk","hello world",true,[0,0,0,0,0,0,0,0,0,0],"<unk> <unk> <unk> <unk> <unk> <unk> <unk> <unk> <unk> <unk>",null],
["prefix_suffix_unk","ab abc abcd ca cab bb",false,[14,15,7,6,0,3,0,3,4,11,2,11],"ab</w> abc</w> ab ##c <unk> c <unk> c ##a ##b</w> b ##b</w>",null],
["prefix_suffix_unk","ab abc abcd ca cab bb",true,[14,15,7,6,0,3,0,3,4,11,2,11],"ab</w> abc</w> ab ##c <unk> c <unk> c ##a ##b</w> b ##b</w>",null],
["prefix_suffix_fused_unk","hello world",false,[0,0],"<unk> <unk>",null],
["prefix_suffix_fused_unk","hello world",true,[0,0],"<unk> <unk>",null],
["prefix_suffix_fused_unk","ab abc abcd ca cab bb",false,[14,15,7,6,0,3,0,3,4,11,2,11],"ab</w> abc</w> ab ##c <unk> c <unk> c ##a ##b</w> b ##b</w>",null],
["prefix_suffix_fused_unk","ab abc abcd ca cab bb",true,[14,15,7,6,0,3,0,3,4,11,2,11],"ab</w> abc</w> ab ##c <unk> c <unk> c ##a ##b</w> b ##b</w>",null],
["decoders_strip_replace"," hello  world ",false,[259,291,296,259],"hello world ",null],
["decoders_strip_replace"," hello  world ",true,[1,259,291,296,259],"<s>  hello world ","hello world "],
["decoders_strip_replace","hello\tworld\n",false,[291,296,259],"hello world ",null],
["decoders_strip_replace","hello\tworld\n",true,[1,291,296,259],"<s> hello world ","hello world "],
["decoders_strip_replace","héllo wörld ✓",false,[286,198,172,290,292,198,185,277,295,259,229,159,150],null,null],
["decoders_strip_replace","héllo wörld ✓",true,[1,286,198,172,290,292,198,185,277,295,259,229,159,150],"<s> héllo wörld ✓","héllo wörld ✓"]
])json";

class SyntheticTokenizers : public testing::Test {
protected:
    static void SetUpTestSuite() {
        s_dir = fs::temp_directory_path() / ("superlens_tok_components_" + std::to_string(std::random_device{}()));
        fs::create_directories(s_dir);
        for (const auto& [name, spec] : syntheticTokenizers()) {
            const fs::path file = s_dir / (name + ".json");
            std::ofstream(file) << spec.dump();
            auto loaded = Tokenizer::loadJson(file);
            ASSERT_TRUE(loaded.ok()) << loaded.error().message;
            s_tokenizers()[name] = std::move(loaded.value());
        }
    }
    static void TearDownTestSuite() {
        s_tokenizers().clear();
        fs::remove_all(s_dir);
    }
    static std::map<std::string, std::unique_ptr<Tokenizer>>& s_tokenizers() {
        static std::map<std::string, std::unique_ptr<Tokenizer>> s_map;
        return s_map;
    }
    static inline fs::path s_dir;
};

TEST_F(SyntheticTokenizers, MatchHuggingFaceTokenizers) {
    const Json reference = Json::parse(kReference);
    std::map<std::string, int> checked;
    for (const auto& row : reference) {
        const auto name = row[0].get<std::string>();
        const auto text = row[1].get<std::string>();
        const bool add = row[2].get<bool>();
        const auto ids = row[3].get<std::vector<TokenId>>();
        const std::string decoded = row[4].is_null() ? text : row[4].get<std::string>();
        const std::string skipped = row[5].is_null() ? decoded : row[5].get<std::string>();
        ASSERT_TRUE(s_tokenizers().contains(name)) << name;
        const Tokenizer& tok = *s_tokenizers()[name];
        const std::string where = name + " text=" + Json(text).dump() + " add=" + (add ? "true" : "false");
        EXPECT_EQ(Json(tok.encode(text, add)).dump(), Json(ids).dump()) << where;
        EXPECT_EQ(tok.decode(ids, false), decoded) << where;
        EXPECT_EQ(tok.decode(ids, true), skipped) << where;
        ++checked[name];
    }
    // Every synthetic tokenizer has reference rows.
    EXPECT_EQ(checked.size(), syntheticTokenizers().size());
}

TEST_F(SyntheticTokenizers, StripDecoderOnEmptyOutputDoesNotCrash) {
    // HF tokenizers 0.23.2 panics here (index underflow in Strip with stop > 0).
    Json spec = syntheticTokenizers()["decoders_strip_replace"];
    spec["decoder"]["decoders"][3]["stop"] = 1;
    const fs::path file = s_dir / "strip_stop.json";
    std::ofstream(file) << spec.dump();
    auto loaded = Tokenizer::loadJson(file);
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    EXPECT_EQ(loaded.value()->decode(std::vector<TokenId>{}), "");
    EXPECT_EQ(loaded.value()->decode(std::vector<TokenId>{259}), "");  // "▁" -> " " -> stripped
}

}  // namespace
