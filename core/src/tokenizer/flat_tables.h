#pragma once
// Open-addressing hash tables for the BPE vocabulary (string -> id) and merge
// ranks ((left id, right id) -> rank, merged id). Node-based
// std::unordered_map spent most of the Llama-3 load (128k tokens, 280k
// merges) in allocation and cache misses; these are flat arrays with linear
// probing at load factor <= 0.75.
//
// Thread-safety: concurrent reads are safe; writes need exclusive access.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace superlens::core {

class StringIdTable {
public:
    void reserve(std::size_t count);
    // Later values for the same key replace earlier ones.
    void insertOrAssign(std::string key, std::int32_t value);
    // nullptr when absent.
    const std::int32_t* find(std::string_view key) const {
        if (m_slots.empty()) return nullptr;
        const std::size_t hash = std::hash<std::string_view>{}(key);
        const auto tag = static_cast<std::uint32_t>(hash >> 32);
        for (std::size_t i = hash & m_mask;; i = (i + 1) & m_mask) {
            const Slot& slot = m_slots[i];
            if (slot.entry < 0) return nullptr;
            if (slot.tag == tag && m_keys[static_cast<std::size_t>(slot.entry)] == key)
                return &m_values[static_cast<std::size_t>(slot.entry)];
        }
    }
    std::size_t size() const { return m_keys.size(); }
    const std::string& keyAt(std::size_t entry) const { return m_keys[entry]; }
    std::int32_t valueAt(std::size_t entry) const { return m_values[entry]; }

private:
    struct Slot {
        std::uint32_t tag = 0;
        std::int32_t entry = -1;
    };
    void rehash(std::size_t capacity);

    std::vector<Slot> m_slots;
    std::vector<std::string> m_keys;
    std::vector<std::int32_t> m_values;
    std::size_t m_mask = 0;
};

class PairTable {
public:
    struct Value {
        std::uint32_t rank;
        std::int32_t merged;
    };

    void reserve(std::size_t count);
    void insertOrAssign(std::int32_t left, std::int32_t right, Value value);
    const Value* find(std::int32_t left, std::int32_t right) const {
        if (m_slots.empty()) return nullptr;
        const std::uint64_t key = pack(left, right);
        for (std::size_t i = indexOf(key);; i = (i + 1) & m_mask) {
            const Slot& slot = m_slots[i];
            if (slot.key == key) return &slot.value;
            if (slot.key == kEmpty) return nullptr;
        }
    }

private:
    // Ids are non-negative 31-bit values, so no real pair packs to this.
    static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};
    struct Slot {
        std::uint64_t key = kEmpty;
        Value value{};
    };
    static std::uint64_t pack(std::int32_t left, std::int32_t right) {
        return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) |
               static_cast<std::uint32_t>(right);
    }
    std::size_t indexOf(std::uint64_t key) const {
        return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> m_shift) & m_mask;
    }
    void rehash(std::size_t capacity);

    std::vector<Slot> m_slots;
    std::size_t m_count = 0;
    std::size_t m_mask = 0;
    unsigned m_shift = 64;
};

// BPE merges in rank order, stored back to back in one buffer: Llama-3 has
// 280k of them, and a vector of string pairs touched ~40 MB at load.
class MergeList {
public:
    void add(std::string_view left, std::string_view right) {
        m_refs.push_back({static_cast<std::uint32_t>(m_text.size()), static_cast<std::uint32_t>(left.size()),
                          static_cast<std::uint32_t>(right.size())});
        m_text.append(left);
        m_text.append(right);
    }
    std::size_t size() const { return m_refs.size(); }
    std::string_view left(std::size_t i) const { return std::string_view(m_text).substr(m_refs[i].begin, m_refs[i].leftLength); }
    std::string_view right(std::size_t i) const {
        return std::string_view(m_text).substr(m_refs[i].begin + m_refs[i].leftLength, m_refs[i].rightLength);
    }

private:
    struct Ref {
        std::uint32_t begin, leftLength, rightLength;
    };
    std::string m_text;
    std::vector<Ref> m_refs;
};

}  // namespace superlens::core
