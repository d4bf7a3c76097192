#include "tokenizer/tokenizer_json_reader.h"

#include "superlens/core/model/model_config.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace superlens::core {

namespace {

using Json = nlohmann::json;

// nlohmann's messages start with "[json.exception.parse_error.101] ".
std::string stripExceptionTag(const std::string& message) {
    if (!message.empty() && message[0] == '[') {
        const auto close = message.find("] ");
        if (close != std::string::npos) return message.substr(close + 2);
    }
    return message;
}

class SaxHandler {
public:
    // `bytes`: the file's size, which bounds the vocabulary's entry count.
    SaxHandler(TokenizerJsonContents& out, std::size_t bytes) : m_out(out), m_bytes(bytes) {}

    const std::string& error() const { return m_error; }

    bool null() { return value(Json(nullptr)); }
    bool boolean(bool v) { return value(Json(v)); }
    bool number_integer(Json::number_integer_t v) {
        if (inVocab()) return vocabId(v);
        return value(Json(v));
    }
    bool number_unsigned(Json::number_unsigned_t v) {
        if (inVocab()) {
            if (v > 0x7FFFFFFF) return fail("model.vocab: id of '" + m_key + "' is too large");
            return vocabId(static_cast<Json::number_integer_t>(v));
        }
        return value(Json(v));
    }
    bool number_float(Json::number_float_t v, const std::string&) { return value(Json(v)); }
    bool string(std::string& v) {
        if (!m_frames.empty()) {
            const Kind kind = m_frames.back().kind;
            if (kind == Kind::Merges) return legacyMerge(v);
            if (kind == Kind::MergePair) {
                m_pairParts.push_back(v);
                return true;
            }
        }
        return value(Json(std::move(v)));
    }
    bool binary(Json::binary_t&) { return fail("unexpected binary value"); }

    bool key(std::string& k) {
        m_key.assign(k);  // copy: moving would take the lexer's buffer away each time
        return true;
    }

    bool start_object(std::size_t) {
        if (isModelField("vocab")) {
            m_out.hasVocab = true;
            // Room for typical vocabularies at once, but never more entries
            // than the file can hold ("a":1, is 6 bytes): a small file (a
            // test's, a fuzzer's input) does not allocate and clear 1.5 MB.
            m_out.vocab.reserve(std::min<std::size_t>(std::size_t{1} << 15, m_bytes / 6 + 1));
            m_frames.push_back({nullptr, Kind::Vocab, false});
            return true;
        }
        if (streamed()) return fail(where() + ": unexpected object");
        const bool isModel = m_frames.size() == 1 && m_key == "model";
        Json* node = insert(Json::object());
        if (node == nullptr) return false;
        m_frames.push_back({node, Kind::Object, isModel});
        return true;
    }
    bool end_object() {
        m_frames.pop_back();
        return true;
    }
    bool start_array(std::size_t) {
        if (isModelField("merges")) {
            m_out.hasMerges = true;
            m_frames.push_back({nullptr, Kind::Merges, false});
            return true;
        }
        if (!m_frames.empty() && m_frames.back().kind == Kind::Merges) {
            m_pairParts.clear();
            m_frames.push_back({nullptr, Kind::MergePair, false});
            return true;
        }
        if (streamed()) return fail(where() + ": unexpected array");
        Json* node = insert(Json::array());
        if (node == nullptr) return false;
        m_frames.push_back({node, Kind::Array, false});
        return true;
    }
    bool end_array() {
        if (m_frames.back().kind == Kind::MergePair) {
            if (m_pairParts.size() != 2)
                return fail("model.merges[" + std::to_string(m_out.merges.size()) + "] must be a pair of strings");
            m_out.merges.add(m_pairParts[0], m_pairParts[1]);
        }
        m_frames.pop_back();
        return true;
    }

    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) {
        m_error = "invalid JSON: " + stripExceptionTag(ex.what());
        return false;
    }

private:
    enum class Kind { Object, Array, Vocab, Merges, MergePair };
    struct Frame {
        Json* node;
        Kind kind;
        bool isModel;
    };

    bool fail(std::string message) {
        if (m_error.empty()) m_error = std::move(message);
        return false;
    }
    bool inVocab() const { return !m_frames.empty() && m_frames.back().kind == Kind::Vocab; }
    bool streamed() const {
        return !m_frames.empty() && (m_frames.back().kind == Kind::Vocab || m_frames.back().kind == Kind::Merges ||
                                     m_frames.back().kind == Kind::MergePair);
    }
    std::string where() const {
        if (m_frames.empty()) return "top level";
        switch (m_frames.back().kind) {
        case Kind::Vocab: return "model.vocab";
        case Kind::Merges: return "model.merges";
        case Kind::MergePair: return "model.merges[" + std::to_string(m_out.merges.size()) + "]";
        default: return "value";
        }
    }
    bool isModelField(const char* name) const {
        return !m_frames.empty() && m_frames.back().kind == Kind::Object && m_frames.back().isModel && m_key == name;
    }

