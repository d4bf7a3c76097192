// superlens.cache.open (reading the HDF5 activation cache through core, no
// h5py) and Model.capture (writing it).

#include <mutex>

#include "inputs.h"
#include "model.h"
#include "superlens/core/cache/activation_cache.h"

namespace superlens::python {

namespace {

// An open cache file; close() releases the HDF5 handle before the object dies.
class PyCache {
public:
    explicit PyCache(std::shared_ptr<core::ActivationCache> c) : m_cache(std::move(c)) {}
    std::shared_ptr<core::ActivationCache> get() const {
        std::lock_guard lock(m_mutex);
        if (!m_cache) raise("cache file is closed");
        return m_cache;
    }
    void close() {
        std::lock_guard lock(m_mutex);
        m_cache.reset();
    }
    bool closed() const {
        std::lock_guard lock(m_mutex);
        return !m_cache;
    }

private:
    mutable std::mutex m_mutex;
    std::shared_ptr<core::ActivationCache> m_cache;
};

struct PyCachedRun {
    std::shared_ptr<PyCache> file;
    int index = 0;
    const core::CachedRunInfo& info() const {
        const core::CachedRunInfo* r = file->get()->run(index);
        SL_ASSERT(r != nullptr);
        return *r;
    }
};

// One array of a run (logits, pixels) read with the GIL released.
py::array readRunArray(const PyCachedRun& r, core::Result<core::ActivationTensor> (core::ActivationCache::*read)(int) const) {
    auto cache = r.file->get();
    core::Result<core::ActivationTensor> t = core::Error{""};
    {
        py::gil_scoped_release release;
        t = ((*cache).*read)(r.index);
    }
    return ownedArray(unwrap(std::move(t)));
}

py::array readArray(const PyCachedRun& r, const std::string& hook, std::optional<std::int64_t> first, std::optional<std::int64_t> count) {
    auto cache = r.file->get();
    core::Result<core::ActivationTensor> t = core::Error{""};
    {
        py::gil_scoped_release release;
        if (first || count) {
            const core::CachedHook* h = cache->run(r.index)->hook(hook);
            const std::int64_t extent = h && !h->shape.empty() ? h->shape[0] : 0;
            const std::int64_t f = first.value_or(0);
            t = cache->readHookSlice(r.index, hook, f, count.value_or(extent - f));
        } else {
            t = cache->readHook(r.index, hook);
        }
    }
    return ownedArray(unwrap(std::move(t)));
}

std::vector<std::string> hookNamesOf(const core::CachedRunInfo& info) {
    std::vector<std::string> out;
    for (const auto& h : info.hooks) out.push_back(h.name);
    return out;
}

py::object jsonLoads(const std::string& text) { return py::module_::import("json").attr("loads")(pyStr(text)); }

py::dict capture(const ModelPtr& self, const py::object& fileObj, const py::object& input, const py::object& hooks, const py::object& edits,
                 bool allPositions, const std::string& compress, const py::object& progress, const py::object& cancel) {
    const std::filesystem::path file = pathArg(fileObj, "file");
    const core::Model& m = self->model();
    auto tok = self->tokenizer();
    TokenInput in = tokensArg(*self, input);
    core::ForwardRequest req;
    req.tokens = in.ids;
    req.edits = editsArg(m, edits, static_cast<std::int64_t>(in.ids.size()));
    req.edits = resolveKeepSuper(self->engine(), in.ids, std::move(req.edits));
    req.allPositionLogits = allPositions;
    if (hooks.is_none()) {
        req.record = core::HookSelection::captureDefault();
    } else {
        std::vector<std::string> patterns;
        if (py::isinstance<py::str>(hooks)) patterns.push_back(hooks.cast<std::string>());
        else {
            for (py::handle h : hooks) {
                if (!py::isinstance<py::str>(h)) throw py::type_error("capture hooks must be patterns (str)");
                patterns.push_back(h.cast<std::string>());
            }
        }
        req.record = core::HookSelection::patterns(patterns);
    }
    core::CacheWriteOptions wo;
    wo.compression = unwrap(core::CacheCompression::parse(compress));
    const core::CacheModelInfo info = core::CacheModelInfo::fromModel(m, tok.get());
    std::filesystem::path folder = file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path();
    CallScope scope(progress, cancelArg(cancel));
    std::unique_ptr<core::ActivationCacheWriter> writer =
        scope.run([&](const core::RunControl&) { return core::ActivationCacheWriter::open(file, info, wo); }, folder);
    core::CaptureOutcome outcome = scope.run([&](const core::RunControl& c) { return core::captureRun(*writer, self->engine(), req, in.prompt, tok.get(), c); });
    core::ActivationCacheWriter::CommitInfo commit = scope.run([&](const core::RunControl&) { return writer->commit(); });
    py::dict d;
    d["file"] = file.string();
    d["run"] = !outcome.reused && !commit.appendedRuns.empty() ? commit.appendedRuns.front() : outcome.run;
    d["reused"] = outcome.reused;
    d["file_bytes"] = commit.fileBytes;
    return d;
}

}  // namespace

void registerCache(py::module_& m, py::class_<PyModel, ModelPtr>& cls) {
    py::class_<PyCache, std::shared_ptr<PyCache>> file(m, "CacheFile", R"doc(
A SuperLens HDF5 activation cache (docs/CACHE.md), read through core (no h5py).
Index it for runs: f[0], len(f), iteration; use as a context manager or close().)doc");
    py::class_<PyCachedRun> run(m, "CachedRun", "One captured forward pass; arrays are read on access.");

    file.def_property_readonly("path", [](const PyCache& c) { return c.get()->path().string(); })
        .def_property_readonly("version", [](const PyCache& c) { return c.get()->version(); })
        .def_property_readonly("model_fingerprint", [](const PyCache& c) { return c.get()->modelFingerprint(); })
        .def_property_readonly("model_config", [](const PyCache& c) { return jsonLoads(c.get()->modelConfigJson()); })
        .def_property_readonly("model_name", [](const PyCache& c) { return pyStr(c.get()->modelName()); })
        .def_property_readonly("model_dtype", [](const PyCache& c) { return c.get()->modelDtype(); })
        .def_property_readonly("model_parameters", [](const PyCache& c) { return c.get()->modelParameters(); })
        .def_property_readonly("has_vocab", [](const PyCache& c) { return c.get()->hasVocab(); })
        .def_property_readonly("vocab_pieces",
                               [](const PyCache& c) {
                                   auto cache = c.get();
                                   {
                                       py::gil_scoped_release release;
                                       (void)cache->vocabPieces();  // read on first use
                                   }
                                   return pyStrList(cache->vocabPieces());
                               })
        .def_property_readonly("vocab_texts",
                               [](const PyCache& c) {
                                   auto cache = c.get();
                                   {
                                       py::gil_scoped_release release;
                                       (void)cache->vocabTexts();
                                   }
                                   return pyStrList(cache->vocabTexts());
                               })
        .def("__len__", [](const PyCache& c) { return c.get()->runs().size(); })
        .def("__getitem__",
             [](const std::shared_ptr<PyCache>& c, long long i) {
                 const auto& runs = c->get()->runs();
                 const long long n = static_cast<long long>(runs.size());
                 if (i < 0) i += n;
                 if (i < 0 || i >= n) throw py::index_error("run index out of range (the file has " + std::to_string(n) + " runs)");
                 return PyCachedRun{c, runs[static_cast<std::size_t>(i)].index};
             })
        .def_property_readonly("runs",
                               [](const std::shared_ptr<PyCache>& c) {
                                   py::list l;
                                   for (const auto& r : c->get()->runs()) l.append(PyCachedRun{c, r.index});
                                   return l;
                               })
        .def("close", &PyCache::close)
        .def_property_readonly("closed", &PyCache::closed)
        .def("__enter__", [](const std::shared_ptr<PyCache>& c) { return c; })
        .def("__exit__", [](PyCache& c, const py::object&, const py::object&, const py::object&) { c.close(); })
        .def("__repr__", [](const PyCache& c) {
            if (c.closed()) return std::string("<superlens.CacheFile (closed)>");
            auto cache = c.get();
            return "<superlens.CacheFile " + cache->path().string() + ", " + std::to_string(cache->runs().size()) + " runs>";
        });

    run.def_property_readonly("index", [](const PyCachedRun& r) { return r.index; })
        .def_property_readonly("prompt", [](const PyCachedRun& r) { return pyStr(r.info().prompt); })
        .def_property_readonly("tokens", [](const PyCachedRun& r) { return r.info().tokens; })
        .def_property_readonly("token_strings", [](const PyCachedRun& r) { return pyStrList(r.info().tokenStrings); })
        .def_property_readonly("token_texts", [](const PyCachedRun& r) { return pyStrList(r.info().tokenTexts); })
        .def_property_readonly("edits", [](const PyCachedRun& r) { return pyStrList(r.info().edits); })
        .def_property_readonly("hook_patterns", [](const PyCachedRun& r) { return pyStrList(r.info().hookPatterns); })
        .def_property_readonly("precision", [](const PyCachedRun& r) { return r.info().precision; })
        .def_property_readonly("all_positions", [](const PyCachedRun& r) { return r.info().allPositionLogits; })
        .def_property_readonly("seconds", [](const PyCachedRun& r) { return r.info().seconds; })
        .def_property_readonly("created", [](const PyCachedRun& r) { return r.info().created; })
        .def_property_readonly("metadata", [](const PyCachedRun& r) { return jsonLoads(r.info().metadataJson); })
        .def("hook_names", [](const PyCachedRun& r) { return hookNamesOf(r.info()); }, "Recorded hooks, in execution order.")
        .def("keys", [](const PyCachedRun& r) { return hookNamesOf(r.info()); })
        .def_property_readonly("shapes",
                               [](const PyCachedRun& r) {
                                   py::dict d;
                                   for (const auto& h : r.info().hooks) d[pyStr(h.name)] = py::tuple(py::cast(h.shape));
                                   return d;
                               })
        .def_property_readonly("logits",
                               [](const PyCachedRun& r) -> py::object {
                                   if (r.info().logitsShape.empty()) return py::none();
                                   return readRunArray(r, &core::ActivationCache::readLogits);
                               },
                               "float32 [1, V] (last position) or [T, V]; None when the run stored no logits.")
        .def_property_readonly("positions", [](const PyCachedRun& r) { return r.info().positions(); },
                               "T: the tokens, or an image run's positions (CLS, registers, patches).")
        .def_property_readonly("pixels",
                               [](const PyCachedRun& r) -> py::object {
                                   if (r.info().pixelShape.empty()) return py::none();
                                   return readRunArray(r, &core::ActivationCache::readPixels);
                               },
                               "An image run's pixel values (float32 [C, H, W]) as they ran; None for token runs.")
        .def("read", &readArray, py::arg("hook"), py::arg("first") = py::none(), py::arg("count") = py::none(),
             "A hook's values (float32, shape as recorded); first/count read a slice along the first axis (tokens, or heads of a pattern).")
        .def("__getitem__", [](const PyCachedRun& r, const std::string& hook) { return readArray(r, hook, std::nullopt, std::nullopt); })
        .def("__contains__", [](const PyCachedRun& r, const std::string& hook) { return r.info().hook(hook) != nullptr; })
        .def_property_readonly("cache",
                               [](const PyCachedRun& r) {
                                   py::dict d;
                                   for (const auto& h : r.info().hooks) d[pyStr(h.name)] = readArray(r, h.name, std::nullopt, std::nullopt);
                                   return d;
                               },
                               "Every recorded hook as a dict of arrays (reads them all).")
        .def("__repr__", [](const PyCachedRun& r) {
            const auto& i = r.info();
            return "<superlens.CachedRun " + std::to_string(i.index) + ": " + std::to_string(i.positions()) +
                   (i.pixelShape.empty() ? " tokens, " : " image positions, ") +
                   std::to_string(i.hooks.size()) + " hooks>";
        });

    m.def(
        "_cache_open",
        [](const py::object& pathObj) {
            const auto path = pathArg(pathObj, "file");
            core::Result<std::shared_ptr<core::ActivationCache>> r = core::Error{""};
            {
                py::gil_scoped_release release;
                r = core::ActivationCache::open(path);
            }
            return std::make_shared<PyCache>(unwrap(std::move(r), path));
        },
        py::arg("file"));

    cls.def("capture", &capture, py::arg("file"), py::arg("input"), py::arg("hooks") = py::none(), py::arg("edits") = py::none(),
            py::arg("all_positions") = false, py::arg("compress") = "none", py::arg("progress") = py::none(), py::arg("cancel") = py::none(),
            R"doc(
Runs input and appends the run to an HDF5 activation cache (created if missing),
as `superlens-cli capture`; a run already in the file with the same tokens,
edits and hooks is reused. hooks default: the capture set (down_proj in/out,
resid_post, and what the GUI draws). Returns {"file", "run", "reused", "file_bytes"}.)doc");
}

}  // namespace superlens::python
