#include "tokenizer/json_fields.h"

namespace superlens::core::json_fields {

std::string typeOf(const Json& component) {
    if (!component.is_object()) return {};
    const auto it = component.find("type");
    if (it == component.end() || !it->is_string()) return {};
    return it->get<std::string>();
}

bool getBool(const Json& obj, const char* key, bool fallback) {
    if (!obj.is_object()) return fallback;
    const auto it = obj.find(key);
    if (it == obj.end() || !it->is_boolean()) return fallback;
    return it->get<bool>();
}

std::optional<std::string> getString(const Json& obj, const char* key) {
    if (!obj.is_object()) return std::nullopt;
    const auto it = obj.find(key);
    if (it == obj.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
}

Result<std::shared_ptr<const UnicodeRegex>> compilePattern(const Json& pattern, const std::string& where) {
    if (pattern.is_object()) {
        if (const auto s = getString(pattern, "String")) {
            if (s->empty()) return std::shared_ptr<const UnicodeRegex>();
            return UnicodeRegex::compile(UnicodeRegex::escape(*s));
        }
        if (const auto r = getString(pattern, "Regex")) {
            auto compiled = UnicodeRegex::compile(*r);
            if (!compiled) return Error{where + ": " + compiled.error().message};
            return compiled;
        }
    }
    return Error{where + ": pattern must be {\"String\": ...} or {\"Regex\": ...}"};
}

}  // namespace superlens::core::json_fields
