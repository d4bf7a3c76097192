#include "tokenizer/pre_tokenizers.h"

#include <optional>
#include <string>

#include "tokenizer/byte_level.h"
#include "tokenizer/json_fields.h"
#include "tokenizer/unicode.h"

namespace superlens::core {

namespace {

using json_fields::Json;

// GPT-2's word regex, used by ByteLevel when use_regex is true.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// The regex crate's \w+|[^\w\s]+ (HF's Whitespace pre-tokenizer), spelled
// with explicit properties because PCRE2's \w is narrower than Rust's.
constexpr const char* kWhitespacePattern =
    R"([\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}]+|[^\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}\s]+)";

class SequencePreTokenizer final : public PreTokenizer {
public:
    explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> parts) : m_parts(std::move(parts)) {}
    void preTokenize(TextSplit&& split, const SplitSink& emit) const override { run(0, std::move(split), emit); }

private:
    // Each piece a stage emits goes straight through the later stages.
    void run(std::size_t stage, TextSplit&& split, const SplitSink& emit) const {
        if (stage == m_parts.size()) {
            emit(std::move(split));
            return;
        }
        m_parts[stage]->preTokenize(std::move(split),
                                    [&](TextSplit&& piece) { run(stage + 1, std::move(piece), emit); });
    }

    std::vector<std::unique_ptr<PreTokenizer>> m_parts;
};

class SplitPreTokenizer final : public PreTokenizer {
public:
    SplitPreTokenizer(std::shared_ptr<const UnicodeRegex> pattern, SplitBehavior behavior, bool invert)
        : m_pattern(std::move(pattern)), m_behavior(behavior), m_invert(invert) {}
    void preTokenize(TextSplit&& split, const SplitSink& emit) const override {
        std::vector<PatternMatch> matches;
        if (m_pattern)
            matches = regexMatches(*m_pattern, split.text);
        else
            matches.push_back({0, split.text.size(), false});
        if (m_invert) invertMatches(matches);
        splitByMatches(split, matches, m_behavior, emit);
    }

private:
    std::shared_ptr<const UnicodeRegex> m_pattern;
    SplitBehavior m_behavior;
    bool m_invert;
};

class ByteLevelPreTokenizer final : public PreTokenizer {
public:
    ByteLevelPreTokenizer(bool addPrefixSpace, std::shared_ptr<const UnicodeRegex> regex)
        : m_addPrefixSpace(addPrefixSpace), m_regex(std::move(regex)) {}
    void preTokenize(TextSplit&& split, const SplitSink& emit) const override {
        if (m_addPrefixSpace && (split.text.empty() || split.text[0] != ' ')) split.text = " " + split.text;
        const auto mapBytes = [&emit](TextSplit&& piece) {
            piece.text = byte_level::encode(piece.text);
            emit(std::move(piece));
        };
        if (m_regex)
            splitByMatches(split, regexMatches(*m_regex, split.text), SplitBehavior::Isolated, mapBytes);
        else if (!split.text.empty())
            mapBytes(std::move(split));
    }

private:
    bool m_addPrefixSpace;
    std::shared_ptr<const UnicodeRegex> m_regex;
};

enum class PrependScheme { Always, First, Never };

class MetaspacePreTokenizer final : public PreTokenizer {
public:
    MetaspacePreTokenizer(char32_t replacement, PrependScheme scheme, bool split)
        : m_replacement(replacement), m_scheme(scheme), m_split(split) {
        unicode::append(m_replacementText, replacement);
    }
    void preTokenize(TextSplit&& split, const SplitSink& emit) const override {
        std::string text;
        text.reserve(split.text.size() + 8);
        for (const char c : split.text) {
            if (c == ' ')
                text += m_replacementText;
            else
                text += c;
        }
        const bool startsWithReplacement = text.compare(0, m_replacementText.size(), m_replacementText) == 0;
        if (!startsWithReplacement &&
            (m_scheme == PrependScheme::Always || (m_scheme == PrependScheme::First && split.atStart)))
            text = m_replacementText + text;
        TextSplit replaced{std::move(text), split.atStart};
        if (m_split) {
            const char32_t replacement = m_replacement;
            splitByMatches(replaced, charMatches(replaced.text, [replacement](char32_t c) { return c == replacement; }),
                           SplitBehavior::MergedWithNext, emit);
        } else if (!replaced.text.empty()) {
            emit(std::move(replaced));
        }
    }

private:
    char32_t m_replacement;
    std::string m_replacementText;
    PrependScheme m_scheme;
    bool m_split;
};

class DigitsPreTokenizer final : public PreTokenizer {
public:
    explicit DigitsPreTokenizer(bool individual) : m_individual(individual) {}
    void preTokenize(TextSplit&& split, const SplitSink& emit) const override {
        splitByMatches(split, charMatches(split.text, unicode::isNumeric),
                       m_individual ? SplitBehavior::Isolated : SplitBehavior::Contiguous, emit);
    }

private:
    bool m_individual;
};

class WhitespaceSplitPreTokenizer final : public PreTokenizer {
public:
    void preTokenize(TextSplit&& split, const SplitSink& emit) const override {
        splitByMatches(split, charMatches(split.text, unicode::isWhitespace), SplitBehavior::Removed, emit);
    }
};

std::optional<SplitBehavior> parseBehavior(const std::string& name) {
    if (name == "Removed" || name == "removed") return SplitBehavior::Removed;
    if (name == "Isolated" || name == "isolated") return SplitBehavior::Isolated;
    if (name == "MergedWithPrevious" || name == "merged_with_previous") return SplitBehavior::MergedWithPrevious;
    if (name == "MergedWithNext" || name == "merged_with_next") return SplitBehavior::MergedWithNext;
    if (name == "Contiguous" || name == "contiguous") return SplitBehavior::Contiguous;
    return std::nullopt;
}

// Built-in patterns are compiled once per process and shared.
std::shared_ptr<const UnicodeRegex> gpt2Regex() {
    static const std::shared_ptr<const UnicodeRegex> s_regex = UnicodeRegex::compile(kGpt2Pattern).value();
    return s_regex;
}

std::shared_ptr<const UnicodeRegex> whitespaceRegex() {
    static const std::shared_ptr<const UnicodeRegex> s_regex = UnicodeRegex::compile(kWhitespacePattern).value();
    return s_regex;
}

}  // namespace

