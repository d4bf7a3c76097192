// superlens-cli study laser MODEL (--text FILE | --text-ids FILE) [--tasks FILE | --no-tasks] [--answers FILE]
//     [--types gate,up,...] [--layers 0,2-5] [--rhos 0.01,0.05,...] [--ctx N] [--stride S] [--max-tokens N]
//     [--ci LEVEL] [--bootstrap N] [--mask-fraction F] [--mask-seed S] [--edit E]... [--json | --markdown | --csv]
// On a bidirectional encoder (RoBERTa, BERT) the text is measured by
// masked-token accuracy and loss (core::maskedLmWindows) instead of perplexity.
// superlens-cli study quant MODEL (--text FILE | --text-ids FILE) [--tasks FILE | --no-tasks] [--answers FILE]
//     [--bits B] [--blocks 64,128,...,tensor] [--pattern P] [--super-weights L:R:C;... | --no-keep-super]
//     [--zclip Z] [--pclip P] [--act-bits B [--act-pattern P] [--act-blocks token,tensor,...]]
//     [--ctx N] [--stride S] [--max-tokens N] [--ci LEVEL] [--bootstrap N] [--edit E]... [--json | --markdown | --csv]
//
// LASER sweeps (matrix type x layer x rho) and the super-weight paper's
// Fig. 7 quantization sweep (block size x plain / keep_super), measured by
// perplexity, zero-shot accuracy and LASER's answer-token loss
// (core/analysis/compression_study.h; formats in docs/COMPRESSION.md).
//
// The `study` parent command belongs to cmd_study.cpp (order 90); these
// children are added at order 91, creating the parent if it is missing.

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "analysis_common.h"
#include "superlens/core/analysis/bundled_resources.h"
#include "superlens/core/analysis/compression_study.h"
#include "superlens/core/analysis/super_weights.h"

