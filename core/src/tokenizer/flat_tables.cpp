#include "tokenizer/flat_tables.h"

#include <algorithm>
#include <bit>

namespace superlens::core {

namespace {

// Power of two with room for `count` entries at load factor <= 0.75.
std::size_t capacityFor(std::size_t count) { return std::bit_ceil(std::max<std::size_t>(16, count * 4 / 3 + 1)); }

}  // namespace

void StringIdTable::reserve(std::size_t count) {
    m_keys.reserve(count);
    m_values.reserve(count);
    if (capacityFor(count) > m_slots.size()) rehash(capacityFor(count));
}

void StringIdTable::rehash(std::size_t capacity) {
    m_slots.assign(capacity, Slot{});
    m_mask = capacity - 1;
    for (std::size_t entry = 0; entry < m_keys.size(); ++entry) {
        const std::size_t hash = std::hash<std::string_view>{}(m_keys[entry]);
        std::size_t i = hash & m_mask;
        while (m_slots[i].entry >= 0) i = (i + 1) & m_mask;
        m_slots[i] = {static_cast<std::uint32_t>(hash >> 32), static_cast<std::int32_t>(entry)};
    }
}

void StringIdTable::insertOrAssign(std::string key, std::int32_t value) {
    if ((m_keys.size() + 1) * 4 > m_slots.size() * 3) rehash(std::max(capacityFor(m_keys.size() + 1), m_slots.size() * 2));
    const std::size_t hash = std::hash<std::string_view>{}(key);
    const auto tag = static_cast<std::uint32_t>(hash >> 32);
    std::size_t i = hash & m_mask;
    for (; m_slots[i].entry >= 0; i = (i + 1) & m_mask) {
        const auto entry = static_cast<std::size_t>(m_slots[i].entry);
        if (m_slots[i].tag == tag && m_keys[entry] == key) {
            m_values[entry] = value;
            return;
        }
    }
    m_slots[i] = {tag, static_cast<std::int32_t>(m_keys.size())};
    m_keys.push_back(std::move(key));
    m_values.push_back(value);
}

void PairTable::reserve(std::size_t count) {
    if (capacityFor(count) > m_slots.size()) rehash(capacityFor(count));
}

void PairTable::rehash(std::size_t capacity) {
    std::vector<Slot> old = std::move(m_slots);
    m_slots.assign(capacity, Slot{});
    m_mask = capacity - 1;
    m_shift = 64 - static_cast<unsigned>(std::countr_zero(capacity));
    for (const Slot& slot : old) {
        if (slot.key == kEmpty) continue;
        std::size_t i = indexOf(slot.key);
        while (m_slots[i].key != kEmpty) i = (i + 1) & m_mask;
        m_slots[i] = slot;
    }
}

void PairTable::insertOrAssign(std::int32_t left, std::int32_t right, Value value) {
    if ((m_count + 1) * 4 > m_slots.size() * 3) rehash(std::max(capacityFor(m_count + 1), m_slots.size() * 2));
    const std::uint64_t key = pack(left, right);
    std::size_t i = indexOf(key);
    for (; m_slots[i].key != kEmpty; i = (i + 1) & m_mask) {
        if (m_slots[i].key == key) {
            m_slots[i].value = value;
            return;
        }
    }
    m_slots[i] = {key, value};
    ++m_count;
}

}  // namespace superlens::core
