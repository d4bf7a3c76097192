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

TokenInput tokensArg(PyModel& model, const py::handle& input, const char* what) {
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

std::vector<core::EditSpec> editsArg(const core::Model& model, const py::handle& edits, std::int64_t tokenCount) {
    std::vector<core::EditSpec> out;
    if (edits.is_none()) return out;
    if (auto file = pathLike(edits)) {
        auto fromFile = unwrap(core::loadEditsFile(*file), *file);
        for (auto& e : fromFile) {
            check(core::validateEdit(e, model, tokenCount));
            out.push_back(std::move(e));
        }
        return out;
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

std::vector<core::EditSpec> resolveKeepSuper(core::Engine& engine, const std::vector<TokenId>& tokens, std::vector<core::EditSpec> edits) {
    const bool needed = std::any_of(edits.begin(), edits.end(), [](const core::EditSpec& e) {
        return e.needsSuperWeightScan() || e.needsSuperActivationScan();
    });
    if (!needed) return edits;
    core::Result<std::vector<core::EditSpec>> r = core::Error{""};
    {
        py::gil_scoped_release release;
        r = core::resolveKeepSuperFromScan(engine, tokens, std::move(edits));
    }
    return unwrap(std::move(r));
}

std::vector<TokenId> scanHead(const std::vector<TokenId>& tokens) {
    return {tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(128, tokens.size()))};
}

int windowLength(const py::object& ctx, const core::Model& model) {
    if (!ctx.is_none()) {
        const long long v = ctx.cast<long long>();
        if (v < 2 || v > (1 << 20)) raise("ctx must be between 2 and 1048576 tokens (got " + std::to_string(v) + ")");
        return static_cast<int>(v);
    }
    return static_cast<int>(std::min<std::int64_t>(512, std::max<std::int64_t>(2, model.config().maxPositionEmbeddings)));
}

std::vector<TokenId> textArg(PyModel& model, const py::handle& text, bool bosWindows, int context, int stride) {
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
    auto tok = model.tokenizer();
    if (!tok || !tok->bosId()) raise(where + ": bos_windows needs a tokenizer with a BOS token");
    if (stride != 0 && stride != context) raise("bos_windows needs stride equal to ctx (windows must not overlap)");
    return core::bosPrefixedWindows(ids, *tok->bosId(), context);
}

std::vector<TokenId> stopwordIdsArg(PyModel& model, const py::handle& stopwords, const py::handle& stopwordIds) {
    const core::Model& m = model.model();
    if (!stopwordIds.is_none()) {
        std::vector<TokenId> ids = idsArg(stopwordIds, m, "stopword_ids");
        if (ids.empty()) raise("stopword_ids: no token ids given");
        std::sort(ids.begin(), ids.end());
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
        return ids;
    }
    auto tok = model.tokenizer();
    if (!tok) raise(m.folder().string() + ": no tokenizer (needed to map stopwords to tokens; give stopword_ids instead)");
    std::vector<std::string> words;
    std::string origin = "the bundled stopword list";
    if (stopwords.is_none()) {
        words = core::englishStopwords();
    } else if (auto file = pathLike(stopwords)) {
        words = unwrap(core::loadWordList(file->string()), *file);
        origin = file->string();
    } else if (py::isinstance<py::list>(stopwords) || py::isinstance<py::tuple>(stopwords)) {
        for (py::handle w : stopwords) {
            if (!py::isinstance<py::str>(w)) throw py::type_error("stopwords must be a list of str");
            words.push_back(w.cast<std::string>());
        }
        origin = "stopwords";
        if (words.empty()) raise("stopwords: no words given");
    } else {
        throw py::type_error("stopwords must be None (the bundled English list), a list of words or an os.PathLike word list");
    }
    std::vector<TokenId> ids = core::stopwordTokenIds(*tok, words);
    if (ids.empty()) raise(origin + ": no word is a single token of this tokenizer");
    return ids;
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
