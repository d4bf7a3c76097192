#include "common.h"

#include <cstring>

namespace superlens::python {

namespace {

py::object& errorType() {
    static py::object* s_type = nullptr;  // leaked on purpose: lives as long as the interpreter
    if (!s_type) s_type = new py::object();
    return *s_type;
}

py::object& cancelledType() {
    static py::object* s_type = nullptr;
    if (!s_type) s_type = new py::object();
    return *s_type;
}

// Set while a Python progress callback runs on this thread: a core call made
// from inside it would wait for the engine the outer call holds.
thread_local bool t_inProgressCallback = false;

}  // namespace

void registerErrors(py::module_& m) {
    // superlens.Error is a ValueError: every error core reports is a problem
    // with the input (a file, an edit, a hook pattern, a token), so code that
    // already catches ValueError keeps working.
    errorType() = py::reinterpret_steal<py::object>(
        PyErr_NewExceptionWithDoc("superlens.Error",
                                  "A SuperLens error: the input (model file, edit, hook pattern, token, cache file) was refused. "
                                  "str(e) is the same one-line message superlens-cli prints.",
                                  PyExc_ValueError, nullptr));
    cancelledType() = py::reinterpret_steal<py::object>(PyErr_NewExceptionWithDoc(
        "superlens.Cancelled", "A long call was cancelled through its CancelToken.", errorType().ptr(), nullptr));
    m.attr("Error") = errorType();
    m.attr("Cancelled") = cancelledType();
}

py::str pyStr(const std::string& s) {
    PyObject* o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
    if (!o) throw py::error_already_set();
    return py::reinterpret_steal<py::str>(o);
}

py::list pyStrList(const std::vector<std::string>& v) {
    py::list out;
    for (const auto& s : v) out.append(pyStr(s));
    return out;
}

void raise(const std::string& message) { raise(core::Error{message}); }

void raise(const core::Error& error, const std::optional<std::filesystem::path>& path) {
    py::str text = pyStr(error.message);
    std::error_code ec;
    if (path && !path->empty() && !std::filesystem::exists(*path, ec)) {
        // FileNotFoundError(message): str(e) is the core message, which names
        // the path (setting .filename would make str(e) "[Errno None] ...").
        PyErr_SetObject(PyExc_FileNotFoundError, text.ptr());
        throw py::error_already_set();
    }
    PyErr_SetObject(error.message == core::kCancelledMessage ? cancelledType().ptr() : errorType().ptr(), text.ptr());
    throw py::error_already_set();
}

py::object toPython(const nlohmann::json& j) {
    switch (j.type()) {
        case nlohmann::json::value_t::null:
        case nlohmann::json::value_t::discarded:
            return py::none();
        case nlohmann::json::value_t::boolean:
            return py::bool_(j.get<bool>());
        case nlohmann::json::value_t::number_integer:
            return py::int_(j.get<std::int64_t>());
        case nlohmann::json::value_t::number_unsigned:
            return py::int_(j.get<std::uint64_t>());
        case nlohmann::json::value_t::number_float:
            return py::float_(j.get<double>());
        case nlohmann::json::value_t::string:
            return pyStr(j.get_ref<const std::string&>());
        case nlohmann::json::value_t::array: {
            py::list l;
            for (const auto& x : j) l.append(toPython(x));
            return l;
        }
        case nlohmann::json::value_t::object: {
            py::dict d;
            for (auto it = j.begin(); it != j.end(); ++it) d[pyStr(it.key())] = toPython(it.value());
            return d;
        }
        case nlohmann::json::value_t::binary:
            break;
    }
    return py::none();
}

py::array readOnly(py::array a) {
    py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
    return a;
}

py::array ownedArray(core::ActivationTensor&& t) {
    auto owner = std::make_shared<core::ActivationTensor>(std::move(t));
    auto* keep = new std::shared_ptr<core::ActivationTensor>(owner);
    py::capsule base(keep, [](void* p) { delete static_cast<std::shared_ptr<core::ActivationTensor>*>(p); });
    std::vector<py::ssize_t> shape(owner->shape.begin(), owner->shape.end());
    return py::array(py::dtype::of<float>(), shape, {}, owner->values.data(), base);
}

py::array copyArray(const core::ActivationTensor& t) {
    std::vector<py::ssize_t> shape(t.shape.begin(), t.shape.end());
    py::array_t<float> a(shape);
    if (!t.values.empty()) std::memcpy(a.mutable_data(), t.values.data(), t.values.size() * sizeof(float));
    return a;
}

// ---------------------------------------------------------------------------

CallScope::CallScope(py::object progress, std::shared_ptr<CancelToken> cancel)
    : m_progress(std::move(progress)), m_cancel(std::move(cancel)) {
    if (t_inProgressCallback) {
        raise("a SuperLens call cannot be made from inside a progress callback (the running call holds the engine)");
    }
    if (!m_progress.is_none() && !PyCallable_Check(m_progress.ptr())) {
        throw py::type_error("progress must be a callable progress(done, total, stage) or None");
    }
    py::module_ threading = py::module_::import("threading");
    m_mainThread = threading.attr("current_thread")().is(threading.attr("main_thread")());
    if (m_cancel && m_cancel->cancelled()) m_control.cancel();
    // Called by core on the computing thread (GIL released) after each unit.
    m_control.setProgressCallback([this](std::int64_t done, std::int64_t total, const char* stage) { onProgress(done, total, stage); });
}

CallScope::~CallScope() = default;

void CallScope::onProgress(std::int64_t done, std::int64_t total, const char* stage) {
    if (m_cancel && m_cancel->cancelled()) m_control.cancel();
    if (m_hasError || m_control.isCancelled()) return;
    // Only take the GIL when there is Python work: a callback to call, or
    // pending signals (Ctrl+C) to check on the main thread.
    if (m_progress.is_none() && !m_mainThread) return;
    py::gil_scoped_acquire gil;
    auto fail = [&] {
        PyObject *type = nullptr, *value = nullptr, *trace = nullptr;
        PyErr_Fetch(&type, &value, &trace);
        PyErr_NormalizeException(&type, &value, &trace);
        m_errType = py::reinterpret_steal<py::object>(type);
        m_errValue = py::reinterpret_steal<py::object>(value);
        m_errTrace = py::reinterpret_steal<py::object>(trace);
        m_hasError = true;
        m_control.cancel();
    };
    if (m_mainThread && PyErr_CheckSignals() != 0) {
        fail();
        return;
    }
    if (m_progress.is_none()) return;
    t_inProgressCallback = true;
    PyObject* r = PyObject_CallFunction(m_progress.ptr(), "LLs", static_cast<long long>(done), static_cast<long long>(total), stage ? stage : "");
    t_inProgressCallback = false;
    if (!r) {
        fail();
        return;
    }
    Py_DECREF(r);
}

void CallScope::reraise() {
    if (!m_hasError) return;
    m_hasError = false;
    PyErr_Restore(m_errType.release().ptr(), m_errValue.release().ptr(), m_errTrace.release().ptr());
    throw py::error_already_set();
}

std::shared_ptr<CancelToken> cancelArg(const py::object& cancel) {
    if (cancel.is_none()) return nullptr;
    if (!py::isinstance<CancelToken>(cancel)) throw py::type_error("cancel must be a superlens.CancelToken or None");
    return cancel.cast<std::shared_ptr<CancelToken>>();
}

}  // namespace superlens::python
