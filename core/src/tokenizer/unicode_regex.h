#pragma once
// A compiled Unicode regex (PCRE2 with UTF + UCP, JIT when available) with
// the matching semantics Hugging Face tokenizers gets from Oniguruma:
// Ruby syntax, so ^ and $ are line anchors (LF only), and find-all skips an
// empty match that touches the previous match.
//
// Thread-safety: immutable after compile(); findAll may run concurrently.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "superlens/core/result.h"

struct pcre2_real_code_8;

namespace superlens::core {

class UnicodeRegex {
public:
    using Span = std::pair<std::size_t, std::size_t>;  // [begin, end) byte offsets

    // Errors name the pattern and PCRE2's message with the offset.
    static Result<std::shared_ptr<const UnicodeRegex>> compile(std::string_view pattern);
    // Escapes every regex metacharacter, for literal string patterns.
    static std::string escape(std::string_view literal);

    ~UnicodeRegex();
    UnicodeRegex(const UnicodeRegex&) = delete;
    UnicodeRegex& operator=(const UnicodeRegex&) = delete;

    // Appends all non-overlapping matches, leftmost first. `text` must be
    // valid UTF-8 (the tokenizer sanitizes its input first).
    void findAll(std::string_view text, std::vector<Span>& out) const;

private:
    explicit UnicodeRegex(pcre2_real_code_8* code) : m_code(code) {}
    pcre2_real_code_8* m_code;
};

}  // namespace superlens::core
