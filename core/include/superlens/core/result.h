#pragma once
// Error values for anticipated failures (bad files, bad specs, bad input).
// Programmer errors use SL_ASSERT instead. Messages name the file, tensor or
// field and the problem, in one line, ready to show a user.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace superlens::core {

// Every message is one line of valid UTF-8, whatever built it: control
// bytes (a newline inside a name read from a hostile file, say; C0, DEL and
// the C1 controls U+0080-U+009F, which terminals obey too) and bytes that
// are not part of a well-formed UTF-8 sequence (a damaged file's bytes
// echoed by a parser, e.g. nlohmann's "last read: ...") are shown as \xNN.
// Well-formed non-ASCII text stays as it is. The one place that rule lives.
namespace detail {
// Length of the well-formed UTF-8 sequence (RFC 3629) starting at s[i], or 0.
inline std::size_t utf8SequenceAt(const std::string& s, std::size_t i) {
    const auto at = [&](std::size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
    const unsigned c = at(0);
    const auto cont = [&](std::size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) { return at(k) >= lo && at(k) <= hi; };
    if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
    if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
    if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
    if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;  // no UTF-16 surrogates
    if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
    if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
    if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;  // up to U+10FFFF
    return 0;
}
}  // namespace detail

inline std::string oneLine(std::string s) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(s.size());
    const auto escape = [&](unsigned char c) {
        out += "\\x";
        out += kHex[c >> 4];
        out += kHex[c & 15];
    };
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7F) escape(c);
            else out += s[i];
            ++i;
            continue;
        }
        const std::size_t n = detail::utf8SequenceAt(s, i);
        if (n == 0) {
            escape(c);
            ++i;
        } else if (n == 2 && c == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0) {
            escape(c);  // a C1 control
            escape(static_cast<unsigned char>(s[i + 1]));
            i += 2;
        } else {
            out.append(s, i, n);
            i += n;
        }
    }
    return out;
}

struct Error {
    Error() = default;
    explicit Error(std::string text) : message(oneLine(std::move(text))) {}
    explicit Error(const char* text) : Error(std::string(text)) {}
    std::string message;
};

// Result<T>: either a value or an Error. Error converts implicitly, so a
// function returning Result<T> can `return Error{"..."};`.
template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : m_state(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : m_state(std::in_place_index<1>, std::move(error)) {}

    bool ok() const { return m_state.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(m_state); }
    const T& value() const& { return std::get<0>(m_state); }
    T&& value() && { return std::get<0>(std::move(m_state)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const Error& error() const { return std::get<1>(m_state); }

private:
    std::variant<T, Error> m_state;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : m_error(std::move(error)), m_ok(false) {}

    bool ok() const { return m_ok; }
    explicit operator bool() const { return m_ok; }
    const Error& error() const { return m_error; }

private:
    Error m_error;
    bool m_ok = true;
};

using Status = Result<void>;

}  // namespace superlens::core

// Always-on assertion for programmer errors (never for user input).
#define SL_ASSERT(cond)                                                                   \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            std::fprintf(stderr, "%s:%d: internal error: assertion '%s' failed\n", __FILE__, \
                         __LINE__, #cond);                                                \
            std::abort();                                                                 \
        }                                                                                 \
    } while (0)

// Propagate an error from an expression returning Result/Status.
#define SL_TRY(expr)                                   \
    do {                                               \
        auto&& sl_try_result_ = (expr);                \
        if (!sl_try_result_.ok()) return sl_try_result_.error(); \
    } while (0)
