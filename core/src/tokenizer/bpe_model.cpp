#include "tokenizer/bpe_model.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <mutex>

#include "tokenizer/unicode.h"

namespace superlens::core {

Result<std::unique_ptr<BpeModel>> BpeModel::create(StringIdTable vocab, const MergeList& merges,
                                                   BpeOptions options) {
    std::unique_ptr<BpeModel> model(new BpeModel());
    model->m_options = std::move(options);
    model->m_vocab = std::move(vocab);

    TokenId maxId = -1;
    for (std::size_t entry = 0; entry < model->m_vocab.size(); ++entry) {
        const TokenId id = model->m_vocab.valueAt(entry);
        if (id < 0) return Error{"model.vocab: negative id " + std::to_string(id) + " for token '" +
                                 model->m_vocab.keyAt(entry) + "'"};
        maxId = std::max(maxId, id);
    }
    model->m_idToEntry.assign(static_cast<std::size_t>(maxId + 1), -1);
    for (std::size_t entry = 0; entry < model->m_vocab.size(); ++entry)
        model->m_idToEntry[static_cast<std::size_t>(model->m_vocab.valueAt(entry))] = static_cast<std::int32_t>(entry);

    const std::size_t prefixLength =
        model->m_options.continuingSubwordPrefix ? model->m_options.continuingSubwordPrefix->size() : 0;
    model->m_merges.reserve(merges.size());
    std::string merged;
    for (std::size_t rank = 0; rank < merges.size(); ++rank) {
        const std::string_view left = merges.left(rank);
        const std::string_view right = merges.right(rank);
        const auto leftId = model->tokenToId(left);
        const auto rightId = model->tokenToId(right);
        merged.assign(left);
        if (right.size() >= prefixLength) merged.append(right.substr(prefixLength));
        const auto newId = model->tokenToId(merged);
        if (!leftId || !rightId || !newId) {
            const std::string missing(!leftId ? left : !rightId ? right : std::string_view(merged));
            return Error{"model.merges[" + std::to_string(rank) + "] '" + std::string(left) + " " +
                         std::string(right) + "': token '" + missing + "' is not in the vocabulary"};
        }
        // Later duplicates win, as in HF's merge map.
        model->m_merges.insertOrAssign(*leftId, *rightId, {static_cast<std::uint32_t>(rank), *newId});
    }

    if (model->m_options.unkToken) model->m_unkId = model->tokenToId(*model->m_options.unkToken);
    model->m_allBytesPresent = true;
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", b);
        const auto id = model->tokenToId(name);
        model->m_byteIds[b] = id.value_or(-1);
        if (!id) model->m_allBytesPresent = false;
    }
    return model;
}

std::optional<TokenId> BpeModel::tokenToId(std::string_view token) const {
    const std::int32_t* id = m_vocab.find(token);
    if (id == nullptr) return std::nullopt;
    return *id;
}

const std::string* BpeModel::idToToken(TokenId id) const {
    if (id < 0 || static_cast<std::size_t>(id) >= m_idToEntry.size()) return nullptr;
    const std::int32_t entry = m_idToEntry[static_cast<std::size_t>(id)];
    return entry < 0 ? nullptr : &m_vocab.keyAt(static_cast<std::size_t>(entry));
}

