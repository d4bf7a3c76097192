#include "tokenizer/sentencepiece_check.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace superlens::core {

namespace {

// Protocol buffer wire format, as far as the check needs it.
struct WireField {
    std::uint64_t number = 0;
    int type = 0;             // 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32
    std::string_view bytes;   // the payload of a length-delimited field
};

class WireReader {
public:
    explicit WireReader(std::string_view data) : m_data(data) {}
    bool atEnd() const { return m_pos == m_data.size(); }

    // False (with `problem` set) on a malformed field.
    bool next(WireField& f, std::string& problem) {
        std::uint64_t key = 0;
        if (!varint(key)) return fail(problem, "a field key runs past the end");
        f.number = key >> 3;
        f.type = static_cast<int>(key & 7);
        f.bytes = {};
        switch (f.type) {
            case 0: {
                std::uint64_t ignored = 0;
                if (!varint(ignored)) return fail(problem, "a number runs past the end");
                return true;
            }
            case 1:
                return skip(8) || fail(problem, "a 64-bit field runs past the end");
            case 5:
                return skip(4) || fail(problem, "a 32-bit field runs past the end");
            case 2: {
                std::uint64_t n = 0;
                if (!varint(n)) return fail(problem, "a length runs past the end");
                if (n > m_data.size() - m_pos) return fail(problem, "field " + std::to_string(f.number) + " is longer than the file");
                f.bytes = m_data.substr(m_pos, static_cast<std::size_t>(n));
                m_pos += static_cast<std::size_t>(n);
                return true;
            }
            default:
                return fail(problem, "field " + std::to_string(f.number) + " has wire type " + std::to_string(f.type) +
                                         ", which SentencePiece models do not use");
        }
    }

private:
    static bool fail(std::string& problem, std::string text) {
        problem = std::move(text);
        return false;
    }
    bool varint(std::uint64_t& out) {
        out = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (m_pos == m_data.size()) return false;
            const auto b = static_cast<unsigned char>(m_data[m_pos++]);
            out |= static_cast<std::uint64_t>(b & 0x7F) << shift;
            if (b < 0x80) return true;
        }
        return false;  // more than ten bytes
    }
    bool skip(std::size_t n) {
        if (n > m_data.size() - m_pos) return false;
        m_pos += n;
        return true;
    }

    std::string_view m_data;
    std::size_t m_pos = 0;
};

// darts-clone's unit layout (what SentencePiece's Darts::DoubleArray reads).
bool hasLeaf(std::uint32_t u) { return ((u >> 8) & 1) == 1; }
std::uint32_t value(std::uint32_t u) { return u & ((1U << 31) - 1); }
std::uint32_t label(std::uint32_t u) { return u & ((1U << 31) | 0xFF); }
std::uint64_t offset(std::uint32_t u) { return static_cast<std::uint64_t>(u >> 10) << ((u & (1U << 9)) >> 6); }

