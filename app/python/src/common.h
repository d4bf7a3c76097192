#pragma once
// Shared plumbing of the Python binding: core errors as Python exceptions,
// zero-copy numpy views, JSON values as Python objects, and the bridge from a
// Python progress callback / cancel token / Ctrl+C to core's RunControl.
//
// Threading rule of the whole binding: every core call that computes runs
// with the GIL released (CallScope::run); Python objects are touched only
// with the GIL held.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "superlens/core/engine/activation.h"
#include "superlens/core/result.h"
#include "superlens/core/run_control.h"

namespace superlens::python {

namespace py = pybind11;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

// superlens.Error (a ValueError) and superlens.Cancelled (a superlens.Error).
void registerErrors(py::module_& m);

// Raises superlens.Error with the core message (superlens.Cancelled for
// "cancelled"); when `path` is given and does not exist, FileNotFoundError
// with the same message instead.
[[noreturn]] void raise(const core::Error& error, const std::optional<std::filesystem::path>& path = std::nullopt);
[[noreturn]] void raise(const std::string& message);

template <class T>
T unwrap(core::Result<T> r, const std::optional<std::filesystem::path>& path = std::nullopt) {
    if (!r) raise(r.error(), path);
    return std::move(r).value();
}
inline void check(const core::Status& s, const std::optional<std::filesystem::path>& path = std::nullopt) {
    if (!s) raise(s.error(), path);
}

// ---------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------

// UTF-8 text as str, invalid sequences replaced (never a UnicodeDecodeError).
py::str pyStr(const std::string& s);
py::list pyStrList(const std::vector<std::string>& v);

// A JSON value as plain Python objects (dict, list, str, int, float, bool, None).
py::object toPython(const nlohmann::json& j);

// Clears numpy's WRITEABLE flag: views of memory-mapped weights and of results
// shared by later incremental runs must not be written through.
py::array readOnly(py::array a);

// Zero-copy, read-only float32 view of an activation tensor; `owner` keeps
// the memory alive (it becomes the array's base).
template <class Owner>
py::array activationView(const core::ActivationTensor& t, std::shared_ptr<Owner> owner) {
    auto* keep = new std::shared_ptr<Owner>(std::move(owner));
    py::capsule base(keep, [](void* p) { delete static_cast<std::shared_ptr<Owner>*>(p); });
    std::vector<py::ssize_t> shape(t.shape.begin(), t.shape.end());
    return readOnly(py::array(py::dtype::of<float>(), shape, {}, t.values.data(), base));
}

// Owning float32 array from a moved tensor (no copy of the values).
py::array ownedArray(core::ActivationTensor&& t);

// A writable float32 copy.
py::array copyArray(const core::ActivationTensor& t);

template <class T>
py::array_t<T> vectorArray(const std::vector<T>& v) {
    py::array_t<T> a(static_cast<py::ssize_t>(v.size()));
    std::copy(v.begin(), v.end(), a.mutable_data());
    return a;
}

// ---------------------------------------------------------------------------
// Long calls: progress, cancellation, GIL
// ---------------------------------------------------------------------------

// superlens.CancelToken: cancel() from any thread stops the calls given it
// within one unit of work (a layer, a window, a study cell).
class CancelToken {
public:
    void cancel() { m_flag.store(true); }
    bool cancelled() const { return m_flag.load(); }
    void reset() { m_flag.store(false); }

private:
    std::atomic<bool> m_flag{false};
};

// One core call's RunControl. The progress callback (Python, optional) is
// called with the GIL taken; an exception it raises, a cancelled token, or
// Ctrl+C (on the main thread) cancel the core call, and finish() re-raises
// the Python exception (KeyboardInterrupt included) instead of Cancelled.
class CallScope {
public:
    CallScope(py::object progress, std::shared_ptr<CancelToken> cancel);
    ~CallScope();
    CallScope(const CallScope&) = delete;
    CallScope& operator=(const CallScope&) = delete;

    const core::RunControl& control() const { return m_control; }

    // Runs f(control) with the GIL released and returns its Result's value;
    // errors are raised as Python exceptions (after the GIL is back).
    template <class F>
    auto run(F&& f, const std::optional<std::filesystem::path>& path = std::nullopt) {
        using R = decltype(f(m_control));
        std::optional<R> r;
        {
            py::gil_scoped_release release;
            r.emplace(f(m_control));
        }
        reraise();
        if (!*r) raise(r->error(), path);
        if constexpr (!std::is_same_v<R, core::Status>) return std::move(*r).value();
    }

private:
    void onProgress(std::int64_t done, std::int64_t total, const char* stage);
    void reraise();

    core::RunControl m_control;
    py::object m_progress;  // None or a callable
    std::shared_ptr<CancelToken> m_cancel;
    bool m_mainThread = false;
    bool m_hasError = false;
    py::object m_errType, m_errValue, m_errTrace;
};

// The cancel= argument: None or a CancelToken.
std::shared_ptr<CancelToken> cancelArg(const py::object& cancel);

}  // namespace superlens::python
