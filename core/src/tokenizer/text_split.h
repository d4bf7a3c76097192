#pragma once
// Splitting text into pieces the way Hugging Face's NormalizedString::split
// does: a pattern yields matches covering the whole text, and a delimiter
// behaviour decides what becomes of the matched parts.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
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

// A non-owning reference to a callable taking a TextSplit&&: the pieces flow
// through the pre-tokenizers one at a time, so a 1 MB text never becomes a
// list of 250k strings (std::function would allocate for each stage).
class SplitSink {
public:
    template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, SplitSink>>>
    SplitSink(F&& fn)  // NOLINT: implicit by design, like std::function_ref
        : m_object(const_cast<void*>(static_cast<const void*>(&fn))),
          m_call([](void* object, TextSplit&& split) { (*static_cast<std::remove_reference_t<F>*>(object))(std::move(split)); }) {}
    void operator()(TextSplit&& split) const { m_call(m_object, std::move(split)); }

private:
    void* m_object;
    void (*m_call)(void*, TextSplit&&);
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

// Applies `behavior` to `matches` of split.text and emits the non-empty
// resulting pieces in order.
void splitByMatches(const TextSplit& split, const std::vector<PatternMatch>& matches, SplitBehavior behavior,
                    const SplitSink& emit);

}  // namespace superlens::core
