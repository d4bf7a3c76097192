#include "tokenizer/decoders.h"

#include "tokenizer/byte_level.h"
#include "tokenizer/json_fields.h"
#include "tokenizer/unicode.h"
#include "tokenizer/unicode_regex.h"

namespace superlens::core {

namespace {

using json_fields::Json;

class SequenceDecoder final : public Decoder {
public:
    explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> parts) : m_parts(std::move(parts)) {}
    void decodeChain(std::vector<std::string>& tokens) const override {
        for (const auto& part : m_parts) part->decodeChain(tokens);
    }

private:
    std::vector<std::unique_ptr<Decoder>> m_parts;
};

// Characters back to bytes; a token with any character outside the byte map
// (an added token such as a run of spaces) is taken as its own UTF-8 bytes.
// Invalid UTF-8 in the result becomes U+FFFD, as Rust's from_utf8_lossy.
class ByteLevelDecoder final : public Decoder {
public:
    void decodeChain(std::vector<std::string>& tokens) const override {
        std::string bytes;
        for (const auto& token : tokens) {
            const std::size_t mark = bytes.size();
            std::size_t i = 0;
            bool mapped = true;
            while (i < token.size()) {
                const auto b = byte_level::charToByte(unicode::decode(token, i));
                if (!b) {
                    mapped = false;
                    break;
                }
                bytes.push_back(static_cast<char>(*b));
            }
            if (!mapped) {
                bytes.resize(mark);
                bytes += token;
            }
        }
        tokens.assign(1, unicode::sanitize(bytes));
    }
};

class MetaspaceDecoder final : public Decoder {
public:
    MetaspaceDecoder(char32_t replacement, bool stripFirst) : m_replacement(replacement), m_stripFirst(stripFirst) {}
    // HF drops the replacement characters of the first token when a prefix
    // was prepended, and turns the others into spaces.
    void decodeChain(std::vector<std::string>& tokens) const override {
        for (std::size_t t = 0; t < tokens.size(); ++t) {
            const std::string& token = tokens[t];
            std::string out;
            out.reserve(token.size());
            std::size_t i = 0;
            while (i < token.size()) {
                const std::size_t begin = i;
                const char32_t c = unicode::decode(token, i);
                if (c == m_replacement) {
                    if (t == 0 && m_stripFirst) continue;
                    out += ' ';
                } else {
                    out.append(token, begin, i - begin);
                }
            }
            tokens[t] = std::move(out);
        }
    }

private:
    char32_t m_replacement;
    bool m_stripFirst;
};

class ReplaceDecoder final : public Decoder {
public:
    ReplaceDecoder(std::shared_ptr<const UnicodeRegex> pattern, std::string content)
        : m_pattern(std::move(pattern)), m_content(std::move(content)) {}
    void decodeChain(std::vector<std::string>& tokens) const override {
        if (!m_pattern) return;
        std::vector<UnicodeRegex::Span> spans;
        for (auto& token : tokens) {
            spans.clear();
            m_pattern->findAll(token, spans);
            if (spans.empty()) continue;
            std::string out;
            std::size_t prev = 0;
            for (const auto& [begin, end] : spans) {
                out.append(token, prev, begin - prev);
                out += m_content;
                prev = end;
            }
            out.append(token, prev, std::string::npos);
            token = std::move(out);
        }
    }

private:
    std::shared_ptr<const UnicodeRegex> m_pattern;
    std::string m_content;
};

// Runs of <0xXX> tokens become their bytes when those form valid UTF-8, else
// one U+FFFD per byte token (HF's ByteFallback).
class ByteFallbackDecoder final : public Decoder {
public:
    void decodeChain(std::vector<std::string>& tokens) const override {
        std::vector<std::string> out;
        out.reserve(tokens.size());
        std::string pending;
        const auto flush = [&]() {
            if (pending.empty()) return;
            if (unicode::isValid(pending)) {
                out.push_back(pending);
            } else {
                for (std::size_t k = 0; k < pending.size(); ++k) out.emplace_back("\xEF\xBF\xBD");
            }
            pending.clear();
        };
        for (auto& token : tokens) {
            if (const auto byte = parseByteToken(token)) {
                pending.push_back(static_cast<char>(*byte));
                continue;
            }
            flush();
            out.push_back(std::move(token));
        }
        flush();
        tokens = std::move(out);
    }

private:
    static std::optional<unsigned char> parseByteToken(const std::string& token) {
        if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>') return std::nullopt;
        int value = 0;
        for (int k = 3; k < 5; ++k) {
            const char c = token[k];
            int digit;
            if (c >= '0' && c <= '9')
                digit = c - '0';
            else if (c >= 'a' && c <= 'f')
                digit = c - 'a' + 10;
            else if (c >= 'A' && c <= 'F')
                digit = c - 'A' + 10;
            else
                return std::nullopt;
            value = value * 16 + digit;
        }
        return static_cast<unsigned char>(value);
    }
};

class FuseDecoder final : public Decoder {
public:
    void decodeChain(std::vector<std::string>& tokens) const override {
        std::string joined;
        for (const auto& token : tokens) joined += token;
        tokens.assign(1, std::move(joined));
    }
};

// Removes up to `start` leading and `stop` trailing copies of one character
// from every token.
class StripDecoder final : public Decoder {
public:
    StripDecoder(char32_t content, std::size_t start, std::size_t stop)
        : m_content(content), m_start(start), m_stop(stop) {}
    void decodeChain(std::vector<std::string>& tokens) const override {
        for (auto& token : tokens) {
            std::vector<std::pair<std::size_t, char32_t>> chars;  // (byte offset, char)
            std::size_t i = 0;
            while (i < token.size()) {
                const std::size_t at = i;
                chars.emplace_back(at, unicode::decode(token, i));
            }
            std::size_t startCut = 0;
            for (std::size_t k = 0; k < chars.size() && k < m_start; ++k) {
                if (chars[k].second != m_content) break;
                startCut = k + 1;
            }
            std::size_t stopCut = chars.size();
            for (std::size_t k = 0; k < chars.size() && k < m_stop; ++k) {
                const std::size_t index = chars.size() - 1 - k;
                if (chars[index].second != m_content) break;
                stopCut = index;
            }
            if (startCut >= stopCut) {
                token.clear();
                continue;
            }
            const std::size_t begin = chars[startCut].first;
            const std::size_t end = stopCut < chars.size() ? chars[stopCut].first : token.size();
            token = token.substr(begin, end - begin);
        }
    }

private:
    char32_t m_content;
    std::size_t m_start, m_stop;
};

Result<char32_t> singleChar(const Json& spec, const char* key, const char* fallback, const std::string& where) {
    const std::string text = json_fields::getString(spec, key).value_or(fallback);
    std::size_t i = 0;
    if (text.empty() || !unicode::isValid(text)) return Error{where + ": bad \"" + key + "\""};
    const char32_t c = unicode::decode(text, i);
    if (i != text.size()) return Error{where + ": \"" + key + "\" must be one character"};
    return c;
}

}  // namespace

