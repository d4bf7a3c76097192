#pragma once
// Stopword lists for the stopword-probability measure (super-weight paper,
// Sec. 3.3 / Fig. 5: removing the super weight shifts probability mass onto
// stopwords). Format: one word per line; blank lines and lines starting with
// '#' are ignored; surrounding whitespace is trimmed.

#include <string>
#include <string_view>
#include <vector>

#include "superlens/core/result.h"

namespace superlens::core {

// Parses a word list (format above); duplicates removed, order kept.
std::vector<std::string> parseWordList(std::string_view text);
// The bundled English list (resources/stopwords/english.txt).
std::vector<std::string> englishStopwords();
// A user list from a file; error when it cannot be read or has no words.
Result<std::vector<std::string>> loadWordList(const std::string& path);

}  // namespace superlens::core
