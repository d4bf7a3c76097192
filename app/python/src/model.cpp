// superlens.open, superlens.Model (configuration, weights, hooks) and
// superlens.Tokenizer.

#include "model.h"

#include <cstring>

#include "inputs.h"
#include "superlens/core/engine/hooks.h"
#include "superlens/core/model/dtype.h"
#include "superlens/core/system/blas.h"

namespace superlens::python {

namespace {

core::Precision precisionArg(const std::string& p) {
    if (p == "float32") return core::Precision::Float32;
    if (p == "float64") return core::Precision::Float64;
    raise("precision must be \"float32\" or \"float64\" (got \"" + p + "\")");
}

// Token ids for decode & co.: any ints in int32 range (ids outside the
// vocabulary are the tokenizer's business: decode skips them).
std::vector<core::TokenId> rawIds(const py::handle& h) {
    std::vector<core::TokenId> ids;
    if (py::isinstance<py::str>(h)) throw py::type_error("expected token ids (a list of ints or a 1-D integer array), got str");
    if (py::isinstance<py::array>(h)) {
        py::array a = py::reinterpret_borrow<py::array>(h);
        if ((a.dtype().kind() != 'i' && a.dtype().kind() != 'u') || a.ndim() != 1) {
            throw py::type_error("token ids must be a 1-D integer array");
        }
        py::array_t<long long, py::array::forcecast> v(a);
        for (py::ssize_t i = 0; i < v.size(); ++i) {
            const long long x = v.data()[i];
            if (x < INT32_MIN || x > INT32_MAX) throw py::value_error("token id " + std::to_string(x) + " does not fit in 32 bits");
            ids.push_back(static_cast<core::TokenId>(x));
        }
        return ids;
    }
    for (py::handle item : h) {
        if (PyBool_Check(item.ptr()) || !py::hasattr(item, "__index__")) throw py::type_error("token ids must be integers");
        const long long x = py::reinterpret_steal<py::int_>(PyNumber_Index(item.ptr())).cast<long long>();
        if (x < INT32_MIN || x > INT32_MAX) throw py::value_error("token id " + std::to_string(x) + " does not fit in 32 bits");
        ids.push_back(static_cast<core::TokenId>(x));
    }
    return ids;
}

py::object optionalId(const std::optional<core::TokenId>& id) { return id ? py::object(py::int_(*id)) : py::object(py::none()); }

std::shared_ptr<core::Tokenizer> toShared(std::unique_ptr<core::Tokenizer> t) { return std::shared_ptr<core::Tokenizer>(std::move(t)); }

// Zero-copy, read-only view of a checkpoint tensor's bytes as `dtype`; the
// model (and with it the mmap) lives as long as the array.
py::array storedView(const ModelPtr& self, const core::TensorView& v, const py::dtype& dtype) {
    auto* keep = new std::shared_ptr<const core::Model>(self->modelPtr());
    py::capsule base(keep, [](void* p) { delete static_cast<std::shared_ptr<const core::Model>*>(p); });
    std::vector<py::ssize_t> shape(v.shape.begin(), v.shape.end());
    return readOnly(py::array(dtype, shape, {}, const_cast<std::byte*>(v.data), base));
}

py::array weight(const ModelPtr& self, const std::string& name, bool raw, const py::object& edits) {
    const core::Model& m = self->model();
    const core::TensorView* v = m.tensor(name);
    if (!v) raise("unknown tensor '" + name + "'");
    std::vector<py::ssize_t> shape(v->shape.begin(), v->shape.end());
    const bool edited = !edits.is_none() && !(py::isinstance<py::list>(edits) && py::len(edits) == 0);
    if (edited) {
        if (raw) raise("raw=True reads the tensor as stored; it cannot be combined with edits");
        auto specs = editsArg(m, edits);
        core::Result<core::WeightPtr> w = core::Error{""};
        {
            py::gil_scoped_release release;
            w = self->engine().effectiveWeight(name, specs);
        }
        core::WeightPtr matrix = unwrap(std::move(w));
        py::array_t<float> out(shape);
        if (matrix->rows() * matrix->cols() != v->elementCount()) raise("tensor '" + name + "': edited matrix does not match the stored shape");
        float* dst = out.mutable_data();
        {
            py::gil_scoped_release release;
            matrix->decodeRows(0, matrix->rows(), dst);
        }
        return readOnly(out);
    }
    switch (v->dtype) {
        case core::DType::F32:
            return storedView(self, *v, py::dtype::of<float>());
        case core::DType::F16:
            if (raw) return storedView(self, *v, py::dtype("float16"));
            break;
        case core::DType::BF16:
            if (raw) return storedView(self, *v, py::dtype::of<std::uint16_t>());  // the bf16 bits
            break;
    }
    // F16/BF16 as float32: a converted copy (exact: both widen losslessly).
    py::array_t<float> out(shape);
    float* dst = out.mutable_data();
    const std::int64_t n = v->elementCount();
    const bool bf16 = v->dtype == core::DType::BF16;
    {
        py::gil_scoped_release release;
        for (std::int64_t i = 0; i < n; ++i) {
            std::uint16_t bits;
            std::memcpy(&bits, v->data + 2 * i, 2);  // the mmap is unaligned in general
            dst[i] = bf16 ? core::bf16ToFloat(bits) : core::f16ToFloat(bits);
        }
    }
    // Read-only like the F32 views, so code behaves the same on every dtype.
    return readOnly(out);
}

py::dict tensorInfo(const core::Model& m, const std::string& name) {
    const core::TensorView* v = m.tensor(name);
    if (!v) raise("unknown tensor '" + name + "'");
    py::dict d;
    d["name"] = name;
    d["dtype"] = std::string(core::dtypeName(v->dtype));
    d["shape"] = py::tuple(py::cast(v->shape));
    const core::TensorRole* role = m.tensorRole(name);
    d["layer"] = m.tensorLayer(name);
    d["used"] = role != nullptr;  // read by the forward pass
    d["matrix"] = role && role->matrix;
    d["stored_transposed"] = role && role->storedTransposed;
    return d;
}

std::vector<std::string> hookNames(const core::Model& m) {
    std::vector<std::string> out;
    for (const auto& p : core::allHookPoints(core::hookLayoutOf(m.config()))) out.push_back(core::hookName(p));
    return out;
}

py::dict systemInfo() {
    const core::blas::BlasInfo& b = core::blas::info();
    py::dict d;
    d["blas_library"] = b.library;
    d["blas_core"] = b.core;
    d["blas_config"] = b.config;
    d["blas_requested"] = b.requested;
    d["blas_selection"] = b.selection;
    return d;
}

}  // namespace

std::shared_ptr<PyModel> PyModel::open(const std::string& path, const std::string& precision, const std::string& compute) {
    core::EngineOptions options;
    options.precision = precisionArg(precision);
    auto dtype = core::parseComputeDtype(compute);
    if (!dtype) raise("compute: " + dtype.error().message);
    options.compute = *dtype;
    auto self = std::make_shared<PyModel>();
    self->m_path = path;
    core::Result<std::shared_ptr<const core::Model>> opened = core::Error{""};
    {
        py::gil_scoped_release release;
        opened = core::Model::open(path);
    }
    self->m_model = unwrap(std::move(opened), std::filesystem::path(path));
    self->m_engine = std::make_unique<core::Engine>(self->m_model, options);
    return self;
}

std::shared_ptr<core::Tokenizer> PyModel::tokenizer() {
    core::Result<std::unique_ptr<core::Tokenizer>> loaded = core::Error{""};
    {
        py::gil_scoped_release release;
        std::lock_guard lock(m_tokMutex);
        if (m_tokLoaded) return m_tokenizer;
        if (!core::Tokenizer::modelHasTokenizer(*m_model)) {
            m_tokLoaded = true;
            return nullptr;
        }
        loaded = core::Tokenizer::loadForModel(*m_model);
        if (loaded) {
            m_tokenizer = toShared(std::move(loaded).value());
            m_tokLoaded = true;
            return m_tokenizer;
        }
    }
    raise(loaded.error());  // a damaged tokenizer: raised on every use, never cached as "none"
}

std::shared_ptr<core::Tokenizer> PyModel::requireTokenizer(const std::string& neededFor) {
    auto tok = tokenizer();
    if (!tok) raise(m_model->folder().string() + ": no tokenizer.json or tokenizer.model (needed for " + neededFor + ")");
    return tok;
}

py::object PyModel::config() {
    if (!m_config) m_config = py::module_::import("json").attr("loads")(pyStr(m_model->config().rawJson));
    return m_config;
}

void registerModel(py::module_& m, py::class_<PyModel, ModelPtr>& cls) {
    py::class_<core::Tokenizer, std::shared_ptr<core::Tokenizer>> tok(m, "Tokenizer", R"doc(
A model's tokenizer, exact to Hugging Face's (tokenizer.json) or SentencePiece's
(tokenizer.model). Immutable; encode/decode may run from several threads.)doc");
    tok.def(
           "encode",
           [](const core::Tokenizer& t, const std::string& text, bool addSpecialTokens) {
               std::vector<core::TokenId> ids;
               {
                   py::gil_scoped_release release;
                   ids = t.encode(text, addSpecialTokens);
               }
               return ids;
           },
           py::arg("text"), py::arg("add_special_tokens") = true,
           "Token ids of text; add_special_tokens adds what the tokenizer's own files say (e.g. BOS for Llama), as Hugging Face's encode.")
        .def(
            "decode", [](const core::Tokenizer& t, const py::object& ids, bool skip) { return pyStr(t.decode(rawIds(ids), skip)); },
            py::arg("ids"), py::arg("skip_special_tokens") = false, "Text of token ids (ids outside the vocabulary are skipped).")
        .def(
            "to_str_tokens",
            [](const core::Tokenizer& t, const py::object& input) {
                std::vector<core::TokenId> ids = py::isinstance<py::str>(input) ? t.encode(input.cast<std::string>(), true) : rawIds(input);
                py::list out;
                for (core::TokenId id : ids) out.append(pyStr(t.tokenText(id)));
                return out;
            },
            py::arg("input"), "Display text of each token of a text (encoded with special tokens) or of token ids.")
        .def("token_string", [](const core::Tokenizer& t, core::TokenId id) { return pyStr(t.tokenString(id)); }, py::arg("id"),
             "The vocabulary piece as stored (\"▁the\", \"Ġthe\"); \"\" outside the vocabulary.")
        .def("token_text", [](const core::Tokenizer& t, core::TokenId id) { return pyStr(t.tokenText(id)); }, py::arg("id"),
             "Human-readable text of one token.")
        .def("token_to_id", [](const core::Tokenizer& t, const std::string& piece) { return optionalId(t.tokenToId(piece)); }, py::arg("piece"),
             "The id of a vocabulary piece, or None.")
        .def("is_special", &core::Tokenizer::isSpecial, py::arg("id"))
        .def_property_readonly("vocab_size", &core::Tokenizer::vocabSize)
        .def_property_readonly("bos_id", [](const core::Tokenizer& t) { return optionalId(t.bosId()); })
        .def_property_readonly("eos_id", [](const core::Tokenizer& t) { return optionalId(t.eosId()); })
        .def_property_readonly("source_file", [](const core::Tokenizer& t) { return t.sourceFile().string(); })
        .def("__repr__", [](const core::Tokenizer& t) {
            return "<superlens.Tokenizer " + t.sourceFile().string() + ", " + std::to_string(t.vocabSize()) + " ids>";
        });

    m.def(
        "load_tokenizer",
        [](const py::object& pathObj) {
            const auto path = pathArg(pathObj, "path");
            core::Result<std::unique_ptr<core::Tokenizer>> r = core::Error{""};
            {
                py::gil_scoped_release release;
                std::error_code ec;
                if (std::filesystem::is_directory(path, ec)) r = core::Tokenizer::loadFromFolder(path);
                else if (path.extension() == ".model") r = core::Tokenizer::loadSentencePiece(path);
                else if (path.extension() == ".gguf") r = core::Tokenizer::loadGguf(path);
                else r = core::Tokenizer::loadJson(path);
            }
            return toShared(unwrap(std::move(r), path));
        },
        py::arg("path"), "A tokenizer from a model folder, a tokenizer.json or a SentencePiece .model file.");

    m.def(
        "open",
        [](const py::object& path, const std::string& precision, const std::string& compute) {
            return PyModel::open(pathArg(path, "path").string(), precision, compute);
        },
        py::arg("path"), py::arg("precision") = "float32", py::arg("compute") = "fp32", R"doc(
Opens a model: a Hugging Face folder (config.json + safetensors). Every tensor
the forward pass needs is validated first; weights stay memory-mapped in their
stored dtype. precision: "float32" (default) or "float64" arithmetic.
compute: "fp32" (default, exact), "bf16" or "fp16": precision emulation, every
run rounds the weights and each op's output to that dtype where Hugging Face's
PyTorch forward in that dtype rounds (docs/ANALYSIS.md, "Precision emulation").
Raises FileNotFoundError for a missing path, superlens.Error for a refused model.)doc");

    m.def("system_info", &systemInfo, "BLAS library and kernels in use, and why (superlens-cli info --system).");

    cls.def_property_readonly("path", &PyModel::path)
        .def_property_readonly("config", &PyModel::config, "config.json as a dict (the file's own keys).")
        .def_property_readonly("model_type", [](const PyModel& s) { return s.model().config().modelType; })
        .def_property_readonly("family", [](const PyModel& s) { return s.model().config().familyName; })
        .def_property_readonly("n_layers", [](const PyModel& s) { return s.model().config().numLayers; })
        .def_property_readonly("d_model", [](const PyModel& s) { return s.model().config().hiddenSize; })
        .def_property_readonly("d_mlp", [](const PyModel& s) { return s.model().config().intermediateSize; })
        .def_property_readonly("n_heads", [](const PyModel& s) { return s.model().config().numHeads; })
        .def_property_readonly("n_kv_heads", [](const PyModel& s) { return s.model().config().numKvHeads; })
        .def_property_readonly("d_head", [](const PyModel& s) { return s.model().config().headDim; })
        .def_property_readonly("d_vocab", [](const PyModel& s) { return s.model().config().vocabSize; })
        .def_property_readonly("n_ctx", [](const PyModel& s) { return s.model().config().maxPositionEmbeddings; })
        .def_property_readonly("block_summary", [](const PyModel& s) { return s.model().config().blockSummary(); })
        .def_property_readonly("dtype", [](const PyModel& s) { return std::string(core::dtypeName(s.model().dominantDtype())); })
        .def_property_readonly("n_params", [](const PyModel& s) { return s.model().parameterCount(); })
        .def_property_readonly("fingerprint", [](const PyModel& s) { return s.model().fingerprint(); })
        .def_property_readonly("precision", [](PyModel& s) {
            return s.engine().options().precision == core::Precision::Float64 ? "float64" : "float32";
        })
        .def_property_readonly("compute", [](PyModel& s) { return std::string(core::computeDtypeName(s.engine().options().compute)); },
                               "The emulated dtype: \"fp32\" (exact), \"bf16\" or \"fp16\".")
        .def_property_readonly("tokenizer", &PyModel::tokenizer,
                               "The folder's tokenizer (loaded on first use), or None when the folder has none.")
        .def("weight_names", [](const PyModel& s) { return s.model().tensorNames(); }, "Every tensor name of the checkpoint.")
        .def("tensor_info", [](const PyModel& s, const std::string& name) { return tensorInfo(s.model(), name); }, py::arg("name"),
             "dtype, shape, layer and role of a checkpoint tensor.")
        .def("weight", &weight, py::arg("name"), py::arg("raw") = false, py::arg("edits") = py::none(), R"doc(
A checkpoint tensor as a read-only numpy array, shape as stored (GPT-2's
Conv1D weights are [in, out]). F32: a zero-copy view of the memory-mapped file
(its base keeps the model alive). F16/BF16: a converted float32 copy; raw=True
gives the stored values without copying (float16, or the bf16 bits as uint16).
edits=[...]: the tensor under those edits (a float32 copy), e.g. after laser: or rtn:.)doc")
        .def("hook_names", [](const PyModel& s) { return hookNames(s.model()); }, "Every hook point of this model, in execution order.")
        .def("down_proj_name", [](const PyModel& s, int layer) {
                 if (layer < 0 || layer >= s.model().config().numLayers) raise("layer " + std::to_string(layer) + " is outside the model's layers");
                 return s.model().downProjectionName(layer);
             }, py::arg("layer"), "The MLP output projection of a layer, where super weights live.")
        .def_property_readonly("down_output_axis", [](const PyModel& s) { return s.model().downOutputAxis(); },
                               "Which stored axis of the down projection is the output channel (1 for GPT-2's Conv1D).")
        .def(
            "parse_edits",
            [](const PyModel& s, const py::object& edits) {
                std::vector<std::string> out;
                for (const auto& e : editsArg(s.model(), edits)) out.push_back(e.text());
                return out;
            },
            py::arg("edits"), "Validates edit specs against this model; returns their canonical text.")
        .def("__repr__", [](const PyModel& s) {
            const auto& c = s.model().config();
            return "<superlens.Model " + s.path() + ": " + c.familyName + ", " + std::to_string(c.numLayers) + " layers, d_model " +
                   std::to_string(c.hiddenSize) + ", " + std::string(core::dtypeName(s.model().dominantDtype())) + ">";
        });
}

}  // namespace superlens::python
