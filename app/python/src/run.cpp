// Model.run / run_with_cache / generate and superlens.RunResult.
//
// Python callables as hooks are built from core's activation edits, the
// engine's only way to change a value in flight (there is no callback inside
// the forward pass, by design: kernels never call out). For the callables, in
// execution order of their hooks:
//   1. run the engine (incrementally: from the first block whose edits
//      changed) recording that hook,
//   2. call fn on a writable copy of the value,
//   3. every element fn changed (bitwise) becomes an activation edit
//      `hook[t,c]=v` (attention patterns: `[h,q,k]=v`) with v the float32
//      value, which the float32 engine applies exactly.
// A final run applies all of them. A callable that changes k elements adds k
// element edits; K callables cost at most K + 1 passes, each restarting at
// the block of the hook that changed (an observer that changes nothing costs
// no extra pass).

#include <algorithm>
#include <cstring>

#include "inputs.h"
#include "model.h"
#include "superlens/core/engine/hooks.h"

namespace superlens::python {

namespace {

struct HookCallable {
    core::HookPoint point;
    std::string name;
    py::object fn;
    bool passName = false;  // fn(activation, hook_name)
};

struct HookArgs {
    std::vector<std::string> patterns;  // recorded (callable hooks included)
    std::vector<std::pair<std::string, py::object>> callables;
};

// fn(activation) or fn(activation, hook_name): the latter when fn requires
// two positional arguments (or takes *args), as TransformerLens hooks do.
bool wantsName(const py::object& fn) {
    try {
        py::module_ inspect = py::module_::import("inspect");
        py::object sig = inspect.attr("signature")(fn);
        py::object P = inspect.attr("Parameter");
        int required = 0;
        for (py::handle p : sig.attr("parameters").attr("values")()) {
            py::object kind = p.attr("kind");
            if (kind.equal(P.attr("VAR_POSITIONAL"))) return true;
            const bool positional = kind.equal(P.attr("POSITIONAL_ONLY")) || kind.equal(P.attr("POSITIONAL_OR_KEYWORD"));
            if (positional && p.attr("default").is(P.attr("empty"))) ++required;
        }
        return required >= 2;
    } catch (py::error_already_set&) {
        return false;  // builtins without a signature: one argument
    }
}

HookArgs hooksArg(const py::handle& hooks) {
    HookArgs out;
    if (hooks.is_none()) return out;
    auto addItem = [&](const py::handle& key, const py::handle& value) {
        if (!py::isinstance<py::str>(key)) throw py::type_error("hook names and patterns must be str");
        const std::string pattern = key.cast<std::string>();
        out.patterns.push_back(pattern);
        if (value.is_none() || (PyBool_Check(value.ptr()) && value.cast<bool>())) return;
        if (!PyCallable_Check(value.ptr())) throw py::type_error("hooks['" + pattern + "'] must be a callable fn(activation) (or None to record only)");
        out.callables.emplace_back(pattern, py::reinterpret_borrow<py::object>(value));
    };
    if (py::isinstance<py::str>(hooks)) {
        out.patterns.push_back(hooks.cast<std::string>());
    } else if (py::isinstance<py::dict>(hooks)) {
        for (auto item : py::reinterpret_borrow<py::dict>(hooks)) addItem(item.first, item.second);
    } else if (py::isinstance<py::list>(hooks) || py::isinstance<py::tuple>(hooks)) {
        for (py::handle item : hooks) {
            if (py::isinstance<py::str>(item)) {
                out.patterns.push_back(item.cast<std::string>());
            } else if (py::isinstance<py::tuple>(item) && py::len(item) == 2) {
                auto t = py::reinterpret_borrow<py::tuple>(item);
                addItem(t[0], t[1]);  // TransformerLens's fwd_hooks: (name, fn)
            } else {
                throw py::type_error("hooks must be patterns (str), (name, fn) pairs, or a dict {name: fn or None}");
            }
        }
    } else {
        throw py::type_error("hooks must be None, a pattern, a list of patterns or (name, fn) pairs, or a dict {name: fn or None}");
    }
    return out;
}

}  // namespace

// The result of Model.run: logits, recorded hooks, tokens.
struct PyRunResult {
    std::shared_ptr<const core::ForwardResult> result;
    ModelPtr model;
    std::string prompt;
    std::int64_t hookEdits = 0;
    int passes = 0;
    py::object cache;  // dict, built on first access

