#include "tokenizer/added_vocabulary.h"

#include <algorithm>

#include "tokenizer/unicode.h"

namespace superlens::core {

namespace {

bool sameToken(const AddedToken& a, const AddedToken& b) {
    return a.content == b.content && a.singleWord == b.singleWord && a.lstrip == b.lstrip && a.rstrip == b.rstrip &&
           a.normalized == b.normalized && a.special == b.special;
}

// The last character of `text` (valid UTF-8, non-empty).
char32_t lastChar(std::string_view text) {
    std::size_t begin = text.size() - 1;
    while (begin > 0 && (static_cast<unsigned char>(text[begin]) & 0xC0) == 0x80) --begin;
    return unicode::decode(text, begin);
}

char32_t firstChar(std::string_view text) {
    std::size_t i = 0;
    return unicode::decode(text, i);
}

// Start of the whitespace run at the end of text (HF: \s*$).
std::size_t trailingSpaceStart(std::string_view text) {
    std::size_t end = text.size();
    while (end > 0) {
        std::size_t begin = end - 1;
        while (begin > 0 && (static_cast<unsigned char>(text[begin]) & 0xC0) == 0x80) --begin;
        std::size_t i = begin;
        if (!unicode::isWhitespace(unicode::decode(text, i))) break;
        end = begin;
    }
    return end;
}

// Length of the whitespace run at the start of text (HF: ^\s*).
std::size_t leadingSpaceLength(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const std::size_t at = i;
        if (!unicode::isWhitespace(unicode::decode(text, i))) return at;
    }
    return text.size();
}

}  // namespace

void AddedVocabulary::Trie::clear() {
    nodes.assign(1, Node{});
    std::fill(std::begin(firstByte), std::end(firstByte), false);
}

void AddedVocabulary::Trie::insert(std::string_view key, int tokenIndex) {
    if (key.empty()) return;
    if (nodes.empty()) nodes.emplace_back();
    firstByte[static_cast<unsigned char>(key[0])] = true;
    int node = 0;
    for (const char ch : key) {
        const auto c = static_cast<unsigned char>(ch);
        auto& children = nodes[node].children;
        const auto it = std::find_if(children.begin(), children.end(), [c](const auto& p) { return p.first == c; });
        if (it != children.end()) {
            node = it->second;
        } else {
            const int next = static_cast<int>(nodes.size());
            nodes[node].children.emplace_back(c, next);
            nodes.emplace_back();
            node = next;
        }
    }
    // With duplicate patterns the first one wins, as in Aho-Corasick.
    if (nodes[node].tokenIndex < 0) nodes[node].tokenIndex = tokenIndex;
}

std::pair<std::size_t, int> AddedVocabulary::Trie::longestAt(std::string_view text, std::size_t pos) const {
    std::pair<std::size_t, int> best{0, -1};
    if (nodes.empty()) return best;
    int node = 0;
    for (std::size_t i = pos; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        const auto& children = nodes[node].children;
        const auto it = std::find_if(children.begin(), children.end(), [c](const auto& p) { return p.first == c; });
        if (it == children.end()) break;
        node = it->second;
        if (nodes[node].tokenIndex >= 0) best = {i + 1 - pos, nodes[node].tokenIndex};
    }
    return best;
}

TokenId AddedVocabulary::add(const AddedToken& token, const BpeModel& model) {
    if (token.special && !token.content.empty() && !m_specialContents.contains(token.content)) {
        m_specialTokens.push_back(token);
        m_specialContents.insert(token.content);
    }
    if (token.content.empty()) return -1;
    for (const auto& [id, existing] : m_idToToken) {
        if (sameToken(existing, token)) return id;
    }
    TokenId newId;
    if (const auto known = tokenToId(token.content)) {
        newId = *known;
    } else if (const auto known = model.tokenToId(token.content)) {
        newId = *known;
    } else {
        const auto vocabSize = static_cast<TokenId>(model.size());
        if (m_contentToId.empty()) {
            newId = vocabSize;
        } else {
            TokenId maxId = 0;
            for (const auto& [content, id] : m_contentToId) maxId = std::max(maxId, id);
            newId = (maxId >= vocabSize || vocabSize == 0) ? maxId + 1 : vocabSize;
        }
    }
    m_contentToId.insert_or_assign(token.content, newId);
    m_idToToken.insert_or_assign(newId, token);
    if (!m_specialContents.contains(token.content)) m_classicTokens.push_back(token);
    return newId;
}