// "" when the charsmap is safe, else the problem.
std::string checkCharsmap(std::string_view blob) {
    if (blob.empty()) return {};  // no rules: SentencePiece copies text as is
    if (blob.size() > kMaxSentencePieceCharsmapBytes) {
        return std::to_string(blob.size()) + " bytes, more than the " + std::to_string(kMaxSentencePieceCharsmapBytes) + " accepted";
    }
    if (blob.size() <= 4) return "shorter than its 4-byte header";
    std::uint32_t trieBytes = 0;
    std::memcpy(&trieBytes, blob.data(), 4);  // little-endian, as SentencePiece writes it on x86
    if (trieBytes > blob.size() - 4) {
        return "its trie of " + std::to_string(trieBytes) + " bytes is longer than the " + std::to_string(blob.size() - 4) + " bytes that follow";
    }
    if (trieBytes == 0 || trieBytes % 4 != 0) return "its trie size " + std::to_string(trieBytes) + " is not a positive multiple of 4";
    const std::size_t count = trieBytes / 4;
    std::vector<std::uint32_t> units(count);
    std::memcpy(units.data(), blob.data() + 4, trieBytes);
    const std::string_view strings = blob.substr(4 + trieBytes);

    // Every state a text can reach: SentencePiece reads units[pos ^ byte] for
    // any byte, then units[child ^ offset] (the leaf's value, and the next
    // state). A state is safe when its whole 256-unit block is inside.
    auto blockInside = [&](std::uint64_t pos) { return (pos | 0xFF) < count; };
    std::vector<bool> seen(count, false);
    std::vector<std::uint64_t> todo;
    const std::uint64_t root = offset(units[0]);
    if (!blockInside(root)) return "its trie's root points outside the trie";
    seen[root] = true;
    todo.push_back(root);
    while (!todo.empty()) {
        const std::uint64_t pos = todo.back();
        todo.pop_back();
        for (std::uint32_t c = 0; c < 256; ++c) {
            const std::uint64_t child = pos ^ c;
            const std::uint32_t u = units[child];
            if (label(u) != c) continue;
            const std::uint64_t next = child ^ offset(u);
            if (!blockInside(next)) return "its trie points outside the trie (unit " + std::to_string(child) + ")";
            if (hasLeaf(u)) {
                const std::uint32_t v = value(units[next]);
                if (v >= strings.size()) {
                    return "a rule's replacement starts at byte " + std::to_string(v) + " of a " + std::to_string(strings.size()) + "-byte string table";
                }
                if (strings.find('\0', v) == std::string_view::npos) return "a rule's replacement is not NUL-terminated";
            }
            if (!seen[next]) {
                seen[next] = true;
                todo.push_back(next);
            }
        }
    }
    return {};
}

}  // namespace

Status checkSentencePieceModel(std::string_view serialized, const std::filesystem::path& file) {
    auto refuse = [&](const std::string& problem) { return Error{file.string() + ": not a valid SentencePiece model: " + problem}; };
    WireReader model(serialized);
    std::string problem;
    WireField f;
    std::size_t pieceIndex = 0;
    while (!model.atEnd()) {
        if (!model.next(f, problem)) return refuse(problem);
        // ModelProto: 1 = pieces (SentencePiece: 1 = piece). libsentencepiece
        // builds a darts-clone trie of them, which throws on an empty piece or
        // a NUL byte inside one: an uncaught exception that aborted the process.
        if (f.type == 2 && f.number == 1) {
            const std::string where = "pieces[" + std::to_string(pieceIndex++) + "]";
            WireReader inner(f.bytes);
            WireField g;
            bool named = false;
            while (!inner.atEnd()) {
                if (!inner.next(g, problem)) return refuse(where + ": " + problem);
                if (g.type != 2 || g.number != 1) continue;
                if (g.bytes.empty()) return refuse(where + " is empty");
                if (g.bytes.find('\0') != std::string_view::npos) return refuse(where + " contains a NUL byte");
                named = true;
            }
            if (!named) return refuse(where + " is empty");
            continue;
        }
        // ModelProto: 3 = normalizer_spec, 5 = denormalizer_spec. Each may
        // appear more than once (protobuf merges them): every copy is checked.
        if (f.type != 2 || (f.number != 3 && f.number != 5)) continue;
        const char* spec = f.number == 3 ? "normalizer_spec" : "denormalizer_spec";
        WireReader inner(f.bytes);
        WireField g;
        while (!inner.atEnd()) {
            if (!inner.next(g, problem)) return refuse(std::string(spec) + ": " + problem);
            if (g.type != 2 || g.number != 2) continue;  // NormalizerSpec: 2 = precompiled_charsmap
            const std::string bad = checkCharsmap(g.bytes);
            if (!bad.empty()) return refuse(std::string(spec) + ".precompiled_charsmap: " + bad);
        }
    }
    return {};
}

}  // namespace superlens::core