Result<std::unique_ptr<Decoder>> makeDecoder(const Json& spec) {
    if (spec.is_null()) return std::unique_ptr<Decoder>();
    const std::string type = json_fields::typeOf(spec);
    const std::string where = "decoder " + (type.empty() ? std::string("(no type)") : type);
    if (type == "Sequence") {
        const auto it = spec.find("decoders");
        if (it == spec.end() || !it->is_array()) return Error{where + ": missing \"decoders\" list"};
        std::vector<std::unique_ptr<Decoder>> parts;
        for (const auto& child : *it) {
            auto part = makeDecoder(child);
            if (!part) return part.error();
            if (part.value()) parts.push_back(std::move(part.value()));
        }
        return std::unique_ptr<Decoder>(new SequenceDecoder(std::move(parts)));
    }
    if (type == "ByteLevel") return std::unique_ptr<Decoder>(new ByteLevelDecoder());
    if (type == "Metaspace") {
        auto replacement = singleChar(spec, "replacement", "\xE2\x96\x81", where);
        if (!replacement) return replacement.error();
        bool stripFirst = json_fields::getBool(spec, "add_prefix_space", true);
        if (const auto scheme = json_fields::getString(spec, "prepend_scheme")) stripFirst = *scheme != "never";
        return std::unique_ptr<Decoder>(new MetaspaceDecoder(replacement.value(), stripFirst));
    }
    if (type == "Replace") {
        const auto content = json_fields::getString(spec, "content");
        if (!content || !spec.contains("pattern")) return Error{where + ": needs \"pattern\" and \"content\""};
        auto pattern = json_fields::compilePattern(spec["pattern"], where);
        if (!pattern) return pattern.error();
        return std::unique_ptr<Decoder>(new ReplaceDecoder(std::move(pattern.value()), *content));
    }
    if (type == "ByteFallback") return std::unique_ptr<Decoder>(new ByteFallbackDecoder());
    if (type == "Fuse") return std::unique_ptr<Decoder>(new FuseDecoder());
    if (type == "Strip") {
        auto content = singleChar(spec, "content", " ", where);
        if (!content) return content.error();
        const auto count = [&spec](const char* key) -> std::size_t {
            const auto it = spec.find(key);
            return it != spec.end() && it->is_number_unsigned() ? it->get<std::size_t>() : 0;
        };
        return std::unique_ptr<Decoder>(new StripDecoder(content.value(), count("start"), count("stop")));
    }
    return Error{"unsupported " + where +
                 " (supported: Sequence, ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip)"};
}

}  // namespace superlens::core
