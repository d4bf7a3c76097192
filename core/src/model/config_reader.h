#pragma once
// Typed, bounded reads of config.json fields (internal to core/src/model).

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "superlens/core/model/model_config.h"
#include "superlens/core/result.h"

namespace superlens::core {

struct ConfigReader {
    const nlohmann::json& j;
    std::string where;  // "<file>: " (plus "text_config: " inside a wrapper)

    bool has(const char* key) const {
        const auto it = j.find(key);
        return it != j.end() && !it->is_null();
    }
    // An integer in [minValue, maxValue]; values beyond int64 are refused too
    // (nlohmann keeps them as unsigned, and a cast would wrap them).
    Result<std::int64_t> requiredInt(const char* key, std::int64_t maxValue, std::int64_t minValue = 1) const;
    Result<std::int64_t> optionalInt(const char* key, std::int64_t fallback, std::int64_t maxValue, std::int64_t minValue = 1) const {
        if (!has(key)) return fallback;
        return requiredInt(key, maxValue, minValue);
    }
    Result<double> optionalNumber(const char* key, double fallback) const;
    Result<bool> optionalBool(const char* key, bool fallback) const;
    std::string optionalString(const char* key) const {
        const auto it = j.find(key);
        return (it != j.end() && it->is_string()) ? it->get<std::string>() : std::string();
    }
    std::optional<std::int64_t> tokenId(const char* key) const {
        const auto it = j.find(key);
        if (it == j.end()) return std::nullopt;
        if (it->is_number_integer()) return it->get<std::int64_t>();
        if (it->is_array() && !it->empty() && (*it)[0].is_number_integer()) return (*it)[0].get<std::int64_t>();
        return std::nullopt;
    }
    // A positive number or null/absent (soft-capping values).
    Result<std::optional<double>> optionalPositive(const char* key) const;
};

// rope_scaling (null, default, linear, llama3) of a config object.
Result<RopeScaling> parseRopeScaling(const nlohmann::json& j, const std::string& where);

}  // namespace superlens::core
