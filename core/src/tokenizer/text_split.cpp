#include "tokenizer/text_split.h"

#include <algorithm>

#include "tokenizer/unicode.h"

namespace superlens::core {

std::vector<PatternMatch> regexMatches(const UnicodeRegex& regex, std::string_view text) {
    std::vector<PatternMatch> matches;
    if (text.empty()) {
        matches.push_back({0, 0, false});
        return matches;
    }
    std::vector<UnicodeRegex::Span> spans;
    regex.findAll(text, spans);
    matches.reserve(spans.size() * 2 + 1);
    std::size_t prev = 0;
    for (const auto& [begin, end] : spans) {
        if (prev != begin) matches.push_back({prev, begin, false});
        matches.push_back({begin, end, true});
        prev = end;
    }
    if (prev != text.size()) matches.push_back({prev, text.size(), false});
    return matches;
}

std::vector<PatternMatch> charMatches(std::string_view text, const std::function<bool(char32_t)>& pred) {
    std::vector<PatternMatch> matches;
    if (text.empty()) {
        matches.push_back({0, 0, false});
        return matches;
    }
    std::size_t lastOffset = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        const std::size_t begin = i;
        const char32_t c = unicode::decode(text, i);
        if (pred(c)) {
            if (lastOffset < begin) matches.push_back({lastOffset, begin, false});
            matches.push_back({begin, i, true});
            lastOffset = i;
        }
    }
    if (lastOffset < text.size()) matches.push_back({lastOffset, text.size(), false});
    return matches;
}

void invertMatches(std::vector<PatternMatch>& matches) {
    for (auto& m : matches) m.isMatch = !m.isMatch;
}

void splitByMatches(const TextSplit& split, const std::vector<PatternMatch>& matches, SplitBehavior behavior,
                    const SplitSink& emit) {
    // (begin, end, remove) after applying the behaviour, as in HF's
    // NormalizedString::split.
    struct Piece {
        std::size_t begin, end;
        bool remove;
    };
    std::vector<Piece> pieces;
    pieces.reserve(matches.size());
    switch (behavior) {
    case SplitBehavior::Isolated:
        for (const auto& m : matches) pieces.push_back({m.begin, m.end, false});
        break;
    case SplitBehavior::Removed:
        for (const auto& m : matches) pieces.push_back({m.begin, m.end, m.isMatch});
        break;
    case SplitBehavior::MergedWithPrevious: {
        bool previousMatch = false;
        for (const auto& m : matches) {
            if (m.isMatch && !previousMatch && !pieces.empty())
                pieces.back().end = m.end;
            else
                pieces.push_back({m.begin, m.end, false});
            previousMatch = m.isMatch;
        }
        break;
    }
    case SplitBehavior::MergedWithNext: {
        bool previousMatch = false;
        for (auto it = matches.rbegin(); it != matches.rend(); ++it) {
            if (it->isMatch && !previousMatch && !pieces.empty())
                pieces.back().begin = it->begin;
            else
                pieces.push_back({it->begin, it->end, false});
            previousMatch = it->isMatch;
        }
        std::reverse(pieces.begin(), pieces.end());
        break;
    }
    case SplitBehavior::Contiguous: {
        bool previousMatch = false;
        for (const auto& m : matches) {
            if (m.isMatch == previousMatch && !pieces.empty())
                pieces.back().end = m.end;
            else
                pieces.push_back({m.begin, m.end, false});
            previousMatch = m.isMatch;
        }
        break;
    }
    }
    for (const auto& p : pieces) {
        if (p.remove || p.begin == p.end) continue;
        emit({split.text.substr(p.begin, p.end - p.begin), split.atStart && p.begin == 0});
    }
}

}  // namespace superlens::core
