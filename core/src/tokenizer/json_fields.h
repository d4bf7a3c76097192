#pragma once
// Small helpers for reading tokenizer.json components: typed field access
// with defaults, and the {"String": ...} / {"Regex": ...} pattern objects.
// Errors are plain "what is wrong" strings; the loader prefixes the file.

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "superlens/core/result.h"
#include "tokenizer/unicode_regex.h"

namespace superlens::core::json_fields {

using Json = nlohmann::json;

std::string typeOf(const Json& component);
bool getBool(const Json& obj, const char* key, bool fallback);
std::optional<std::string> getString(const Json& obj, const char* key);

// Compiles a pattern object; a String pattern is matched literally. An empty
// String pattern matches nothing (nullptr), as in HF.
Result<std::shared_ptr<const UnicodeRegex>> compilePattern(const Json& pattern, const std::string& where);

}  // namespace superlens::core::json_fields