Result<std::unique_ptr<PreTokenizer>> makePreTokenizer(const Json& spec) {
    if (spec.is_null()) return std::unique_ptr<PreTokenizer>();
    const std::string type = json_fields::typeOf(spec);
    const std::string where = "pre_tokenizer " + (type.empty() ? std::string("(no type)") : type);
    if (type == "Sequence") {
        const auto it = spec.find("pretokenizers");
        if (it == spec.end() || !it->is_array()) return Error{where + ": missing \"pretokenizers\" list"};
        std::vector<std::unique_ptr<PreTokenizer>> parts;
        for (const auto& child : *it) {
            auto part = makePreTokenizer(child);
            if (!part) return part.error();
            if (part.value()) parts.push_back(std::move(part.value()));
        }
        return std::unique_ptr<PreTokenizer>(new SequencePreTokenizer(std::move(parts)));
    }
    if (type == "Split") {
        if (!spec.contains("pattern")) return Error{where + ": missing \"pattern\""};
        auto pattern = json_fields::compilePattern(spec["pattern"], where);
        if (!pattern) return pattern.error();
        const auto behaviorName = json_fields::getString(spec, "behavior");
        const auto behavior = behaviorName ? parseBehavior(*behaviorName) : std::nullopt;
        if (!behavior) return Error{where + ": unknown behavior '" + behaviorName.value_or("") + "'"};
        return std::unique_ptr<PreTokenizer>(new SplitPreTokenizer(std::move(pattern.value()), *behavior,
                                                                   json_fields::getBool(spec, "invert", false)));
    }
    if (type == "ByteLevel") {
        std::shared_ptr<const UnicodeRegex> regex;
        if (json_fields::getBool(spec, "use_regex", true)) regex = gpt2Regex();
        return std::unique_ptr<PreTokenizer>(
            new ByteLevelPreTokenizer(json_fields::getBool(spec, "add_prefix_space", true), std::move(regex)));
    }
    if (type == "Metaspace") {
        const std::string replacement = json_fields::getString(spec, "replacement").value_or("\xE2\x96\x81");
        std::size_t i = 0;
        if (replacement.empty() || !unicode::isValid(replacement)) return Error{where + ": bad \"replacement\""};
        const char32_t replacementChar = unicode::decode(replacement, i);
        if (i != replacement.size()) return Error{where + ": \"replacement\" must be one character"};
        PrependScheme scheme = PrependScheme::Always;
        if (const auto name = json_fields::getString(spec, "prepend_scheme")) {
            if (*name == "always")
                scheme = PrependScheme::Always;
            else if (*name == "first")
                scheme = PrependScheme::First;
            else if (*name == "never")
                scheme = PrependScheme::Never;
            else
                return Error{where + ": unknown prepend_scheme '" + *name + "'"};
        } else if (!json_fields::getBool(spec, "add_prefix_space", true)) {
            scheme = PrependScheme::Never;  // the pre-0.14 spelling
        }
        return std::unique_ptr<PreTokenizer>(
            new MetaspacePreTokenizer(replacementChar, scheme, json_fields::getBool(spec, "split", true)));
    }
    if (type == "Digits") {
        return std::unique_ptr<PreTokenizer>(
            new DigitsPreTokenizer(json_fields::getBool(spec, "individual_digits", false)));
    }
    if (type == "WhitespaceSplit") return std::unique_ptr<PreTokenizer>(new WhitespaceSplitPreTokenizer());
    if (type == "Whitespace") {
        // HF: split(Invert(\w+|[^\w\s]+), Removed) keeps exactly the matches.
        return std::unique_ptr<PreTokenizer>(
            new SplitPreTokenizer(whitespaceRegex(), SplitBehavior::Removed, true));
    }
    return Error{"unsupported " + where +
                 " (supported: Sequence, Split, ByteLevel, Metaspace, Digits, Whitespace, WhitespaceSplit)"};
}

}  // namespace superlens::core
