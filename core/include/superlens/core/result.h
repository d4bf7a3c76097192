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

// Control bytes in a message (a newline inside a name read from a hostile
// file, say) are shown as \xNN, so every message stays one line: the one
// place that rule lives, whatever built the message.
inline std::string oneLine(std::string s) {
    std::string out;
    out.reserve(s.size());
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7F) {
            static constexpr char kHex[] = "0123456789abcdef";
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 15];
        } else {
            out += ch;
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
