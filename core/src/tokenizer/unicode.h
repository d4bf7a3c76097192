#pragma once
// UTF-8 handling and the Unicode character properties the tokenizer
// components need. Hugging Face tokenizers is written in Rust, so "whitespace",
// "numeric" and "word character" here mean what Rust's char methods and the
// regex crate's \w mean; ICU supplies the Unicode data and normalization forms.
//
// Everything here is thread-safe (ICU's normalizer instances are immutable).

#include <cstddef>
#include <string>
#include <string_view>

namespace superlens::core::unicode {

// Byte length of the UTF-8 sequence starting with `lead` (1 for a stray
// continuation byte, so loops over sanitized text always advance).
inline std::size_t charLength(unsigned char lead) {
    if (lead < 0x80) return 1;
    if (lead >= 0xF0) return 4;
    if (lead >= 0xE0) return 3;
    if (lead >= 0xC0) return 2;
    return 1;
}

// Decodes the code point at s[i] and advances i. `s` must be valid UTF-8.
char32_t decode(std::string_view s, std::size_t& i);
void append(std::string& out, char32_t cp);

bool isValid(std::string_view s);
// Replaces every maximal invalid subsequence with U+FFFD (Unicode's
// recommended practice, and what Rust's String::from_utf8_lossy does), so
// arbitrary bytes become the text a Rust/Python caller would have passed.
std::string sanitize(std::string_view s);

// Rust char::is_whitespace (Unicode White_Space).
bool isWhitespace(char32_t c);
// Rust char::is_numeric (general categories Nd, Nl, No).
bool isNumeric(char32_t c);
// The regex crate's Unicode \w (Alphabetic, M, Nd, Pc, Join_Control).
bool isWordChar(char32_t c);

enum class NormalForm { NFC, NFD, NFKC, NFKD };
// In-place Unicode normalization; `text` must be valid UTF-8.
void normalize(NormalForm form, std::string& text);
// Unicode default full lowercase mapping (Rust str::to_lowercase).
void toLower(std::string& text);

}  // namespace superlens::core::unicode
