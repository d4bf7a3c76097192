#include "inputs.h"

#include <algorithm>

#include "superlens/core/analysis/bundled_resources.h"
#include "superlens/core/analysis/stopwords.h"
#include "superlens/core/analysis/super_weights.h"
#include "superlens/core/model/mapped_file.h"

namespace superlens::python {

std::optional<std::filesystem::path> pathLike(const py::handle& h) {
    if (py::isinstance<py::str>(h) || py::isinstance<py::bytes>(h)) return std::nullopt;
    if (!py::hasattr(h, "__fspath__")) return std::nullopt;
    py::object p = py::module_::import("os").attr("fspath")(h);
    if (!py::isinstance<py::str>(p)) throw py::type_error("paths must be str or os.PathLike of str");
    return std::filesystem::path(p.cast<std::string>());
}

std::filesystem::path pathArg(const py::handle& h, const char* what) {
    if (py::isinstance<py::str>(h)) return std::filesystem::path(h.cast<std::string>());
    if (auto p = pathLike(h)) return *p;
    throw py::type_error(std::string(what) + " must be a path (str or os.PathLike)");
}

std::vector<TokenId> idsArg(const py::handle& h, const core::Model& model, const char* what) {
    std::vector<long long> raw;
    if (py::isinstance<py::array>(h)) {
        py::array a = py::reinterpret_borrow<py::array>(h);
        const char kind = a.dtype().kind();
        if (kind != 'i' && kind != 'u') {
            throw py::type_error(std::string(what) + ": token ids must be integers (got a numpy array of dtype " +
                                 py::str(a.dtype()).cast<std::string>() + ")");
        }
        if (a.ndim() != 1) {
            throw py::value_error(std::string(what) + ": token ids must be one sequence (a 1-D array), got " + std::to_string(a.ndim()) +
                                  " dimensions");
        }
        py::array_t<long long, py::array::forcecast> v(a);
        raw.assign(v.data(), v.data() + v.size());
    } else if (py::isinstance<py::list>(h) || py::isinstance<py::tuple>(h)) {
        for (py::handle item : h) {
            if (!PyLong_Check(item.ptr()) || PyBool_Check(item.ptr())) {
                // numpy integer scalars are fine too
                if (!py::hasattr(item, "__index__") || PyBool_Check(item.ptr())) {
                    throw py::type_error(std::string(what) + ": token ids must be integers, got " +
                                         py::str(py::type::of(item).attr("__name__")).cast<std::string>());
                }
            }
            int overflow = 0;
            py::object idx = py::reinterpret_steal<py::object>(PyNumber_Index(item.ptr()));
            if (!idx) throw py::error_already_set();
            const long long v = PyLong_AsLongLongAndOverflow(idx.ptr(), &overflow);
            raw.push_back(overflow != 0 ? (overflow > 0 ? (1LL << 62) : -(1LL << 62)) : v);
        }
    } else {
        throw py::type_error(std::string(what) + " must be text (str) or token ids (a list of ints or a 1-D integer array)");
    }
    const std::int64_t vocab = model.config().vocabSize;
    std::vector<TokenId> ids;
    ids.reserve(raw.size());
    for (long long v : raw) {
        // Message as superlens-cli --ids / resolveTokens.
        if (v < 0 || v >= vocab) {
            raise("token id " + std::to_string(v) + " is outside the model's vocabulary (0.." + std::to_string(vocab - 1) + ")");
        }
        ids.push_back(static_cast<TokenId>(v));
    }
    return ids;
}

namespace {

// Vision models read an image: a clear message instead of "outside the vocabulary (0..-1)".
void requireTokenModel(const core::Model& model) {
    const core::ModelConfig& c = model.config();
    if (c.pixelInput) raise("this " + c.familyName + " model reads an image, not tokens: give pixels= (a [1, C, H, W] float array or a .npy file)");
}

}  // namespace

TokenInput tokensArg(PyModel& model, const py::handle& input, const char* what) {
    requireTokenModel(model.model());
    TokenInput out;
    if (py::isinstance<py::str>(input)) {
        auto tok = model.requireTokenizer(std::string("text ") + what);
        out.prompt = input.cast<std::string>();
        {
            py::gil_scoped_release release;
            out.ids = tok->encode(out.prompt, true);
        }
        if (out.ids.empty()) raise(std::string(what) + ": the text gives no tokens");
        const std::int64_t vocab = model.model().config().vocabSize;
        for (TokenId id : out.ids) {
            if (id < 0 || id >= vocab) {
                raise("token id " + std::to_string(id) + " is outside the model's vocabulary (0.." + std::to_string(vocab - 1) + ")");
            }
        }
        return out;
    }
    out.ids = idsArg(input, model.model(), what);
    return out;
}

std::shared_ptr<const core::PixelTensor> pixelsArg(const core::Model& model, const py::handle& pixels) {
    const core::ModelConfig& c = model.config();
    if (!c.pixelInput) raise("pixels: this " + c.familyName + " model reads tokens (give text or token ids)");
    if (py::isinstance<py::array>(pixels)) {
        py::array a = py::reinterpret_borrow<py::array>(pixels);
        if (a.dtype().kind() != 'f' || (a.itemsize() != 4 && a.itemsize() != 8)) {
            raise("pixels: dtype " + py::str(a.dtype()).cast<std::string>() + " is not supported (float32 or float64 pixel values)");
        }
        py::array_t<float, py::array::c_style | py::array::forcecast> v(a);
        const std::vector<std::int64_t> shape(v.shape(), v.shape() + v.ndim());
        return std::make_shared<const core::PixelTensor>(
            unwrap(core::pixelTensor(shape, std::span<const float>(v.data(), static_cast<std::size_t>(v.size())), "pixels")));
    }
    if (py::isinstance<py::str>(pixels) || pathLike(pixels)) {
        const auto file = pathArg(pixels, "pixels");
        core::Result<core::PixelTensor> px = core::Error{""};
        {
            py::gil_scoped_release release;
            px = core::loadNpy(file);
        }
        return std::make_shared<const core::PixelTensor>(unwrap(std::move(px), file));
    }
    throw py::type_error("pixels must be a float numpy array [1, C, H, W] or a .npy file (str or os.PathLike)");
}

ModelInput modelInput(PyModel& model, const py::handle& input, const py::handle& pixels) {
    ModelInput in;
    if (!pixels.is_none()) {
        if (!input.is_none()) raise("give either input (text or token ids) or pixels, not both");
        in.pixels = pixelsArg(model.model(), pixels);
        in.positions = model.model().config().imageTokenCount(in.pixels->height, in.pixels->width);
    } else {
        in.tokens = tokensArg(model, input);
        in.positions = static_cast<std::int64_t>(in.tokens.ids.size());
    }
    return in;
}

std::vector<core::EditSpec> inputEdits(PyModel& model, const ModelInput& in, const py::handle& edits) {
    auto specs = editsArg(model.model(), edits, in.positions);
    return resolveKeepSuper(model.engine(), in.tokens.ids, std::move(specs), in.pixels);
}

std::vector<core::EditSpec> editsArg(const core::Model& model, const py::handle& edits, std::int64_t tokenCount) {
    std::vector<core::EditSpec> out;
    if (edits.is_none()) return out;
    if (auto file = pathLike(edits)) {
        return unwrap(core::loadEditsFileFor(*file, model, tokenCount), *file);
    }
    std::vector<std::string> specs;
    if (py::isinstance<py::str>(edits)) {
        specs.push_back(edits.cast<std::string>());
    } else if (py::isinstance<py::list>(edits) || py::isinstance<py::tuple>(edits)) {
        for (py::handle item : edits) {
            if (!py::isinstance<py::str>(item)) throw py::type_error("edits must be edit spec strings (e.g. \"NAME[row,col]=0\")");
            specs.push_back(item.cast<std::string>());
        }
    } else {
        throw py::type_error("edits must be None, an edit spec string, a list of them, or an os.PathLike JSON edits file");
    }
    return unwrap(core::parseEdits(specs, model, tokenCount));
}

std::vector<core::EditSpec> resolveKeepSuper(core::Engine& engine, const std::vector<TokenId>& tokens, std::vector<core::EditSpec> edits,
                                             const std::shared_ptr<const core::PixelTensor>& pixels) {
    const bool needed = std::any_of(edits.begin(), edits.end(), [](const core::EditSpec& e) {
        return e.needsSuperWeightScan() || e.needsSuperActivationScan();
    });
    if (!needed) return edits;
    core::Result<std::vector<core::EditSpec>> r = core::Error{""};
    {
        py::gil_scoped_release release;
        r = core::resolveKeepSuperFromScan(engine, tokens, pixels, std::move(edits));
    }
    return unwrap(std::move(r));
}

int windowLength(const py::object& ctx, const core::Model& model) {
    if (ctx.is_none()) return core::windowLength(0, model.config());
    const long long v = ctx.cast<long long>();
    if (v < 2 || v > (1 << 20)) raise("ctx must be between 2 and 1048576 tokens (got " + std::to_string(v) + ")");
    return core::windowLength(static_cast<int>(v), model.config());
}

std::vector<TokenId> textArg(PyModel& model, const py::handle& text, bool bosWindows, int context, int stride) {
    requireTokenModel(model.model());
    std::vector<TokenId> ids;
    std::string where = "text";
    if (py::isinstance<py::str>(text) || pathLike(text)) {
        std::string content;
        if (auto file = pathLike(text)) {
            where = file->string();
            content = unwrap(core::readRegularFile(*file, core::kMaxTextBytes), *file);
        } else {
            content = text.cast<std::string>();
        }
        auto tok = model.tokenizer();
        if (!tok) raise(model.model().folder().string() + ": no tokenizer.json or tokenizer.model (needed for text; give token ids instead)");
        {
            py::gil_scoped_release release;
            ids = tok->encode(content, !bosWindows);
        }
        if (ids.size() < 2) raise(where + ": the text gives fewer than 2 tokens");
        const std::int64_t vocab = model.model().config().vocabSize;
        for (TokenId id : ids) {
            if (id < 0 || id >= vocab) {
                raise(where + ": token id " + std::to_string(id) + " is outside the vocabulary (0.." + std::to_string(vocab - 1) + ")");
            }
        }
    } else {
        if (bosWindows) raise("bos_windows needs text (a str or a text file), not token ids");
        ids = idsArg(text, model.model(), "text");
    }
    if (!bosWindows) return ids;
    return unwrap(core::bosWindows(ids, model.tokenizer().get(), context, stride, where, "stride"));
}

std::vector<TokenId> stopwordIdsArg(PyModel& model, const py::handle& stopwords, const py::handle& stopwordIds) {
    const core::Model& m = model.model();
    if (!stopwordIds.is_none()) return unwrap(core::checkedStopwordIds(idsArg(stopwordIds, m, "stopword_ids"), m.config(), "stopword_ids"));
    auto tok = model.tokenizer();
    if (!tok) raise(m.folder().string() + ": no tokenizer (needed to map stopwords to tokens; give stopword_ids instead)");
    if (stopwords.is_none()) return unwrap(core::stopwordIdsOfWords(*tok, core::englishStopwords(), "the bundled stopword list"));
    if (auto file = pathLike(stopwords)) return unwrap(core::stopwordIdsOfWords(*tok, unwrap(core::loadWordList(file->string()), *file), file->string()));
    if (py::isinstance<py::list>(stopwords) || py::isinstance<py::tuple>(stopwords)) {
        std::vector<std::string> words;
        for (py::handle w : stopwords) {
            if (!py::isinstance<py::str>(w)) throw py::type_error("stopwords must be a list of str");
            words.push_back(w.cast<std::string>());
        }
        if (words.empty()) raise("stopwords: no words given");
        return unwrap(core::stopwordIdsOfWords(*tok, words, "stopwords"));
    }
    throw py::type_error("stopwords must be None (the bundled English list), a list of words or an os.PathLike word list");
}

namespace {

// A list of dicts as JSONL text, so core's parser (and its messages) reads it.
std::string jsonLines(const py::handle& list) {
    py::object dumps = py::module_::import("json").attr("dumps");
    std::string text;
    for (py::handle item : list) {
        if (!py::isinstance<py::dict>(item)) throw py::type_error("tasks and answers must be dicts");
        text += dumps(item).cast<std::string>();
        text += "\n";
    }
    return text;
}

}  // namespace

TasksArg tasksArg(const py::handle& tasks) {
    TasksArg out;
    if (tasks.is_none()) {
        out.tasks = unwrap(core::parseZeroShotTasks(std::string(core::bundledZeroShotTasksText()), "bundled tasks (resources/tasks/bible_mc.jsonl)"));
        out.label = "bundled";
    } else if (py::isinstance<py::list>(tasks) || py::isinstance<py::tuple>(tasks)) {
        out.tasks = unwrap(core::parseZeroShotTasks(jsonLines(tasks), "tasks"));
        out.label = "list";
    } else {
        const auto file = pathArg(tasks, "tasks");
        out.tasks = unwrap(core::loadZeroShotTasks(file.string()), file);
        out.label = file.string();
    }
    if (out.tasks.empty()) raise(out.label + ": no tasks");
    return out;
}

std::vector<core::AnswerTask> answersArg(const py::handle& answers) {
    if (py::isinstance<py::list>(answers) || py::isinstance<py::tuple>(answers)) {
        return unwrap(core::parseAnswerTasks(jsonLines(answers), "answers"));
    }
    const auto file = pathArg(answers, "answers");
    return unwrap(core::loadAnswerTasks(file.string()), file);
}

std::vector<core::SuperWeightCoord> coordsArg(const py::handle& h, const char* what) {
    std::vector<core::SuperWeightCoord> out;
    auto bad = [&](const std::string& item) { raise(std::string(what) + ": '" + item + "' is not LAYER:ROW:COL"); };
    if (py::isinstance<py::str>(h)) {
        // "L:R:C;L:R:C" (also ',' or whitespace between triples), as --super-weights.
        std::string item;
        auto flush = [&] {
            if (item.empty()) return;
            std::vector<std::string> parts(1);
            for (char ch : item) {
                if (ch == ':') parts.emplace_back();
                else parts.back().push_back(ch);
            }
            if (parts.size() != 3) bad(item);
            long long v[3];
            for (int i = 0; i < 3; ++i) {
                const std::string& part = parts[static_cast<std::size_t>(i)];
                if (part.empty() || !std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }) || part.size() > 12) bad(item);
                v[i] = std::stoll(part);
            }
            if (v[0] > (1LL << 30)) bad(item);
            out.push_back({static_cast<int>(v[0]), v[1], v[2]});
            item.clear();
        };
        for (char ch : h.cast<std::string>()) {
            if (ch == ';' || ch == ',' || std::isspace(static_cast<unsigned char>(ch))) flush();
            else item.push_back(ch);
        }
        flush();
    } else {
        for (py::handle t : h) {
            auto seq = py::reinterpret_borrow<py::sequence>(t);
            if (py::len(seq) != 3) bad(py::str(t).cast<std::string>());
            const long long l = seq[0].cast<long long>(), r = seq[1].cast<long long>(), c = seq[2].cast<long long>();
            if (l < 0 || r < 0 || c < 0 || l > (1LL << 30)) bad(py::str(t).cast<std::string>());
            out.push_back({static_cast<int>(l), r, c});
        }
    }
    if (out.empty()) raise(std::string(what) + ": no LAYER:ROW:COL given");
    return out;
}

}  // namespace superlens::python
