#pragma once
// Added tokens of tokenizer.json ("added_tokens"): special tokens such as
// <s> or <|begin_of_text|> and extra words, found in the raw text before any
// normalization (or in the normalized text for normalized=true tokens), with
// HF's leftmost-longest matching and single_word/lstrip/rstrip rules.
//
// Ids follow HF's AddedVocabulary::add_tokens, not the "id" fields: a token
// already in the model vocabulary keeps that id, a new one gets the next free
// id after the model's vocabulary.
//
// Thread-safety: immutable after finalize().

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "superlens/core/tokenizer/tokenizer.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/normalizers.h"
#include "tokenizer/text_split.h"

namespace superlens::core {

struct AddedToken {
    std::string content;
    bool singleWord = false;
    bool lstrip = false;
    bool rstrip = false;
    bool normalized = true;
    bool special = false;
};

// A piece of input: either text still to be tokenized or a matched added token.
struct InputPiece {
    TextSplit split;
    std::optional<TokenId> addedId;
};

class AddedVocabulary {
public:
    // Adds in file order, assigning ids as HF does; returns the id given.
    TokenId add(const AddedToken& token, const BpeModel& model);
    // Builds the matchers; normalized tokens are matched in their normalized form.
    void finalize(const Normalizer* normalizer);

    // HF's extract_and_normalize: split `text` on raw-text added tokens,
    // normalize the remaining pieces, then split those on normalized tokens.
    std::vector<InputPiece> extractAndNormalize(std::string_view text, const Normalizer* normalizer) const;

    std::optional<TokenId> tokenToId(std::string_view content) const;
    const AddedToken* tokenForId(TokenId id) const;
    bool isSpecialContent(std::string_view content) const;
    // One past the largest added id (0 when empty).
    std::size_t idLimit() const;

private:
    // Byte trie for leftmost-longest matching (HF uses Aho-Corasick with
    // MatchKind::LeftmostLongest; a trie walk from each start gives the same).
    struct Trie {
        struct Node {
            std::vector<std::pair<unsigned char, int>> children;
            int tokenIndex = -1;
        };
        std::vector<Node> nodes;
        bool firstByte[256] = {};
        void clear();
        void insert(std::string_view key, int tokenIndex);
        // Longest match starting at `pos`: (length, tokenIndex) or (0, -1).
        std::pair<std::size_t, int> longestAt(std::string_view text, std::size_t pos) const;
    };
    void splitWith(const Trie& trie, const std::vector<TokenId>& trieIds, const InputPiece& piece,
                   std::vector<InputPiece>& out) const;

    // The maps and lists of HF's AddedVocabulary, with the same names' meaning.
    std::unordered_map<std::string, TokenId, StringHash, std::equal_to<>> m_contentToId;  // added_tokens_map
    std::unordered_map<TokenId, AddedToken> m_idToToken;                                  // added_tokens_map_r
    std::vector<AddedToken> m_specialTokens;                                               // in order added
    std::vector<AddedToken> m_classicTokens;
    std::unordered_set<std::string, StringHash, std::equal_to<>> m_specialContents;
    Trie m_rawTrie;
    std::vector<TokenId> m_rawIds;
    Trie m_normalizedTrie;
    std::vector<TokenId> m_normalizedIds;
};

}  // namespace superlens::core