void BpeModel::tokenize(std::string_view word, std::vector<TokenId>& out) const {
    if (word.empty()) return;
    // Llama-3: a word that is itself a token is never split, even when the
    // merges would build it differently.
    if (m_options.ignoreMerges) {
        if (const auto id = tokenToId(word)) {
            out.push_back(*id);
            return;
        }
    }
    const bool cacheable = word.size() < kCacheMaxWordBytes;
    if (cacheable) {
        std::shared_lock lock(m_cacheMutex);
        const auto it = m_cache.find(word);
        if (it != m_cache.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    const std::size_t first = out.size();
    mergeWord(word, out);
    if (cacheable) {
        std::unique_lock lock(m_cacheMutex);
        if (m_cache.size() < kCacheCapacity)
            m_cache.emplace(std::string(word), std::vector<TokenId>(out.begin() + first, out.end()));
    }
}

void BpeModel::mergeWord(std::string_view word, std::vector<TokenId>& out) const {
    struct Symbol {
        TokenId id;
        int prev;
        int next;
        bool removed;
    };
    // A queued merge as one integer, rank in the high half and the left
    // symbol's position in the low half: the smallest key is the lowest
    // rank, leftmost first, which is the order HF's BinaryHeap pops in.
    const auto key = [](std::uint32_t rank, int pos) {
        return (static_cast<std::uint64_t>(rank) << 32) | static_cast<std::uint32_t>(pos);
    };
    const auto later = std::greater<std::uint64_t>();
    // Reused per thread: most words are short, and allocation would dominate.
    thread_local std::vector<Symbol> symbols;
    thread_local std::vector<std::uint64_t> heap;
    thread_local std::string scratch;
    symbols.clear();
    heap.clear();

    const auto add = [](TokenId id) {
        const int index = static_cast<int>(symbols.size());
        if (!symbols.empty()) symbols.back().next = index;
        symbols.push_back({id, index - 1, -1, false});
    };

    // Initial symbols: one per character, as HF's BPE::merge_word.
    TokenId pendingUnk = -1;  // an unknown run not yet emitted (fused when fuse_unk)
    std::size_t i = 0;
    while (i < word.size()) {
        const std::size_t begin = i;
        i = std::min(word.size(), i + unicode::charLength(static_cast<unsigned char>(word[i])));
        std::string_view piece = word.substr(begin, i - begin);
        const bool addPrefix = begin != 0 && m_options.continuingSubwordPrefix;
        const bool addSuffix = i == word.size() && m_options.endOfWordSuffix;
        if (addPrefix || addSuffix) {
            scratch.clear();
            if (addPrefix) scratch += *m_options.continuingSubwordPrefix;
            scratch += piece;
            if (addSuffix) scratch += *m_options.endOfWordSuffix;
            piece = scratch;
        }
        if (const auto id = tokenToId(piece)) {
            if (pendingUnk >= 0) {
                add(pendingUnk);
                pendingUnk = -1;
            }
            add(*id);
            continue;
        }
        if (m_options.byteFallback) {
            const bool allBytes = m_allBytesPresent || std::all_of(piece.begin(), piece.end(), [this](char c) {
                                      return m_byteIds[static_cast<unsigned char>(c)] >= 0;
                                  });
            if (allBytes) {
                for (const char c : piece) add(m_byteIds[static_cast<unsigned char>(c)]);
                continue;
            }
        }
        if (m_unkId) {
            if (pendingUnk >= 0 && !m_options.fuseUnk) add(pendingUnk);
            pendingUnk = *m_unkId;
        }
    }
    if (pendingUnk >= 0) add(pendingUnk);

    const auto findMerge = [this](TokenId a, TokenId b) { return m_merges.find(a, b); };
    const int count = static_cast<int>(symbols.size());
    for (int k = 0; k + 1 < count; ++k) {
        if (const PairTable::Value* m = findMerge(symbols[k].id, symbols[k + 1].id)) heap.push_back(key(m->rank, k));
    }
    std::make_heap(heap.begin(), heap.end(), later);
    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), later);
        const std::uint64_t top = heap.back();
        heap.pop_back();
        const auto rank = static_cast<std::uint32_t>(top >> 32);
        const int pos = static_cast<int>(top & 0xFFFFFFFFu);
        Symbol& current = symbols[pos];
        if (current.removed || current.next < 0) continue;
        const int nextPos = current.next;
        const Symbol right = symbols[nextPos];
        // Entries go stale when a neighbour merged first; ranks identify
        // merges uniquely, so an unchanged pair still has the queued rank.
        const PairTable::Value* valid = findMerge(current.id, right.id);
        if (valid == nullptr || valid->rank != rank) continue;

        current.id = valid->merged;
        current.next = right.next;
        symbols[nextPos].removed = true;
        if (right.next >= 0) symbols[right.next].prev = pos;

        if (current.prev >= 0) {
            if (const PairTable::Value* m = findMerge(symbols[current.prev].id, current.id)) {
                heap.push_back(key(m->rank, current.prev));
                std::push_heap(heap.begin(), heap.end(), later);
            }
        }
        if (current.next >= 0) {
            if (const PairTable::Value* m = findMerge(current.id, symbols[current.next].id)) {
                heap.push_back(key(m->rank, pos));
                std::push_heap(heap.begin(), heap.end(), later);
            }
        }
    }
    for (const Symbol& s : symbols) {
        if (!s.removed) out.push_back(s.id);
    }
    // Do not keep megabytes per thread after one huge word.
    if (symbols.capacity() > (1u << 16)) {
        symbols = {};
        heap = {};
    }
}

}  // namespace superlens::core
