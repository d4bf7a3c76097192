#pragma once
// Options shared by the analysis commands (scan, ppl, stopwords, zeroshot,
// study): text input as a file or as token ids, stopword lists, scan
// thresholds, the text-run prologue (analysis_common.cpp) and JSON helpers.

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli_common.h"
#include "superlens/core/tokenizer/token_ids.h"
#include "superlens/core/analysis/bootstrap.h"
#include "superlens/core/analysis/metrics.h"
#include "superlens/core/analysis/report_json.h"
#include "superlens/core/analysis/stopwords.h"
#include "superlens/core/analysis/super_weights.h"

namespace superlens::cli::analysis {

// --text FILE | --text-ids FILE (comma / whitespace separated ids, for models without a tokenizer)
struct TextInput {
    std::string textFile;
    std::string idsFile;
    bool bosWindows = false;  // --bos-windows: every --ctx window of --text starts with BOS
    bool given() const { return !textFile.empty() || !idsFile.empty(); }
};

inline void addTextOptions(CLI::App* cmd, TextInput& o, bool required) {
    auto* t = cmd->add_option("--text", o.textFile, std::string("UTF-8 text file, tokenized with the model's tokenizer (BOS as the tokenizer adds it)") +
                                                       (required ? "" : ""));
    auto* i = cmd->add_option("--text-ids", o.idsFile, "File of token ids (comma or whitespace separated), used exactly as given");
    t->excludes(i);
    cmd->add_flag("--bos-windows", o.bosWindows,
                  "Cut --text into --ctx-token windows that each start with BOS (models whose massive activation lives on BOS, "
                  "like the demo model); default: one BOS, plain sliding windows")
        ->excludes(i);
}

inline core::Result<std::vector<core::TokenId>> parseIdText(const std::string& text, const std::string& where) {
    return core::parseTokenIds(text, 0, where);
}

// Tokens of --text / --text-ids, checked against the vocabulary.
inline core::Result<std::vector<core::TokenId>> loadTextTokens(const TextInput& o, const core::Model& model, const core::Tokenizer* tok) {
    std::vector<core::TokenId> ids;
    if (!o.idsFile.empty()) {
        auto text = readTextFile(o.idsFile);
        if (!text) return text.error();
        auto parsed = parseIdText(*text, o.idsFile);
        if (!parsed) return parsed.error();
        ids = std::move(parsed).value();
    } else {
        if (!tok) return core::Error{model.folder().string() + ": no tokenizer.json or tokenizer.model (needed for --text; give --text-ids FILE instead)"};
        auto text = readTextFile(o.textFile);
        if (!text) return text.error();
        ids = tok->encode(*text, !o.bosWindows);
        if (ids.size() < 2) return core::Error{o.textFile + ": the text gives fewer than 2 tokens"};
    }
    const std::int64_t vocab = model.config().vocabSize;
    for (core::TokenId id : ids) {
        if (id < 0 || id >= vocab) {
            return core::Error{(o.idsFile.empty() ? o.textFile : o.idsFile) + ": token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                               std::to_string(vocab - 1) + ")"};
        }
    }
    return ids;
}

// --ctx, or core's default window when not given.
inline int windowLength(int requested, const core::Model& model) { return core::windowLength(requested, model.config()); }

// With --bos-windows, the text ids (loaded without BOS) as BOS-started
// windows of `context` tokens (core::bosWindows); otherwise the ids unchanged.
inline core::Result<std::vector<core::TokenId>> applyBosWindows(const TextInput& o, std::vector<core::TokenId> ids,
                                                                const core::Tokenizer* tok, int context, int stride) {
    if (!o.bosWindows) return ids;
    return core::bosWindows(ids, tok, context, stride, o.textFile, "--stride");
}


// The start every command that measures a text shares (ppl, stopwords, the
// studies): the prepared model (prepareModel), the window
// length (--ctx or core's default), the text's tokens (BOS windows with
// --bos-windows), and the edits parsed and checked.
// keep_super is resolved by resolveKeepSuper below, once the command knows
// its scan input. A rule about any of these lives here once.
struct PreparedTextRun : PreparedModel {
    int context = 0;
    std::vector<core::TokenId> tokens;
    std::vector<core::EditSpec> edits;  // keep_super unresolved until resolveKeepSuper
    // Resolves keep_super in `edits` by a scan of `scanTokens`, by default
    // the text's head (core::scanInputHead, DESIGN.md).
    core::Status resolveKeepSuper(const std::vector<core::TokenId>& scanTokens = {});
};
// The options of a text run, spelled the same in every command that has one.
struct TextRunOptions {
    std::string model;
    TextInput text;
    EditOptions edits;
    ComputeOptions compute;
    int context = 0;  // --ctx; 0 = core's default window (core::windowLength)
    int stride = 0;   // --stride; 0 = --ctx (non-overlapping windows)
};
// MODEL, --text / --text-ids / --bos-windows, --edit / --edits, --compute,
// --ctx (`ctxHelp` says what the window is for) and, with `stride`, --stride.
void addTextRunOptions(CLI::App* cmd, TextRunOptions& o, const std::string& ctxHelp, bool stride = true);
// Usage problems found before the model is opened (exit 2): no --text, or
// --stride longer than --ctx. Returns 0 when there is none.
int checkTextRunUsage(const TextRunOptions& o, const std::string& command);
// The prepared text run of these options (BOS windows cut with --stride). A
// --stride longer than the model's default window is an error here.
core::Result<PreparedTextRun> prepareTextRun(const TextRunOptions& o);

// A study's own --prompt TEXT | --ids 1,2,3 (the input it scans or profiles,
// beside its --text), mutually exclusive, with each command's help text.
inline void addStudyInputOptions(CLI::App* cmd, InputOptions& o, const std::string& promptHelp, const std::string& idsHelp) {
    auto* p = cmd->add_option("--prompt", o.prompt, promptHelp);
    auto* i = cmd->add_option("--ids", o.ids, idsHelp);
    p->excludes(i);
    p->each([&o](const std::string&) { o.hasPrompt = true; });
    i->each([&o](const std::string&) { o.hasIds = true; });
}

// --ci LEVEL --bootstrap N: percentile-bootstrap intervals (core/analysis/bootstrap.h).
inline void addBootstrapOptions(CLI::App* cmd, core::BootstrapOptions& o) {
    cmd->add_option("--ci", o.level, "Confidence level of the intervals (default 0.95)")->check(CLI::Range(0.0, 1.0));
    cmd->add_option("--bootstrap", o.resamples, "Bootstrap resamples for the intervals (default 1000; 0 = no intervals)")
        ->check(CLI::Range(0, 1000000));
}

inline nlohmann::json intervalJson(const core::Interval& i) {
    if (!i.valid()) return nullptr;
    return nlohmann::json::array({i.lo, i.hi});
}

// "ci": {level, resamples, seed}, or null when intervals are off.
inline nlohmann::json ciJson(const core::BootstrapOptions& b) {
    if (!b.enabled()) return nullptr;
    return {{"level", b.level}, {"resamples", b.resamples}, {"seed", b.seed}};
}

// " [lo, hi] (95% CI)" for the text output; empty when intervals are off or undefined.
inline std::string intervalText(const core::Interval& i, const core::BootstrapOptions& b) {
    if (!b.enabled() || !i.valid()) return "";
    char buf[128];
    std::snprintf(buf, sizeof buf, " [%.6g, %.6g] (%g%% CI)", i.lo, i.hi, b.level * 100.0);
    return buf;
}

// --stopwords FILE | --stopword-ids 1,2,3 (default: the bundled English list)
struct StopwordInput {
    std::string file;
    std::string ids;
};

inline void addStopwordOptions(CLI::App* cmd, StopwordInput& o) {
    auto* f = cmd->add_option("--stopwords", o.file, "Stopword list, one word per line ('#' comments); default: the bundled English list");
    auto* i = cmd->add_option("--stopword-ids", o.ids, "Stopword token ids (separated by commas and/or spaces), for models without a tokenizer");
    f->excludes(i);
}

inline core::Result<std::vector<core::TokenId>> resolveStopwordIds(const StopwordInput& o, const core::Model& model, const core::Tokenizer* tok) {
    if (!o.ids.empty()) {
        auto parsed = core::parseTokenIds(o.ids, 0, "--stopword-ids");
        if (!parsed) return parsed.error();
        return core::checkedStopwordIds(std::move(parsed).value(), model.config(), "--stopword-ids");
    }
    if (!tok) return core::Error{model.folder().string() + ": no tokenizer (needed to map stopwords to tokens; give --stopword-ids instead)"};
    if (o.file.empty()) return core::stopwordIdsOfWords(*tok, core::englishStopwords(), "the bundled stopword list");
    auto words = core::loadWordList(o.file);
    if (!words) return words.error();
    return core::stopwordIdsOfWords(*tok, *words, o.file);
}

// Scan thresholds (SuperWeightScanOptions), spelled the same in every command.
inline void addScanOptions(CLI::App* cmd, core::SuperWeightScanOptions& o) {
    cmd->add_option("--output-ratio", o.outputRatio, "Scan: down_proj output spike / layer median needed (default 50)")->check(CLI::PositiveNumber);
    cmd->add_option("--input-ratio", o.inputRatio, "Scan: down_proj input spike / layer median needed (default 20)")->check(CLI::PositiveNumber);
    cmd->add_option("--resid-ratio", o.residRatio, "Scan: residual spike / layer median needed by the persistence guard (default 50)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--max-iterations", o.maxIterations, "Scan: most super weights to find (default 16)")->check(CLI::Range(0, 100000));
}

inline nlohmann::json editsJson(const std::vector<core::EditSpec>& edits) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& e : edits) j.push_back(e.text());
    return j;
}

