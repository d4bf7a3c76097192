// parseTokenIds (token_ids.h): the one rule for token ids typed by a user,
// shared by the CLI's --ids and the GUI's "token ids" prompt mode.

#include <charconv>
#include <string>

#include "superlens/core/tokenizer/token_ids.h"

namespace superlens::core {
namespace {

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// At most about `n` bytes of `s` for an error message, cut on a UTF-8 boundary.
std::string shortened(std::string_view s, std::size_t n) {
    if (s.size() <= n) return std::string(s);
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    return std::string(s.substr(0, n)) + "...";
}

}  // namespace

Result<std::vector<TokenId>> parseTokenIds(std::string_view text, std::int64_t vocabSize, std::string_view label) {
    const std::string prefix = std::string(label) + ": ";
    const std::int64_t limit = vocabSize > 0 ? vocabSize : std::int64_t{2147483648};
    std::vector<TokenId> ids;
    std::size_t i = 0;
    bool afterComma = false;  // a comma was read since the last id
    while (i < text.size()) {
        const char c = text[i];
        if (isSpace(c)) {
            ++i;
            continue;
        }
        if (c == ',') {
            if (ids.empty() || afterComma) return Error{prefix + "empty item in '" + shortened(text, 200) + "'"};
            afterComma = true;
            ++i;
            continue;
        }
        std::size_t end = i;
        while (end < text.size() && text[end] != ',' && !isSpace(text[end])) ++end;
        const std::string_view item = text.substr(i, end - i);
        long long v = 0;
        const auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
        if (ec != std::errc() || ptr != item.data() + item.size() || v < 0 || v > 2147483647LL) {
            return Error{prefix + "'" + shortened(item, 100) + "' is not a token id"};
        }
        if (v >= limit) {
            return Error{prefix + "token id " + std::to_string(v) + " is outside the model's vocabulary (0.." + std::to_string(limit - 1) + ")"};
        }
        ids.push_back(static_cast<TokenId>(v));
        afterComma = false;
        i = end;
    }
    if (ids.empty()) return Error{prefix + "no token ids given"};
    return ids;
}

}  // namespace superlens::core
