// superlens-cli capture MODEL (--prompt TEXT | --ids 1,2,3 | --prompts FILE | --image FILE | --pixels FILE.npy) --out FILE.h5
//                       [--hooks PATTERN]... [--edit E]... [--edits FILE] [--compress none|gzip1|...]
//                       [--all-positions] [--sync always|replace|never] [--json]
//
// Records hooks of one forward pass per prompt into an HDF5 activation cache
// (docs/CACHE.md), appending to FILE.h5 when it exists; vision models record
// an image run (its pixel values stored beside the hooks). Each hook is written
// as the engine produces it, so memory does not grow with the hooks recorded.
// A run already in the file for the same model, input, edits and hooks is reused, not recomputed:
// a note on stderr says so, and "reused": true in the JSON. All runs of one
// command are committed together: on any error the file stays as it was.
//
// JSON: {"file", "runs": [{"run", "reused", "prompt", "ids", "edits", "hooks"}],
//        "new_runs", "reused_runs", "bytes", "raw_bytes", "compression", "rebased"}

#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>

#include "cli_common.h"
#include "superlens/core/cache/activation_cache.h"

namespace superlens::cli {
namespace {

struct CaptureOptions {
    std::string model;
    InputOptions input;
    std::string promptsFile;
    std::string out;
    std::vector<std::string> hooks;
    EditOptions edits;
    ComputeOptions compute;
    std::string compress = "none";
    bool allPositions = false;
    std::string sync = "replace";
    bool json = false;
};

struct Input {
    std::string prompt;  // "" for --ids and images
    std::vector<core::TokenId> tokens;
    std::shared_ptr<const core::PixelTensor> pixels;  // vision models
    std::int64_t positions(const core::ModelConfig& c) const {
        return core::inputPositions(c, tokens, pixels.get());
    }
};

core::Result<std::vector<Input>> resolveInputs(const CaptureOptions& o, const core::Model& model, const core::Tokenizer* tok) {
    std::vector<Input> inputs;
    if (o.promptsFile.empty() && (o.input.hasPicture() || model.config().pixelInput)) {
        auto pixels = resolvePixels(o.input, model);
        if (!pixels) return pixels.error();
        inputs.push_back({std::string(), {}, std::move(pixels).value()});
        return inputs;
    }
    if (o.promptsFile.empty()) {
        auto ids = resolveTokens(o.input, model, tok);
        if (!ids) return ids.error();
        inputs.push_back({o.input.hasPrompt ? o.input.prompt : std::string(), std::move(ids).value(), nullptr});
        return inputs;
    }
    auto prompts = readPromptsFile(o.promptsFile, model, tok);
    if (!prompts) return prompts.error();
    for (auto& p : *prompts) inputs.push_back({std::move(p.text), std::move(p.ids), nullptr});
    return inputs;
}

// MemAvailable from /proc/meminfo; nullopt when unknown.
std::optional<std::uint64_t> availableMemoryBytes() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    std::uint64_t kb = 0;
    std::string unit;
    while (in >> key >> kb >> unit) {
        if (key == "MemAvailable:") return kb * 1024;
    }
    return std::nullopt;
}

std::string megabytes(std::uint64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
    return buf;
}

int runCapture(const CaptureOptions& o) {
    auto compression = core::CacheCompression::parse(o.compress);
    if (!compression) return usageError("--compress: " + compression.error().message);
    auto sync = core::parseCacheSync(o.sync);
    if (!sync) return usageError("--sync: " + sync.error().message);

    // Token strings and the vocabulary go into the file when a tokenizer
    // exists; an ids-only model is still captured (DESIGN.md).
    auto prepared = prepareModel(o.model, engineOptions(o.compute), o.input.hasPrompt ? "--prompt" : !o.promptsFile.empty() ? "--prompts" : "");
    if (!prepared) return fail(prepared.error());
    const core::Model& m = *prepared->model;
    const core::Tokenizer* tok = prepared->tokenizer.get();
    core::Engine& engine = *prepared->engine;

    const core::HookSelection selection = o.hooks.empty() ? core::HookSelection::captureDefault() : core::HookSelection::patterns(o.hooks);
    if (auto valid = selection.validate(hookLayoutOf(m.config())); !valid) return fail(valid.error());

    auto inputs = resolveInputs(o, m, tok);
    if (!inputs) return fail(inputs.error());

    core::CacheWriteOptions wopts;
    wopts.compression = *compression;
    wopts.sync = *sync;
    auto writer = core::ActivationCacheWriter::open(o.out, core::CacheModelInfo::fromModel(m, tok), wopts);
    if (!writer) return fail(writer.error());

    const auto hookPoints = selection.resolve(hookLayoutOf(m.config()));
    struct Done {
        const Input* input;
        std::vector<std::string> edits;
        int run;
        bool reused;
    };
    std::vector<Done> done;
    bool copyPending = (*writer)->targetExisted();
    std::uint64_t pendingBytes = 0;
    for (const Input& in : *inputs) {
        const std::int64_t T = in.positions(m.config());
        auto resolved = prepared->editsFor(o.edits, in.tokens, in.pixels);
        if (!resolved) return fail(resolved.error());

        core::ForwardRequest req;
        req.tokens = in.tokens;
        req.pixels = in.pixels;
        req.edits = std::move(resolved).value();
        req.record = selection;
        req.allPositionLogits = o.allPositions;

        // Refuse before computing when memory or disk cannot hold the result.
        if (!(*writer)->findRun(core::CacheRunKey::forRequest(req, engine))) {
            std::uint64_t need = core::estimateRunBytes(m.config(), T, hookPoints, o.allPositions);
            if (in.pixels) need += in.pixels->values.size() * sizeof(float);
            // Hooks are streamed to the file one at a time: memory needs the
            // largest single hook, disk all of them.
            const std::uint64_t largest = core::estimateLargestHookBytes(m.config(), T, hookPoints);
            if (const auto avail = availableMemoryBytes(); avail && largest > *avail) {
                return fail(o.out + ": one of these hooks for " + std::to_string(T) + " positions needs about " + megabytes(largest) +
                            " of memory, " + megabytes(*avail) +
                            " are available: record fewer hooks (e.g. --hooks 'blocks.*.hook_resid_post') or use a shorter prompt");
            }
            if (copyPending) {
                std::error_code ec;
                need += std::filesystem::file_size(o.out, ec);
                copyPending = false;
            }
            pendingBytes += need;
            const auto folder = std::filesystem::absolute(o.out).parent_path();
            if (const auto free = core::freeDiskBytes(folder); free && pendingBytes > *free) {
                return fail(o.out + ": not enough disk space: the capture needs about " + megabytes(pendingBytes) + ", " + folder.string() +
                            " has " + megabytes(*free) + " free" +
                            ((*writer)->targetExisted() ? " (the existing file is unchanged)" : " (nothing was written)"));
            }
        }
        auto outcome = core::captureRun(**writer, engine, req, in.prompt, tok);
        if (!outcome) return fail(outcome.error());
        std::vector<std::string> editTexts;
        for (const auto& e : req.edits) editTexts.push_back(e.text());
        if (outcome->reused) {
            std::fflush(stdout);
            std::cerr << "superlens-cli: note: run " << outcome->run << " of " << o.out
                      << " already holds this capture (same model, tokens, edits and hooks): reused, not recomputed" << std::endl;
        }
        done.push_back({&in, std::move(editTexts), outcome->run, outcome->reused});
    }
    auto committed = (*writer)->commit();
    if (!committed) return fail(committed.error());
    // A rebase (another writer committed meanwhile) renumbers the new runs.
    std::size_t next = 0;
    for (auto& d : done) {
        if (!d.reused && next < committed->appendedRuns.size()) d.run = committed->appendedRuns[next++];
    }

    int newRuns = 0, reusedRuns = 0;
    for (const auto& d : done) (d.reused ? reusedRuns : newRuns)++;
    std::vector<std::string> hookNames;
    for (const auto& p : hookPoints) hookNames.push_back(core::hookName(p));
    if (o.json) {
        nlohmann::json j;
        j["file"] = o.out;
        j["runs"] = nlohmann::json::array();
        for (const auto& d : done) {
            j["runs"].push_back({{"run", d.run}, {"reused", d.reused}, {"prompt", d.input->prompt}, {"ids", d.input->tokens}, {"positions", d.input->positions(m.config())},
                                 {"edits", d.edits}, {"hooks", hookNames}});
        }
        j["new_runs"] = newRuns;
        j["reused_runs"] = reusedRuns;
        j["bytes"] = committed->fileBytes;
        j["raw_bytes"] = committed->rawBytes;
        j["compression"] = compression->text();
        j["rebased"] = committed->rebased;
        printJson(j);
        return kExitOk;
    }
    for (const auto& d : done) {
        std::printf("run %d: %lld %s, %zu hooks%s\n", d.run, static_cast<long long>(d.input->positions(m.config())),
                    d.input->pixels ? "image positions" : "tokens", hookNames.size(), d.reused ? " (reused)" : "");
    }
    std::printf("%s: %d new run%s, %d reused, %s on disk%s\n", o.out.c_str(), newRuns, newRuns == 1 ? "" : "s", reusedRuns,
                megabytes(committed->fileBytes).c_str(), committed->wroteFile ? "" : " (unchanged)");
    return kExitOk;
}

}  // namespace

