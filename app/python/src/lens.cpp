// Model.lens: the logit lens of core/analysis/logit_lens.h with the CLI's
// inputs and defaults, returning the document of `superlens-cli lens --json`
// as a dict (top1 heatmaps as numpy arrays).

#include "inputs.h"
#include "model.h"
#include "superlens/core/analysis/logit_lens.h"

namespace superlens::python {
namespace {

using nlohmann::json;

json tokenJson(core::TokenId id, const core::Tokenizer* tok) { return tok ? json(tok->tokenString(id)) : json(nullptr); }

// The same document as app/cli/cmd_lens.cpp (tests/python compares the two).
json lensJson(const core::LogitLensResult& lens, const core::Tokenizer* tok) {
    json j;
    j["position"] = lens.position;
    j["final"] = {{"id", lens.finalToken}, {"token", tokenJson(lens.finalToken, tok)}};
    json layers = json::array();
    for (const auto& row : lens.layers) {
        json top = json::array();
        for (const auto& t : row.top) top.push_back({{"id", t.id}, {"token", tokenJson(t.id, tok)}, {"prob", t.prob}});
        layers.push_back({{"layer", row.layer}, {"top", std::move(top)}, {"entropy", row.entropy}, {"final_rank", row.finalRank},
                          {"final_prob", row.finalProb}});
    }
    j["layers"] = std::move(layers);
    return j;
}

py::array_t<double> probArray(const core::LogitLensResult& lens) {
    const auto rows = static_cast<py::ssize_t>(lens.top1Prob.size());
    const auto cols = rows ? static_cast<py::ssize_t>(lens.top1Prob.front().size()) : 0;
    py::array_t<double> a({rows, cols});
    auto m = a.mutable_unchecked<2>();
    for (py::ssize_t r = 0; r < rows; ++r) {
        for (py::ssize_t c = 0; c < cols; ++c) m(r, c) = lens.top1Prob[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)];
    }
    return a;
}

py::array_t<std::int64_t> idArray(const core::LogitLensResult& lens) {
    const auto rows = static_cast<py::ssize_t>(lens.top1Id.size());
    const auto cols = rows ? static_cast<py::ssize_t>(lens.top1Id.front().size()) : 0;
    py::array_t<std::int64_t> a({rows, cols});
    auto m = a.mutable_unchecked<2>();
    for (py::ssize_t r = 0; r < rows; ++r) {
        for (py::ssize_t c = 0; c < cols; ++c) m(r, c) = lens.top1Id[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)];
    }
    return a;
}

py::dict lensDict(const core::LogitLensResult& lens, const core::Tokenizer* tok) {
    py::dict d = toPython(lensJson(lens, tok));
    py::dict top1;
    top1["prob"] = probArray(lens);
    top1["id"] = idArray(lens);
    d["top1"] = top1;
    return d;
}

py::object lens(const ModelPtr& self, const py::object& input, const py::object& position, int top, const py::object& edits,
                const py::object& progress, const py::object& cancel) {
    const core::Model& m = self->model();
    auto tok = self->tokenizer();
    const TokenInput in = tokensArg(*self, input);
    const auto T = static_cast<std::int64_t>(in.ids.size());
    std::int64_t P = -1;
    if (!position.is_none()) {
        P = position.cast<std::int64_t>();
        if (P < 0 || P >= T) raise("position " + std::to_string(P) + " is outside the prompt (" + std::to_string(T) + " tokens: 0.." + std::to_string(T - 1) + ")");
    }
    if (top < 1) raise("top must be >= 1");
    auto specs = resolveKeepSuper(self->engine(), in.ids, editsArg(m, edits, T));
    CallScope scope(progress, cancelArg(cancel));
    core::ForwardRequest req;
    req.tokens = in.ids;
    req.record = core::logitLensHooks();
    req.allPositionLogits = true;
    const core::LogitLensOptions lo{P, top};
    auto original = scope.run([&](const core::RunControl& c) { return self->engine().run(req, c); });
    core::LogitLensResult originalLens = scope.run([&](const core::RunControl& c) { return core::logitLens(self->engine(), *original, lo, c); });
    py::dict d;
    if (specs.empty()) {
        d = lensDict(originalLens, tok.get());
    } else {
        req.edits = specs;
        req.previous = original;
        auto edited = scope.run([&](const core::RunControl& c) { return self->engine().run(req, c); });
        core::LogitLensResult editedLens = scope.run(
            [&](const core::RunControl& c) { return core::logitLens(self->engine(), *edited, lo, c, &originalLens, original.get()); });
        d = lensDict(editedLens, tok.get());
        d["original"] = lensDict(originalLens, tok.get());
    }
    d["ids"] = toPython(json(in.ids));
    json e = json::array();
    for (const auto& s : specs) e.push_back(s.text());
    d["edits"] = toPython(e);
    return d;
}

}  // namespace

void registerLens(py::module_&, py::class_<PyModel, ModelPtr>& cls) {
    using py::arg;
    const auto none = py::none();
    cls.def("lens", &lens, arg("input"), arg("position") = none, arg("top") = 10, arg("edits") = none, arg("progress") = none,
            arg("cancel") = none, R"doc(
Logit lens: every layer's residual (blocks.L.hook_resid_post; layer -1 = the
embeddings) at `position` (default: the last) read through the model's own
final norm and unembedding. The document of `superlens-cli lens --json` as a
dict: position, final {id, token}, layers [{layer, top [{id, token, prob}],
entropy, final_rank, final_prob}], top1 {prob, id} ([layers + 1, T] numpy
arrays, row 0 = embeddings), ids, edits; with edits it describes the edited
model and "original" holds the unedited one. The last layer's row is the
model's own output distribution.)doc");
}

}  // namespace superlens::python