    bool vocabId(Json::number_integer_t id) {
        if (id < 0 || id > 0x7FFFFFFF) return fail("model.vocab: id of '" + m_key + "' is out of range");
        // Ids index embedding rows and size the id -> token table: no larger
        // than the largest vocabulary a config may declare.
        if (id >= kMaxVocabSize) {
            return fail("model.vocab: id " + std::to_string(id) + " of '" + m_key + "' is beyond the limit of " + std::to_string(kMaxVocabSize) + " tokens");
        }
        m_out.vocab.insertOrAssign(m_key, static_cast<TokenId>(id));
        return true;
    }

    // "left right" strings, split on the one space as HF does; "#version"
    // lines (from merges.txt headers) are skipped without taking a rank.
    bool legacyMerge(const std::string& line) {
        if (line.rfind("#version", 0) == 0) return true;
        const auto space = line.find(' ');
        if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos)
            return fail("model.merges[" + std::to_string(m_out.merges.size()) + "] '" + line +
                        "' is not two tokens separated by one space");
        const std::string_view view(line);
        m_out.merges.add(view.substr(0, space), view.substr(space + 1));
        return true;
    }

    bool value(Json v) {
        if (streamed()) return fail(where() + ": unexpected " + std::string(v.type_name()));
        return insert(std::move(v)) != nullptr;
    }

    Json* insert(Json v) {
        if (m_frames.empty()) {
            m_out.root = std::move(v);
            return &m_out.root;
        }
        Frame& frame = m_frames.back();
        if (frame.kind == Kind::Array) {
            frame.node->push_back(std::move(v));
            return &frame.node->back();
        }
        Json& slot = (*frame.node)[m_key];
        slot = std::move(v);
        return &slot;
    }

    TokenizerJsonContents& m_out;
    std::size_t m_bytes = 0;
    std::vector<Frame> m_frames;
    std::string m_key;
    std::vector<std::string> m_pairParts;
    std::string m_error;
};

}  // namespace

namespace {

// The file mapped read-only and populated in one call: copying 9 MB into a
// fresh heap buffer page-faulted noticeably on virtual machines.
class MappedFile {
public:
    ~MappedFile() {
        if (m_data != nullptr) munmap(m_data, m_size);
        if (m_fd >= 0) close(m_fd);
    }
    Status open(const std::filesystem::path& file) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(file, ec)) return Error{file.string() + ": not a regular file"};
        m_fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);  // a FIFO swapped in after the check must not block
        if (m_fd < 0) return Error{file.string() + ": cannot open: " + std::strerror(errno)};
        const auto size = std::filesystem::file_size(file, ec);
        if (ec) return Error{file.string() + ": cannot read size: " + ec.message()};
        m_size = size;
        if (m_size == 0) return {};
        void* data = mmap(nullptr, m_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, m_fd, 0);
        if (data == MAP_FAILED) return Error{file.string() + ": cannot map: " + std::strerror(errno)};
        m_data = data;
        return {};
    }
    const char* begin() const { return static_cast<const char*>(m_data); }
    const char* end() const { return begin() + m_size; }

private:
    int m_fd = -1;
    void* m_data = nullptr;
    std::size_t m_size = 0;
};

Result<TokenizerJsonContents> parseTokenizerJson(const char* begin, const char* end, const std::filesystem::path& name) {
    TokenizerJsonContents contents;
    SaxHandler handler(contents, static_cast<std::size_t>(end - begin));
    bool ok = false;
    try {
        static const char kEmpty[] = "";
        ok = begin != nullptr ? Json::sax_parse(begin, end, &handler) : Json::sax_parse(kEmpty, kEmpty, &handler);
    } catch (const std::exception& ex) {
        return Error{name.string() + ": invalid JSON: " + stripExceptionTag(ex.what())};
    }
    if (!ok) {
        const std::string message = handler.error().empty() ? std::string("invalid JSON") : handler.error();
        return Error{name.string() + ": " + message};
    }
    return contents;
}

}  // namespace

Result<TokenizerJsonContents> readTokenizerJson(const std::filesystem::path& file) {
    MappedFile mapped;
    if (auto status = mapped.open(file); !status) return status.error();
    return parseTokenizerJson(mapped.begin(), mapped.end(), file);
}

Result<TokenizerJsonContents> readTokenizerJsonText(std::string_view text, const std::filesystem::path& name) {
    return parseTokenizerJson(text.data(), text.data() + text.size(), name);
}

}  // namespace superlens::core