    py::array logits() const { return activationView(result->logits, result); }
    py::dict cacheDict() {
        if (!cache) {
            py::dict d;
            for (const auto& [point, tensor] : result->activations) d[pyStr(core::hookName(point))] = activationView(*tensor, tensor);
            cache = std::move(d);
        }
        return py::reinterpret_borrow<py::dict>(cache);
    }
};

namespace {

struct RunArgs {
    TokenInput input;
    std::shared_ptr<const core::PixelTensor> pixels;  // vision models
    std::vector<core::EditSpec> edits;
    HookArgs hooks;
    bool allPositions = true;
    std::shared_ptr<const core::ForwardResult> previous;
};

std::shared_ptr<PyRunResult> runModel(const ModelPtr& self, RunArgs args, const py::object& progress, const py::object& cancel) {
    const core::Model& m = self->model();
    const core::HookLayout layout = core::hookLayoutOf(m.config());
    core::HookSelection record = core::HookSelection::patterns(args.hooks.patterns);
    check(record.validate(layout));

    // Callables in execution order of their hooks (stable: several on one
    // hook run in the order given).
    std::vector<HookCallable> callables;
    for (const auto& [pattern, fn] : args.hooks.callables) {
        const bool name = wantsName(fn);
        for (const core::HookPoint& p : core::HookSelection::patterns({pattern}).resolve(layout)) {
            callables.push_back({p, core::hookName(p), fn, name});
        }
    }
    std::stable_sort(callables.begin(), callables.end(), [](const HookCallable& a, const HookCallable& b) { return a.point < b.point; });

    core::ForwardRequest req;
    req.tokens = std::move(args.input.ids);
    req.pixels = std::move(args.pixels);
    req.edits = std::move(args.edits);
    req.record = record;
    req.allPositionLogits = args.allPositions;
    req.previous = std::move(args.previous);

    auto out = std::make_shared<PyRunResult>();
    out->model = self;
    out->prompt = std::move(args.input.prompt);
    CallScope scope(progress, cancelArg(cancel));
    auto pass = [&] {
        out->result = scope.run([&](const core::RunControl& c) { return self->engine().run(req, c); });
        req.previous = out->result;
        ++out->passes;
    };
    bool dirty = true;
    for (const HookCallable& c : callables) {
        if (dirty) pass();
        dirty = false;
        const core::ActivationTensor* before = out->result->activation(c.point);
        SL_ASSERT(before != nullptr);  // recorded: its pattern is in `record`
        py::array value = copyArray(*before);
        py::object returned = c.passName ? c.fn(value, c.name) : c.fn(value);
        py::array_t<float, py::array::c_style | py::array::forcecast> after(returned.is_none() ? py::object(value) : returned);
        const std::vector<std::int64_t> shape(after.shape(), after.shape() + after.ndim());
        if (shape != before->shape) {
            auto text = [](const std::vector<std::int64_t>& s) {
                std::string t = "(";
                for (std::size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
                return t + (s.size() == 1 ? ",)" : ")");
            };
            raise("hook function for " + c.name + " returned shape " + text(shape) + ", expected " + text(before->shape));
        }
        const float* a = before->values.data();
        const float* b = after.data();
        const std::int64_t cols = before->cols();
        const bool pattern = c.point.kind == core::HookKind::AttnPattern;
        const std::int64_t keys = pattern ? before->shape[2] : 0;
        const std::int64_t queries = pattern ? before->shape[1] : 0;
        std::int64_t changed = 0;
        for (std::int64_t i = 0, n = static_cast<std::int64_t>(before->values.size()); i < n; ++i) {
            if (std::memcmp(a + i, b + i, sizeof(float)) == 0) continue;
            core::EditSpec e;
            e.kind = core::EditKind::Activation;
            e.target = c.name;
            e.op = core::EditOp::Set;
            e.value = static_cast<double>(b[i]);  // exact: the float32 engine stores float(value)
            if (pattern) e.index = {i / (queries * keys), (i / keys) % queries, i % keys};
            else e.index = {i / cols, i % cols};
            req.edits.push_back(std::move(e));
            ++changed;
        }
        if (changed) {
            out->hookEdits += changed;
            dirty = true;
        }
    }
    if (dirty) pass();
    return out;
}

RunArgs runArgs(const ModelPtr& self, const py::object& input, const py::object& pixels, const py::object& hooks, const py::object& edits,
                bool allPositions, const py::object& previous) {
    RunArgs a;
    ModelInput in = modelInput(*self, input, pixels);
    a.hooks = hooksArg(hooks);
    a.edits = inputEdits(*self, in, edits);
    a.input = std::move(in.tokens);
    a.pixels = std::move(in.pixels);
    a.allPositions = allPositions;
    if (!previous.is_none()) {
        auto prev = previous.cast<std::shared_ptr<PyRunResult>>();
        if (prev->model != self) raise("previous: a result of another model");
        a.previous = prev->result;
    }
    return a;
}

py::dict generate(const ModelPtr& self, const py::object& input, int maxNew, const py::object& edits, double temperature, int topK, double topP,
                  std::uint64_t seed, bool stopAtEos, const py::object& progress, const py::object& cancel) {
    TokenInput in = tokensArg(*self, input);
    auto specs = editsArg(self->model(), edits, static_cast<std::int64_t>(in.ids.size()));
    specs = resolveKeepSuper(self->engine(), in.ids, std::move(specs));
    if (maxNew < 0) raise("max_new_tokens must be >= 0");
    auto tok = self->tokenizer();
    core::GenerateRequest req;
    req.prompt = in.ids;
    req.edits = std::move(specs);
    req.maxNewTokens = maxNew;
    req.greedy = temperature <= 0.0;
    req.temperature = temperature;
    req.topK = topK;
    req.topP = topP;
    req.seed = seed;
    if (stopAtEos && tok) req.stopToken = tok->eosId();
    CallScope scope(progress, cancelArg(cancel));
    core::GenerateResult g = scope.run([&](const core::RunControl& c) { return self->engine().generate(req, c); });
    // The document of `superlens-cli generate --json`.
    py::dict d;
    d["new_ids"] = g.tokens;
    d["prompt_seconds"] = g.promptSeconds;
    d["decode_seconds"] = g.decodeSeconds;
    if (tok) {
        // The continuation as it reads after the prompt (a SentencePiece
        // token decoded alone loses its leading space).
        std::vector<core::TokenId> all = in.ids;
        all.insert(all.end(), g.tokens.begin(), g.tokens.end());
        const std::string full = tok->decode(all, true);
        const std::string head = tok->decode(in.ids, true);
        d["text"] = pyStr(full.compare(0, head.size(), head) == 0 ? full.substr(head.size()) : tok->decode(g.tokens, true));
        d["prompt_text"] = pyStr(head);
    } else {
        d["text"] = py::none();
        d["prompt_text"] = py::none();
    }
    py::list e;
    for (const auto& x : req.edits) e.append(pyStr(x.text()));
    d["edits"] = e;
    d["ids"] = in.ids;
    return d;
}

}  // namespace

void registerRun(py::module_& m, py::class_<PyModel, ModelPtr>& cls) {
    py::class_<CancelToken, std::shared_ptr<CancelToken>>(m, "CancelToken", R"doc(
Cancels long calls: pass cancel=token, call token.cancel() from any thread (or
from a progress callback); the call raises superlens.Cancelled within one unit
of work (a layer, a window, a study cell).)doc")
        .def(py::init<>())
        .def("cancel", &CancelToken::cancel)
        .def("reset", &CancelToken::reset)
        .def_property_readonly("cancelled", &CancelToken::cancelled);

    py::class_<PyRunResult, std::shared_ptr<PyRunResult>>(m, "RunResult", "One forward pass: logits, recorded hooks, tokens.")
        .def_property_readonly("logits", &PyRunResult::logits,
                               "float32 [T, V] (all positions; [1, V] with all_positions=False), read-only, no copy.")
        .def_property_readonly("cache", &PyRunResult::cacheDict,
                               "dict hook name -> float32 array (TransformerLens shapes: [T, d], [T, f], patterns [H, T, T]), "
                               "read-only views without copies, in execution order.")
        .def_property_readonly("tokens", [](const PyRunResult& r) { return r.result->tokens; })
        .def_property_readonly("str_tokens",
                               [](const PyRunResult& r) -> py::object {
                                   auto tok = r.model->tokenizer();
                                   if (!tok) return py::none();
                                   py::list l;
                                   for (core::TokenId id : r.result->tokens) l.append(pyStr(tok->tokenText(id)));
                                   return l;
                               })
        .def_property_readonly("prompt", [](const PyRunResult& r) { return pyStr(r.prompt); })
        .def_property_readonly("edits",
                               [](const PyRunResult& r) {
                                   py::list l;
                                   for (const auto& e : r.result->edits) l.append(pyStr(e.text()));
                                   return l;
                               },
                               "Canonical specs of every edit applied, in order (hook functions' element edits last).")
        .def_property_readonly("hook_edits", [](const PyRunResult& r) { return r.hookEdits; }, "Elements changed by hook functions.")
        .def_property_readonly("passes", [](const PyRunResult& r) { return r.passes; }, "Engine passes this run took (1 without hook functions).")
        .def_property_readonly("recomputed_from", [](const PyRunResult& r) { return r.result->recomputedFromStage; },
                               "First stage computed by the last pass: 0 = embedding, 1 + l = block l (incremental recompute).")
        .def_property_readonly("seconds", [](const PyRunResult& r) { return r.result->seconds; }, "Time of the last engine pass.")
        .def("__getitem__", [](PyRunResult& r, const std::string& name) {
            py::dict c = r.cacheDict();
            if (!c.contains(name)) throw py::key_error(name + " was not recorded (pass it in hooks=)");
            return c[py::str(name)];
        })
        .def("__repr__", [](const PyRunResult& r) {
            return "<superlens.RunResult " + std::to_string(r.result->tokens.size()) + " tokens, " + std::to_string(r.result->activations.size()) +
                   " hooks>";
        });

    cls.def(
           "run",
           [](const ModelPtr& self, const py::object& input, const py::object& hooks, const py::object& edits, bool allPositions,
              const py::object& previous, const py::object& pixels, const py::object& progress, const py::object& cancel) {
               return runModel(self, runArgs(self, input, pixels, hooks, edits, allPositions, previous), progress, cancel);
           },
           py::arg("input") = py::none(), py::arg("hooks") = py::none(), py::arg("edits") = py::none(), py::arg("all_positions") = true,
           py::arg("previous") = py::none(), py::arg("pixels") = py::none(), py::arg("progress") = py::none(), py::arg("cancel") = py::none(),
           R"doc(
One exact forward pass.
input: text (encoded with the tokenizer's special tokens) or token ids (used as given).
pixels: vision models' input instead: the image processor's pixel_values as a float32/float64
  array [1, C, H, W] (or [C, H, W]) or a .npy file; positions are [CLS, registers..., patches
  row-major] and logits are empty ([T, 0]: no vocabulary).
hooks: patterns to record ("blocks.*.hook_mlp_out"), or {name: fn} / [(name, fn)] with
  fn(activation) or fn(activation, hook_name) returning a modified array or None
  (in-place changes count). edits: edit spec strings, as everywhere in SuperLens.
previous: an earlier RunResult of the same tokens and hooks: blocks before the first
  edit change are reused (incremental recompute).)doc")
        .def(
            "run_with_cache",
            [](const ModelPtr& self, const py::object& input, const py::object& hooks, const py::object& edits, bool allPositions,
               const py::object& pixels, const py::object& progress, const py::object& cancel) {
                py::object h = hooks.is_none() ? py::object(py::str("*")) : hooks;
                auto r = runModel(self, runArgs(self, input, pixels, h, edits, allPositions, py::none()), progress, cancel);
                return py::make_tuple(r->logits(), r->cacheDict());
            },
            py::arg("input") = py::none(), py::arg("hooks") = py::none(), py::arg("edits") = py::none(), py::arg("all_positions") = true,
            py::arg("pixels") = py::none(), py::arg("progress") = py::none(), py::arg("cancel") = py::none(),
            "run(...) returning (logits, cache); records every hook unless hooks= narrows it (TransformerLens's run_with_cache).")
        .def("generate", &generate, py::arg("input"), py::arg("max_new_tokens") = 32, py::arg("edits") = py::none(),
             py::arg("temperature") = 0.0, py::arg("top_k") = 0, py::arg("top_p") = 1.0, py::arg("seed") = 0, py::arg("stop_at_eos") = true,
             py::arg("progress") = py::none(), py::arg("cancel") = py::none(),
             "KV-cached continuation (greedy at temperature 0), as `superlens-cli generate --json`: new_ids, text, prompt_text, ids, edits, timings.");
}

}  // namespace superlens::python
