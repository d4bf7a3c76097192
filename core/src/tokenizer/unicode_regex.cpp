#include "tokenizer/unicode_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <optional>

#include "tokenizer/unicode.h"

namespace superlens::core {

namespace {

// HF's regexes run on Oniguruma, whose Unicode \s is the White_Space property
// and \w is L|M|N|Pc. PCRE2's UCP \s also matches U+180E (no longer a space
// since Unicode 6.3) and its \w lacks marks, so spell both out as properties.
// Inside a character class only the non-negated forms can be expanded; \W
// there is left to PCRE2.
std::string adaptToOniguruma(std::string_view pattern) {
    std::string out;
    out.reserve(pattern.size() + 32);
    bool inClass = false;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        const char c = pattern[i];
        if (c == '\\' && i + 1 < pattern.size()) {
            const char next = pattern[++i];
            if (next == 's') {
                out += "\\p{White_Space}";
            } else if (next == 'S') {
                out += "\\P{White_Space}";
            } else if (next == 'w') {
                out += inClass ? "\\p{L}\\p{M}\\p{N}\\p{Pc}" : "[\\p{L}\\p{M}\\p{N}\\p{Pc}]";
            } else if (next == 'W' && !inClass) {
                out += "[^\\p{L}\\p{M}\\p{N}\\p{Pc}]";
            } else {
                out += c;
                out += next;
            }
            continue;
        }
        if (!inClass && c == '[') {
            inClass = true;
            out += c;
            // A ']' right after '[' or '[^' is a literal, not the end.
            if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
            if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
            continue;
        }
        if (inClass && c == ']') inClass = false;
        out += c;
    }
    return out;
}

}  // namespace

Result<std::shared_ptr<const UnicodeRegex>> UnicodeRegex::compile(std::string_view pattern) {
    const std::string adapted = adaptToOniguruma(pattern);
    pcre2_compile_context* context = pcre2_compile_context_create(nullptr);
    pcre2_set_newline(context, PCRE2_NEWLINE_LF);
    int errorCode = 0;
    PCRE2_SIZE errorOffset = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(adapted.data()), adapted.size(),
                                     PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE, &errorCode, &errorOffset, context);
    pcre2_compile_context_free(context);
    if (code == nullptr) {
        PCRE2_UCHAR buffer[256];
        pcre2_get_error_message(errorCode, buffer, sizeof(buffer));
        return Error{"invalid regex '" + std::string(pattern) + "': " + reinterpret_cast<const char*>(buffer) +
                     " at offset " + std::to_string(errorOffset)};
    }
    // JIT is an optimisation only: without it pcre2_match interprets.
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    return std::shared_ptr<const UnicodeRegex>(new UnicodeRegex(code));
}

std::string UnicodeRegex::escape(std::string_view literal) {
    // PCRE2 treats a backslash before any ASCII punctuation as that literal
    // character, so escaping every metacharacter is always safe.
    std::string out;
    out.reserve(literal.size() * 2);
    for (const char c : literal) {
        if (std::string_view("\\^$.|?*+()[]{}-#").find(c) != std::string_view::npos) out += '\\';
        out += c;
    }
    return out;
}

UnicodeRegex::~UnicodeRegex() { pcre2_code_free(m_code); }

void UnicodeRegex::findAll(std::string_view text, std::vector<Span>& out) const {
    pcre2_match_data* match = pcre2_match_data_create(1, nullptr);
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    const std::size_t n = text.size();
    std::size_t pos = 0;
    std::optional<std::size_t> lastMatchEnd;
    while (pos <= n) {
        const int rc = pcre2_match(m_code, subject, n, pos, PCRE2_NO_UTF_CHECK, match, nullptr);
        // No match, or a resource limit on a pathological input: the rest of
        // the text stays unmatched rather than failing the whole encode.
        if (rc < 0) break;
        const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match);
        const std::size_t begin = ovector[0];
        const std::size_t end = ovector[1];
        if (begin == end && lastMatchEnd && *lastMatchEnd == end) {
            // Oniguruma/Rust: an empty match right after a match is skipped
            // and the search resumes one character later.
            if (end >= n) break;
            pos = end + unicode::charLength(static_cast<unsigned char>(text[end]));
            continue;
        }
        out.emplace_back(begin, end);
        pos = end;
        lastMatchEnd = end;
    }
    pcre2_match_data_free(match);
}

}  // namespace superlens::core