void AddedVocabulary::finalize(const Normalizer* normalizer) {
    m_rawTrie.clear();
    m_normalizedTrie.clear();
    m_rawIds.clear();
    m_normalizedIds.clear();
    const auto addToTrie = [&](const AddedToken& token) {
        const auto id = tokenToId(token.content);
        if (!id) return;
        if (token.normalized) {
            std::string content = token.content;
            if (normalizer != nullptr) normalizer->normalize(content);
            m_normalizedTrie.insert(content, static_cast<int>(m_normalizedIds.size()));
            m_normalizedIds.push_back(*id);
        } else {
            m_rawTrie.insert(token.content, static_cast<int>(m_rawIds.size()));
            m_rawIds.push_back(*id);
        }
    };
    for (const auto& token : m_specialTokens) addToTrie(token);
    for (const auto& token : m_classicTokens) addToTrie(token);
}

std::optional<TokenId> AddedVocabulary::tokenToId(std::string_view content) const {
    const auto it = m_contentToId.find(content);
    if (it == m_contentToId.end()) return std::nullopt;
    return it->second;
}

const AddedToken* AddedVocabulary::tokenForId(TokenId id) const {
    const auto it = m_idToToken.find(id);
    return it == m_idToToken.end() ? nullptr : &it->second;
}

bool AddedVocabulary::isSpecialContent(std::string_view content) const { return m_specialContents.contains(content); }

std::size_t AddedVocabulary::idLimit() const {
    std::size_t limit = 0;
    for (const auto& [id, token] : m_idToToken) limit = std::max(limit, static_cast<std::size_t>(id) + 1);
    return limit;
}

void AddedVocabulary::splitWith(const Trie& trie, const std::vector<TokenId>& trieIds, const InputPiece& piece,
                                std::vector<InputPiece>& out) const {
    const std::string& text = piece.split.text;
    // HF's find_matches: matches of the trie, adjusted by the token's
    // single_word/lstrip/rstrip flags, with the gaps between them as text.
    std::size_t startOffset = 0;
    const auto emitText = [&](std::size_t begin, std::size_t end) {
        if (end > begin) out.push_back({{text.substr(begin, end - begin), piece.split.atStart && begin == 0}, {}});
    };
    std::size_t pos = 0;
    while (pos < text.size()) {
        if (!trie.firstByte[static_cast<unsigned char>(text[pos])]) {
            ++pos;
            continue;
        }
        const auto [length, index] = trie.longestAt(text, pos);
        if (index < 0) {
            ++pos;
            continue;
        }
        std::size_t start = pos;
        std::size_t stop = pos + length;
        pos = stop;  // the matcher resumes after the match, even one rejected below
        const TokenId id = trieIds[static_cast<std::size_t>(index)];
        const AddedToken* token = tokenForId(id);
        if (token == nullptr) continue;
        if (token->singleWord) {
            const bool startSpace = start == 0 || !unicode::isWordChar(lastChar(std::string_view(text).substr(0, start)));
            const bool stopSpace =
                stop == text.size() || !unicode::isWordChar(firstChar(std::string_view(text).substr(stop)));
            if (!startSpace || !stopSpace) continue;
        }
        if (token->lstrip) start = std::max(trailingSpaceStart(std::string_view(text).substr(0, start)), startOffset);
        if (token->rstrip) stop += leadingSpaceLength(std::string_view(text).substr(stop));
        if (startOffset < start) emitText(startOffset, start);
        out.push_back({{text.substr(start, stop - start), piece.split.atStart && start == 0}, id});
        startOffset = stop;
    }
    if (startOffset < text.size()) emitText(startOffset, text.size());
}

std::vector<InputPiece> AddedVocabulary::extractAndNormalize(std::string_view text,
                                                             const Normalizer* normalizer) const {
    std::vector<InputPiece> raw;
    const InputPiece whole{{std::string(text), true}, {}};
    if (m_rawIds.empty())
        raw.push_back(whole);
    else
        splitWith(m_rawTrie, m_rawIds, whole, raw);

    std::vector<InputPiece> result;
    result.reserve(raw.size());
    for (auto& piece : raw) {
        if (piece.addedId) {
            result.push_back(std::move(piece));
            continue;
        }
        if (normalizer != nullptr) normalizer->normalize(piece.split.text);
        if (piece.split.text.empty()) continue;
        if (m_normalizedIds.empty())
            result.push_back(std::move(piece));
        else
            splitWith(m_normalizedTrie, m_normalizedIds, piece, result);
    }
    return result;
}

}  // namespace superlens::core