const CommandRegistration kRegistration(100, [](CLI::App& app, CliContext& ctx) {
    auto opts = std::make_shared<CaptureOptions>();
    CLI::App* cmd = app.add_subcommand("capture", "Record hook activations of one or more prompts into an HDF5 cache (appends, reuses)");
    cmd->add_option("MODEL", opts->model, "Hugging Face model folder")->required();
    addInputOptions(cmd, opts->input);
    auto* prompts = cmd->add_option("--prompts", opts->promptsFile, "Text file with one prompt per line (one run each)");
    prompts->excludes("--prompt")->excludes("--ids");
    cmd->add_option("--out", opts->out, "HDF5 file to create or append to")->required();
    cmd->add_option("--hooks", opts->hooks,
                    "Hook name pattern to record (repeatable; '*' matches dots too). Default: the GUI's set, including "
                    "blocks.*.mlp.hook_post, blocks.*.hook_mlp_out, blocks.*.hook_resid_post")
        ->take_all();
    addEditOptions(cmd, opts->edits);
    addComputeOption(cmd, opts->compute);
    cmd->add_option("--compress", opts->compress, "none (default), gzip1..gzip9 or shuffle-gzip1..9");
    cmd->add_flag("--all-positions", opts->allPositions, "Store the logits of every position, not just the last");
    cmd->add_option("--sync", opts->sync,
                    "fsync before the rename: replace (default: when appending to an existing file), always, never "
                    "(kills are safe in every mode; power loss needs fsync)");
    cmd->add_flag("--json", opts->json, "Print one JSON document describing the runs");
    cmd->callback([&ctx, opts] {
        ctx.run = [opts] {
            if (!opts->input.given() && opts->promptsFile.empty()) return usageError("capture needs --prompt TEXT, --ids 1,2,3 or --prompts FILE");
            return runCapture(*opts);
        };
    });
});

}  // namespace superlens::cli
