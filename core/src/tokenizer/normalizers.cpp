#include "tokenizer/normalizers.h"

#include <vector>

#include "tokenizer/json_fields.h"
#include "tokenizer/text_split.h"
#include "tokenizer/unicode.h"

namespace superlens::core {

namespace {

using json_fields::Json;

class SequenceNormalizer final : public Normalizer {
public:
    explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts) : m_parts(std::move(parts)) {}
    void normalize(std::string& text) const override {
        for (const auto& part : m_parts) part->normalize(text);
    }

private:
    std::vector<std::unique_ptr<Normalizer>> m_parts;
};

class PrependNormalizer final : public Normalizer {
public:
    explicit PrependNormalizer(std::string prefix) : m_prefix(std::move(prefix)) {}
    // HF leaves an empty string empty, so "" never becomes a lone "▁".
    void normalize(std::string& text) const override {
        if (!text.empty()) text = m_prefix + text;
    }

private:
    std::string m_prefix;
};

class AppendNormalizer final : public Normalizer {
public:
    explicit AppendNormalizer(std::string suffix) : m_suffix(std::move(suffix)) {}
    void normalize(std::string& text) const override {
        if (!text.empty()) text += m_suffix;
    }

private:
    std::string m_suffix;
};

class ReplaceNormalizer final : public Normalizer {
public:
    ReplaceNormalizer(std::shared_ptr<const UnicodeRegex> pattern, std::string content)
        : m_pattern(std::move(pattern)), m_content(std::move(content)) {}
    void normalize(std::string& text) const override {
        if (!m_pattern || text.empty()) return;
        std::vector<UnicodeRegex::Span> spans;
        m_pattern->findAll(text, spans);
        if (spans.empty()) return;
        std::string out;
        out.reserve(text.size() + spans.size() * m_content.size());
        std::size_t prev = 0;
        for (const auto& [begin, end] : spans) {
            out.append(text, prev, begin - prev);
            out += m_content;
            prev = end;
        }
        out.append(text, prev, std::string::npos);
        text = std::move(out);
    }

private:
    std::shared_ptr<const UnicodeRegex> m_pattern;
    std::string m_content;
};

class UnicodeNormalizer final : public Normalizer {
public:
    explicit UnicodeNormalizer(unicode::NormalForm form) : m_form(form) {}
    void normalize(std::string& text) const override { unicode::normalize(m_form, text); }

private:
    unicode::NormalForm m_form;
};

class LowercaseNormalizer final : public Normalizer {
public:
    void normalize(std::string& text) const override { unicode::toLower(text); }
};

class StripNormalizer final : public Normalizer {
public:
    StripNormalizer(bool left, bool right) : m_left(left), m_right(right) {}
    void normalize(std::string& text) const override {
        std::size_t begin = 0;
        std::size_t end = text.size();
        if (m_left) {
            std::size_t i = 0;
            while (i < end) {
                const std::size_t at = i;
                if (!unicode::isWhitespace(unicode::decode(text, i))) {
                    i = at;
                    break;
                }
            }
            begin = i;
        }
        if (m_right) {
            // Walk forward remembering where the trailing whitespace run starts.
            std::size_t i = begin;
            std::size_t runStart = end;
            bool inRun = false;
            while (i < end) {
                const std::size_t at = i;
                if (unicode::isWhitespace(unicode::decode(text, i))) {
                    if (!inRun) runStart = at;
                    inRun = true;
                } else {
                    inRun = false;
                }
            }
            if (inRun) end = runStart;
        }
        text = text.substr(begin, end - begin);
    }

private:
    bool m_left, m_right;
};

}  // namespace

Result<std::unique_ptr<Normalizer>> makeNormalizer(const Json& spec) {
    if (spec.is_null()) return std::unique_ptr<Normalizer>();
    const std::string type = json_fields::typeOf(spec);
    const std::string where = "normalizer " + (type.empty() ? std::string("(no type)") : type);
    if (type == "Sequence") {
        const auto it = spec.find("normalizers");
        if (it == spec.end() || !it->is_array()) return Error{where + ": missing \"normalizers\" list"};
        std::vector<std::unique_ptr<Normalizer>> parts;
        for (const auto& child : *it) {
            auto part = makeNormalizer(child);
            if (!part) return part.error();
            if (part.value()) parts.push_back(std::move(part.value()));
        }
        return std::unique_ptr<Normalizer>(new SequenceNormalizer(std::move(parts)));
    }
    if (type == "Prepend" || type == "Append") {
        const auto value = json_fields::getString(spec, type == "Prepend" ? "prepend" : "append");
        if (!value) return Error{where + ": missing string"};
        if (type == "Prepend") return std::unique_ptr<Normalizer>(new PrependNormalizer(*value));
        return std::unique_ptr<Normalizer>(new AppendNormalizer(*value));
    }
    if (type == "Replace") {
        const auto content = json_fields::getString(spec, "content");
        if (!content || !spec.contains("pattern")) return Error{where + ": needs \"pattern\" and \"content\""};
        auto pattern = json_fields::compilePattern(spec["pattern"], where);
        if (!pattern) return pattern.error();
        return std::unique_ptr<Normalizer>(new ReplaceNormalizer(std::move(pattern.value()), *content));
    }
    if (type == "NFC") return std::unique_ptr<Normalizer>(new UnicodeNormalizer(unicode::NormalForm::NFC));
    if (type == "NFD") return std::unique_ptr<Normalizer>(new UnicodeNormalizer(unicode::NormalForm::NFD));
    if (type == "NFKC") return std::unique_ptr<Normalizer>(new UnicodeNormalizer(unicode::NormalForm::NFKC));
    if (type == "NFKD") return std::unique_ptr<Normalizer>(new UnicodeNormalizer(unicode::NormalForm::NFKD));
    if (type == "Lowercase") return std::unique_ptr<Normalizer>(new LowercaseNormalizer());
    if (type == "Strip") {
        return std::unique_ptr<Normalizer>(new StripNormalizer(json_fields::getBool(spec, "strip_left", true),
                                                               json_fields::getBool(spec, "strip_right", true)));
    }
    return Error{"unsupported " + where +
                 " (supported: Sequence, Prepend, Append, Replace, NFC, NFD, NFKC, NFKD, Lowercase, Strip)"};
}

}  // namespace superlens::core