// A study's output: with --json its document with the base "edits" and the
// "markdown" table added, else the table alone.
inline int printStudy(nlohmann::json document, const std::string& markdown, const std::vector<core::EditSpec>& edits, bool json) {
    if (json) {
        document["edits"] = editsJson(edits);
        document["markdown"] = markdown;
        printJson(document);
    } else {
        std::fwrite(markdown.data(), 1, markdown.size(), stdout);
        std::fflush(stdout);
    }
    return kExitOk;
}

// One super weight's record (core/analysis/report_json.h).
inline nlohmann::json superWeightJson(const core::SuperWeight& sw, const core::Model& model) {
    return nlohmann::json::parse(core::superWeightJson(sw, model));
}

// Parses "L:R:C;L:R:C" (also ',' between triples).
inline core::Result<std::vector<core::SuperWeightCoord>> parseCoordList(const std::string& text, const std::string& option) {
    std::vector<core::SuperWeightCoord> out;
    std::string item;
    auto flush = [&]() -> core::Status {
        if (item.empty()) return {};
        long long v[3];
        int n = 0;
        std::size_t start = 0;
        while (n < 3) {
            const auto colon = item.find(':', start);
            const std::string part = item.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
            try {
                std::size_t used = 0;
                v[n] = std::stoll(part, &used);
                if (used != part.size() || v[n] < 0) throw std::invalid_argument("bad");
            } catch (const std::exception&) {
                return core::Error{option + ": '" + item + "' is not LAYER:ROW:COL"};
            }
            ++n;
            if (colon == std::string::npos) break;
            start = colon + 1;
        }
        if (n != 3 || item.find(':', start) != std::string::npos) return core::Error{option + ": '" + item + "' is not LAYER:ROW:COL"};
        out.push_back({static_cast<int>(v[0]), v[1], v[2]});
        item.clear();
        return {};
    };
    for (char ch : text) {
        if (ch == ';' || ch == ',' || std::isspace(static_cast<unsigned char>(ch))) {
            SL_TRY(flush());
        } else {
            item.push_back(ch);
        }
    }
    SL_TRY(flush());
    if (out.empty()) return core::Error{option + ": no LAYER:ROW:COL given"};
    return out;
}

}  // namespace superlens::cli::analysis
