#pragma once
// FNV-1a, 64 bit: for fingerprints (model identity, cache names), not a
// security hash.

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace superlens::core {

struct Fnv64 {
    std::uint64_t h = 1469598103934665603ull;
    void add(std::string_view s) {
        for (unsigned char c : s) {
            h ^= c;
            h *= 1099511628211ull;
        }
    }
    void add(std::uint64_t v) { add(std::string_view(reinterpret_cast<const char*>(&v), sizeof v)); }
    // 16 lowercase hex digits.
    std::string hex() const {
        char out[17];
        std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
        return out;
    }
};

}  // namespace superlens::core