namespace superlens::cli {
namespace {

enum class Format { Markdown, Json, Csv };

struct CommonOptions {
    analysis::TextRunOptions run;
    std::string tasks;
    bool noTasks = false;
    std::string answers;
    std::int64_t maxTokens = 0;
    core::BootstrapOptions bootstrap;
    core::MaskedLmOptions maskedLm;  // encoders' text measure
    bool json = false, markdown = false, csv = false;
    Format format() const { return json ? Format::Json : csv ? Format::Csv : Format::Markdown; }
};

struct LaserCliOptions : CommonOptions {
    std::string types, layers, rhos;
};

struct QuantCliOptions : CommonOptions {
    int bits = 4;
    std::string blocks;
    std::string pattern;  // empty: every block matrix (the model's layerTensorPattern)
    std::string superWeights;
    std::string superActivations;
    bool noKeepSuper = false;
    double zclip = 0, pclip = 0;
    int actBits = 0;
    std::string actPattern = "blocks.*.hook_resid_post";
    std::string actBlocks = "token,tensor";
    core::SuperWeightScanOptions scan;
};

core::Result<std::int64_t> parseInt(const std::string& s, const std::string& option) {
    try {
        std::size_t used = 0;
        const long long v = std::stoll(s, &used);
        if (used != s.size()) throw std::invalid_argument(s);
        return static_cast<std::int64_t>(v);
    } catch (const std::exception&) {
        return core::Error{option + ": '" + s + "' is not an integer"};
    }
}

// Progress on stderr only when it is a terminal: scripts get clean streams.
struct TerminalProgress {
    core::RunControl control;
    TerminalProgress() {
        if (isatty(STDERR_FILENO)) {
            control.setProgressCallback([](std::int64_t done, std::int64_t total, const char* stage) {
                std::fprintf(stderr, "\r%s %lld/%lld", stage, static_cast<long long>(done), static_cast<long long>(total));
                if (done == total) std::fprintf(stderr, "\n");
                std::fflush(stderr);
            });
        }
    }
};

// Everything both studies need: model, tokens, tasks, answers, base edits.
struct Prepared {
    analysis::PreparedTextRun run;  // model, tokenizer, engine, base edits
    std::vector<core::ZeroShotTask> tasks;
    std::vector<core::AnswerTask> answers;
    core::CompressionStudyInputs inputs;
};

core::Result<std::unique_ptr<Prepared>> prepare(const CommonOptions& o) {
    auto p = std::make_unique<Prepared>();
    auto run = analysis::prepareTextRun(o.run);
    if (!run) return run.error();
    p->run = std::move(run).value();
    std::vector<core::TokenId>& tokens = p->run.tokens;
    if (o.maxTokens > 0 && static_cast<std::int64_t>(tokens.size()) > o.maxTokens) tokens.resize(static_cast<std::size_t>(o.maxTokens));
    const core::Model& m = *p->run.model;
    const core::Tokenizer* tok = p->run.tokenizer.get();
    p->inputs.textTokens = tokens;
    p->inputs.tokenizer = tok;
    p->inputs.perplexity.context = p->run.context;
    p->inputs.perplexity.stride = o.run.stride;
    p->inputs.bootstrap = o.bootstrap;
    p->inputs.maskedLm = o.maskedLm;
    SL_TRY(core::validate(o.bootstrap));

    auto studyTasks = core::studyZeroShotTasks(o.tasks, o.noTasks, tok, m.folder().string(), m.config().causal);
    if (!studyTasks) return studyTasks.error();
    p->tasks = std::move(studyTasks->tasks);
    if (!p->tasks.empty()) p->inputs.tasks = &p->tasks;
    if (!o.answers.empty()) {
        auto a = core::loadAnswerTasks(o.answers);
        if (!a) return a.error();
        p->answers = std::move(a).value();
        for (std::size_t i = 0; i < p->answers.size(); ++i) {
            auto seq = core::tokenizeAnswerTask(p->answers[i], tok);
            if (!seq) return core::Error{o.answers + ": answer " + std::to_string(i + 1) + ": " + seq.error().message};
        }
        p->inputs.answers = &p->answers;
    }
    // The scan input for keep_super in base edits: the (cut) text's head.
    SL_TRY(p->run.resolveKeepSuper());
    return p;
}

int emit(Format f, const std::string& json, const std::string& md, const std::string& csv) {
    if (f == Format::Json) std::cout << json << std::endl;
    else if (f == Format::Csv) std::cout << csv;
    else std::cout << md;
    std::cout.flush();
    return kExitOk;
}

int runLaser(const LaserCliOptions& o) {
    auto p = prepare(o);
    if (!p) return fail(p.error());
    Prepared& pr = **p;
    core::LaserStudyOptions so;
    so.types = core::splitListItems(o.types);
    for (const auto& t : so.types) {
        auto name = core::laserTensorName(*pr.run.model, t, 0);
        if (!name) return fail("--types: " + name.error().message);
    }
    if (!o.layers.empty()) {
        auto l = core::parseLayerList(o.layers, pr.run.model->config().numLayers, "--layers");
        if (!l) return fail(l.error());
        so.layers = std::move(l).value();
    }
    if (!o.rhos.empty()) {
        auto r = core::parseRhoList(o.rhos, "--rhos");
        if (!r) return fail(r.error());
        so.rhos = std::move(r).value();
    }
    TerminalProgress progress;
    auto study = core::studyLaser(*pr.run.engine, pr.inputs, pr.run.edits, so, progress.control);
    if (!study) return fail(study.error());
    return emit(o.format(), study->toJson(), study->markdown(), study->csv());
}

int runQuant(const QuantCliOptions& options) {
    auto p = prepare(options);
    if (!p) return fail(p.error());
    Prepared& pr = **p;
    QuantCliOptions o = options;
    if (o.pattern.empty()) o.pattern = pr.run.model->layerTensorPattern();
    core::QuantStudyOptions so;
    so.bits = o.bits;
    so.pattern = o.pattern;
    if (!o.blocks.empty()) {
        auto b = core::parseBlockSizes(o.blocks, "--blocks", false);
        if (!b) return fail(b.error());
        so.blocks = std::move(b).value();
    }
    if (o.zclip > 0) so.zclip = o.zclip;
    if (o.pclip > 0) so.pclip = o.pclip;
    so.actBits = o.actBits;
    so.actPattern = o.actPattern;
    if (!o.superActivations.empty()) {
        for (const auto& item : core::splitListItems(o.superActivations)) {
            const auto colon = item.find(':');
            auto t = parseInt(item.substr(0, colon), "--super-activations");
            auto c = colon == std::string::npos ? core::Result<std::int64_t>(core::Error{"--super-activations: '" + item + "' is not TOKEN:CHANNEL"})
                                                : parseInt(item.substr(colon + 1), "--super-activations");
            if (!t || !c || *t < 0 || *c < 0 || *c >= pr.run.model->config().hiddenSize) {
                return fail("--super-activations: '" + item + "' is not TOKEN:CHANNEL with a channel below " + std::to_string(pr.run.model->config().hiddenSize));
            }
            so.superActivations.push_back({*t, *c});
        }
    }
    if (o.actBits) {
        auto b = core::parseBlockSizes(o.actBlocks, "--act-blocks", true);
        if (!b) return fail(b.error());
        so.actBlocks = std::move(b).value();
    }
    // Clear errors before any scan.
    if (auto v = core::validateQuantStudyPatterns(*pr.run.model, so); !v) return fail(v.error());
    // Super weights: --super-weights, else a scan of the text's head.
    if (!o.noKeepSuper) {
        if (!o.superWeights.empty()) {
            auto coords = analysis::parseCoordList(o.superWeights, "--super-weights");
            if (!coords) return fail(coords.error());
            so.superWeights = std::move(coords).value();
            if (auto v = core::validateQuantStudySuperWeights(*pr.run.model, so); !v) return fail("--super-weights: " + v.error().message);
        } else if (auto found = core::findQuantStudySuperWeights(*pr.run.engine, core::scanInputHead(pr.inputs.textTokens), pr.run.edits, o.scan, so); !found) {
            return fail(found.error());
        }
    }
    TerminalProgress progress;
    auto study = core::studyQuant(*pr.run.engine, pr.inputs, pr.run.edits, so, progress.control);
    if (!study) return fail(study.error());
    return emit(o.format(), study->toJson(), study->markdown(), study->csv());
}

void addCommon(CLI::App* cmd, CommonOptions& o) {
    analysis::addTextRunOptions(cmd, o.run, "Perplexity window");
    cmd->add_option("--tasks", o.tasks, "Zero-shot tasks JSONL (default: the bundled set when the model has a tokenizer)");
    cmd->add_flag("--no-tasks", o.noTasks, "Skip the zero-shot measure");
    cmd->add_option("--answers", o.answers, "LASER's answer set: JSONL {\"context\",\"answer\"} (or context_ids/answer_ids); measures mean answer-token NLL");
    cmd->add_option("--max-tokens", o.maxTokens, "Use only the text's first N tokens (faster sweeps)")->check(CLI::Range(2, 1 << 30));
    analysis::addBootstrapOptions(cmd, o.bootstrap);
    cmd->add_option("--mask-fraction", o.maskedLm.fraction,
                    "Encoders (text measure = masked-token accuracy and loss): share of each window's non-special tokens masked (default 0.15)")
        ->check(CLI::Range(1e-9, 1.0));
    cmd->add_option("--mask-seed", o.maskedLm.seed, "Encoders: seed of the masked positions (default 0x6d61736b; docs/COMPRESSION.md)");
    auto* j = cmd->add_flag("--json", o.json, "Print one JSON document (cells/points, heatmap or plot data)");
    auto* m = cmd->add_flag("--markdown", o.markdown, "Print a Markdown table (the default)");
    auto* c = cmd->add_flag("--csv", o.csv, "Print CSV with a header row");
    j->excludes(m)->excludes(c);
    m->excludes(c);
}

CLI::App* studyParent(CLI::App& app) {
    // cmd_study.cpp owns `study` (order 90); build it here only when that
    // file is not linked, so either way `study laser|quant` exists.
    try {
        return app.get_subcommand("study");
    } catch (const CLI::OptionNotFound&) {
        CLI::App* study = app.add_subcommand("study", "Paper studies: laser and quant");
        study->require_subcommand(1);
        return study;
    }
}

}  // namespace

const CommandRegistration kRegistration(91, [](CLI::App& app, CliContext& ctx) {
    CLI::App* study = studyParent(app);

    auto laser = std::make_shared<LaserCliOptions>();
    CLI::App* lc = study->add_subcommand("laser", "LASER rank reduction sweep: matrix type x layer x rho (ppl, zero-shot, answer loss; encoders: masked-token accuracy and loss)");
    addCommon(lc, *laser);
    lc->add_option("--types", laser->types, "Matrix types, comma separated: gate,up,down,q,k,v,o (Phi-3: qkv,gate_up); default all");
    lc->add_option("--layers", laser->layers, "Layers, e.g. 0,2-5 (default all)");
    lc->add_option("--rhos", laser->rhos, "Fractions of the maximal rank kept (default 0.01,0.05,0.1,0.25,0.5,0.9)");
    lc->callback([&ctx, laser] {
        ctx.run = [laser] {
            if (int usage = analysis::checkTextRunUsage(laser->run, "study laser")) return usage;
            return runLaser(*laser);
        };
    });

    auto quant = std::make_shared<QuantCliOptions>();
    CLI::App* qc = study->add_subcommand("quant", "RTN quantization vs block size, with and without the super weights (paper Fig. 7)");
    addCommon(qc, *quant);
    qc->add_option("--bits", quant->bits, "Weight bits (default 4)")->check(CLI::Range(2, 8));
    qc->add_option("--blocks", quant->blocks, "Block sizes, e.g. 64,128,1024,tensor (default 64..1048576 and tensor)");
    qc->add_option("--pattern", quant->pattern, "Weights quantized (default: every linear weight of the blocks, e.g. model.layers.* or transformer.h.*)");
    auto* sw = qc->add_option("--super-weights", quant->superWeights, "Super weights kept, LAYER:ROW:COL;... (default: a scan of the text's first 128 tokens)");
    auto* nk = qc->add_flag("--no-keep-super", quant->noKeepSuper, "Only plain RTN (no scan, no keep_super series)");
    sw->excludes(nk);
    qc->add_option("--zclip", quant->zclip, "Clip each block to mean +- Z sigma first")->check(CLI::PositiveNumber);
    qc->add_option("--pclip", quant->pclip, "Clip each block to its [100-P, P] percentiles first")->check(CLI::Range(50.000001, 100.0));
    qc->add_option("--act-bits", quant->actBits, "Also sweep activation RTN at B bits (plain and keeping the super activations)")->check(CLI::Range(2, 16));
    qc->add_option("--act-pattern", quant->actPattern, "Hooks quantized by --act-bits (default blocks.*.hook_resid_post)");
    qc->add_option("--act-blocks", quant->actBlocks, "Activation blocks: token, tensor or N channels (default token,tensor)");
    qc->add_option("--super-activations", quant->superActivations,
                   "Activations kept by --act-bits, TOKEN:CHANNEL;... (default: token 0 and the scan's positions, channel = each super weight's row)");
    analysis::addScanOptions(qc, quant->scan);
    qc->callback([&ctx, quant] {
        ctx.run = [quant] {
            if (int usage = analysis::checkTextRunUsage(quant->run, "study quant")) return usage;
            return runQuant(*quant);
        };
    });
});

}  // namespace superlens::cli
