#include "tokenizer/byte_level.h"

#include "tokenizer/unicode.h"

namespace superlens::core::byte_level {

namespace {

struct Tables {
    std::array<std::string, 256> byteToChars;
    std::array<int, 512> charToByte{};  // all mapped characters are < U+0144

    Tables() {
        charToByte.fill(-1);
        int next = 256;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            const int cp = printable ? b : next++;
            unicode::append(byteToChars[b], static_cast<char32_t>(cp));
            charToByte[cp] = b;
        }
    }
};

const Tables& tables() {
    static const Tables t;
    return t;
}

}  // namespace

const std::array<std::string, 256>& byteToChars() { return tables().byteToChars; }

std::optional<unsigned char> charToByte(char32_t c) {
    if (c >= 512) return std::nullopt;
    const int b = tables().charToByte[c];
    if (b < 0) return std::nullopt;
    return static_cast<unsigned char>(b);
}

std::string encode(std::string_view text) {
    const auto& map = tables().byteToChars;
    std::string out;
    out.reserve(text.size() * 2);
    for (const char c : text) out += map[static_cast<unsigned char>(c)];
    return out;
}

}  // namespace superlens::core::byte_level
