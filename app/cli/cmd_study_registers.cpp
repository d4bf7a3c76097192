// superlens-cli study registers MODEL [MODEL_B] (--image FILE | --pixels FILE.npy)... [--massive-ratio R] [--json]
//
// Where a vision transformer keeps its massive activations (CLS, register,
// patch) and what setting them to zero vs to their mean over the images does
// to the final hidden states; on a with/without-registers pair, whether the
// registers took them over (core/analysis/registers_study.h, docs/ANALYSIS.md).

#include <iostream>

#include "analysis_common.h"
#include "superlens/core/analysis/registers_study.h"
#include "superlens/core/model/image_input.h"
#include "superlens/core/model/npy.h"

namespace superlens::cli {
namespace {

struct RegistersCliOptions {
    std::vector<std::string> models;
    std::vector<std::string> images;  // --image, preprocessed per model
    std::vector<std::string> pixels;  // --pixels, used as given for every model
    core::RegistersStudyOptions study;
    bool json = false;
};

int runStudyRegisters(const RegistersCliOptions& o) {
    std::vector<core::RegistersModelStudy> results;
    for (const std::string& folder : o.models) {
        auto prepared = prepareModel(folder);
        if (!prepared) return fail(prepared.error());
        const std::shared_ptr<const core::Model>& model = prepared->model;
        if (!model->config().pixelInput) {
            return fail(folder + ": study registers reads images; this " + model->config().familyName + " model reads tokens (give a vision model)");
        }
        std::vector<core::RegistersImage> images;
        for (const std::string& f : o.images) {
            auto px = core::loadImageForModel(f, model->folder());
            if (!px) return fail(px.error());
            images.push_back({f, std::make_shared<const core::PixelTensor>(std::move(px).value())});
        }
        for (const std::string& f : o.pixels) {
            auto px = core::loadNpy(f);
            if (!px) return fail(px.error());
            images.push_back({f, std::make_shared<const core::PixelTensor>(std::move(px).value())});
        }
        auto s = core::studyRegisters(*prepared->engine, images, o.study);
        if (!s) return fail(folder + ": " + s.error().message);
        results.push_back(std::move(s).value());
    }
    if (o.json) {
        printJson(nlohmann::json::parse(core::registersStudyJson(results)));
    } else {
        std::cout << core::registersStudyMarkdown(results);
        std::cout.flush();
    }
    return kExitOk;
}

}  // namespace

// After `study` (order 90) exists.
const CommandRegistration kRegistration(94, [](CLI::App& app, CliContext& ctx) {
    CLI::App* study = app.get_subcommand("study");
    auto opts = std::make_shared<RegistersCliOptions>();
    CLI::App* cmd = study->add_subcommand(
        "registers", "Vision models: where the massive activations live (CLS, registers, patches) and zero vs mean on them; a with/without-registers pair");
    cmd->add_option("MODEL", opts->models, "One or two vision model folders (e.g. DINOv2 without and with registers)")->required()->expected(1, 2);
    cmd->add_option("--image", opts->images, "PNG/JPEG image, preprocessed as each model's preprocessor_config.json says (repeatable)");
    cmd->add_option("--pixels", opts->pixels, "Exact pixel_values .npy used for every model (repeatable)");
    cmd->add_option("--massive-ratio", opts->study.massive.ratioThreshold, "Massive activation: |value| / layer median at least this (default 100)")
        ->check(CLI::PositiveNumber);
    cmd->add_flag("--json", opts->json, "Print one JSON document");
    cmd->callback([&ctx, opts] {
        ctx.run = [opts] {
            if (opts->images.empty() && opts->pixels.empty()) return usageError("study registers needs --image FILE or --pixels FILE.npy (several: the mean intervention averages over them)");
            return runStudyRegisters(*opts);
        };
    });
});

}  // namespace superlens::cli
