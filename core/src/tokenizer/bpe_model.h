#pragma once
// The BPE model of tokenizer.json: a vocabulary, ranked merges, and the
// options HF's BPE supports (unk token and fusing, byte fallback to <0xXX>,
// ignore_merges, continuing-subword prefix, end-of-word suffix).
//
// Merging is rank-based with a priority queue over a linked list of symbols
// (O(n log n) per word, so a whole unsplit text is fine too), with a bounded
// cache of short words.
//
// Thread-safety: tokenize() may run concurrently (the cache is locked).

#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "superlens/core/result.h"
#include "superlens/core/tokenizer/tokenizer.h"
#include "tokenizer/flat_tables.h"

namespace superlens::core {

struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

struct BpeOptions {
    std::optional<std::string> unkToken;
    std::optional<std::string> continuingSubwordPrefix;
    std::optional<std::string> endOfWordSuffix;
    bool fuseUnk = false;
    bool byteFallback = false;
    bool ignoreMerges = false;
};

class BpeModel {
public:
    // `vocab` maps tokens to non-negative ids; `merges` are in rank order.
    // Errors name the offending merge or token.
    static Result<std::unique_ptr<BpeModel>> create(StringIdTable vocab, const MergeList& merges,
                                                     BpeOptions options);

    // Appends the ids of one pre-tokenized word.
    void tokenize(std::string_view word, std::vector<TokenId>& out) const;

    std::optional<TokenId> tokenToId(std::string_view token) const;
    // nullptr when the id is not in the vocabulary.
    const std::string* idToToken(TokenId id) const;
    // Number of vocabulary entries (HF's get_vocab_size for the model).
    std::size_t size() const { return m_vocab.size(); }
    // One past the largest id.
    std::size_t idLimit() const { return m_idToEntry.size(); }

private:
    void mergeWord(std::string_view word, std::vector<TokenId>& out) const;

    StringIdTable m_vocab;
    std::vector<std::int32_t> m_idToEntry;  // vocabulary entry of each id, -1 if none
    PairTable m_merges;
    BpeOptions m_options;
    std::optional<TokenId> m_unkId;
    TokenId m_byteIds[256] = {};
    bool m_allBytesPresent = false;

    // Words shorter than kCacheMaxWordBytes, up to kCacheCapacity entries
    // (as HF: filled until full, never evicted).
    static constexpr std::size_t kCacheMaxWordBytes = 256;
    static constexpr std::size_t kCacheCapacity = 100000;
    mutable std::shared_mutex m_cacheMutex;
    mutable std::unordered_map<std::string, std::vector<TokenId>, StringHash, std::equal_to<>> m_cache;
};

}  // namespace superlens::core
