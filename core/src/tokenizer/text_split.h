#pragma once
// Splitting text into pieces the way Hugging Face's NormalizedString::split
// does: a pattern yields matches covering the whole text, and a delimiter
// behaviour decides what becomes of the matched parts.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/unicode_regex.h"

namespace superlens::core {

// A piece of text on its way through the pipeline. `atStart` is true for the
// piece that begins at offset 0 of the user's text (Metaspace's
// prepend_scheme "first" needs it).
struct TextSplit {
    std::string text;
    bool atStart = false;
};

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

struct PatternMatch {
    std::size_t begin = 0;
    std::size_t end = 0;
    bool isMatch = false;
};

// Matches of a regex, with the gaps between them as non-matches.
std::vector<PatternMatch> regexMatches(const UnicodeRegex& regex, std::string_view text);
// Every character satisfying `pred` is its own match (HF's Fn(char) pattern).
std::vector<PatternMatch> charMatches(std::string_view text, const std::function<bool(char32_t)>& pred);
void invertMatches(std::vector<PatternMatch>& matches);

// Applies `behavior` to `matches` of split.text and appends the non-empty
// resulting pieces to `out`.
void splitByMatches(const TextSplit& split, const std::vector<PatternMatch>& matches, SplitBehavior behavior,
                    std::vector<TextSplit>& out);

}  // namespace superlens::core
