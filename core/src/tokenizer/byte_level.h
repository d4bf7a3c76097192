#pragma once
// GPT-2's reversible byte <-> printable-character mapping (bytes_to_unicode),
// used by the ByteLevel pre-tokenizer and decoder: printable Latin-1 bytes map
// to themselves, the other 68 bytes to U+0100.. in order, so every byte
// string becomes a visible string ("Ġ" = space, "Ċ" = newline).

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace superlens::core::byte_level {

// UTF-8 of the character standing for each byte.
const std::array<std::string, 256>& byteToChars();
// The byte a character stands for, if any.
std::optional<unsigned char> charToByte(char32_t c);

// Maps every byte of `text` to its character.
std::string encode(std::string_view text);

}  // namespace superlens::core::byte_level
