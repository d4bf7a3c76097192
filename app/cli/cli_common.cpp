#include "cli_common.h"
#include "superlens/core/analysis/bundled_resources.h"
#include "superlens/core/analysis/super_weights.h"
#include "superlens/core/model/image_input.h"
#include "superlens/core/model/mapped_file.h"
#include "superlens/core/tokenizer/token_ids.h"

#include <cstdio>
#include <iostream>

namespace superlens::cli {

int fail(const std::string& message) {
    std::fflush(stdout);
    std::cerr << "superlens-cli: error: " << message << std::endl;
    return kExitBadInput;
}

int fail(const core::Error& error) { return fail(error.message); }

int usageError(const std::string& message) {
    std::cerr << "superlens-cli: usage error: " << message << std::endl;
    return kExitUsage;
}

void printJson(const nlohmann::json& j) {
    // Replace invalid UTF-8 (e.g. half of a byte-level token) instead of throwing.
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
}

core::Result<std::shared_ptr<const core::Model>> openModel(const std::string& folder) { return core::Model::open(folder); }

core::Result<std::unique_ptr<core::Tokenizer>> loadTokenizer(const core::Model& model, const std::string& neededFor) {
    auto tok = core::Tokenizer::loadForModel(model);
    if (!tok) return core::Error{tok.error().message + (neededFor.empty() ? "" : " (needed for " + neededFor + ")")};
    return tok;
}

core::Result<std::unique_ptr<core::Tokenizer>> optionalTokenizer(const core::Model& model, const std::string& neededFor) {
    if (!core::Tokenizer::modelHasTokenizer(model)) return std::unique_ptr<core::Tokenizer>{};
    return loadTokenizer(model, neededFor);
}

void addInputOptions(CLI::App* cmd, InputOptions& o) {
    auto* p = cmd->add_option("--prompt", o.prompt, "Text to tokenize with the model's tokenizer (special tokens as the tokenizer adds them)");
    auto* i = cmd->add_option("--ids", o.ids, "Token ids separated by commas and/or spaces, used exactly as given (no BOS added)");
    auto* x = cmd->add_option("--pixels", o.pixels, "Vision models: the image as a .npy tensor [1, C, H, W] (the image processor's pixel_values)");
    auto* g = cmd->add_option("--image", o.image,
                              "Vision models: a PNG or JPEG, preprocessed as the model folder's preprocessor_config.json says (resize, crop, rescale, normalise)");
    p->excludes(i);
    x->excludes(p);
    x->excludes(i);
    g->excludes(p);
    g->excludes(i);
    g->excludes(x);
    p->each([&o](const std::string&) { o.hasPrompt = true; });
    i->each([&o](const std::string&) { o.hasIds = true; });
    x->each([&o](const std::string&) { o.hasPixels = true; });
    g->each([&o](const std::string&) { o.hasImage = true; });
}

core::Result<std::shared_ptr<const core::PixelTensor>> resolvePixels(const InputOptions& o, const core::Model& model) {
    const core::ModelConfig& c = model.config();
    const char* option = o.hasImage ? "--image" : "--pixels";
    if (!c.pixelInput) return core::Error{std::string(option) + ": this " + c.familyName + " model reads tokens (give --prompt or --ids)"};
    if (!o.hasPixels && !o.hasImage) return core::Error{"this " + c.familyName + " model reads an image: give --image FILE (PNG/JPEG) or --pixels FILE.npy"};
    auto px = o.hasImage ? core::loadImageForModel(o.image, model.folder()) : core::loadNpy(o.pixels);
    if (!px) return px.error();
    return std::make_shared<const core::PixelTensor>(std::move(px).value());
}

core::Result<std::vector<core::TokenId>> resolveTokens(const InputOptions& o, const core::Model& model) {
    std::unique_ptr<core::Tokenizer> tok;
    if (o.hasPrompt && !model.config().pixelInput && !o.hasPicture()) {
        auto t = loadTokenizer(model, "--prompt");
        if (!t) return t.error();
        tok = std::move(t).value();
    }
    return resolveTokens(o, model, tok.get());
}

core::Result<std::vector<core::TokenId>> resolveTokens(const InputOptions& o, const core::Model& model, const core::Tokenizer* tokenizer) {
    if (model.config().pixelInput) {
        return core::Error{"this " + model.config().familyName + " model reads an image, not tokens: give --image FILE or --pixels FILE.npy" +
                           std::string(o.hasPixels || o.hasImage ? " (this command does not take images)" : "")};
    }
    if (o.hasPixels || o.hasImage) {
        return core::Error{std::string(o.hasImage ? "--image" : "--pixels") + ": this " + model.config().familyName + " model reads tokens (give --prompt or --ids)"};
    }
    std::vector<core::TokenId> ids;
    if (o.hasIds) {
        auto parsed = core::parseTokenIds(o.ids, 0, "--ids");
        if (!parsed) return parsed.error();
        ids = std::move(parsed).value();
    } else if (o.hasPrompt) {
        if (!tokenizer) return loadTokenizer(model, "--prompt").error();  // the loader's message says why there is none
        ids = tokenizer->encode(o.prompt, true);
        if (ids.empty()) return core::Error{"--prompt: the text gives no tokens"};
    } else {
        return core::Error{"give --prompt TEXT or --ids 1,2,3"};
    }
    const std::int64_t vocab = model.config().vocabSize;
    for (core::TokenId id : ids) {
        if (id < 0 || id >= vocab) {
            return core::Error{"token id " + std::to_string(id) + " is outside the model's vocabulary (0.." + std::to_string(vocab - 1) + ")"};
        }
    }
    return ids;
}

void addComputeOption(CLI::App* cmd, ComputeOptions& o) {
    cmd->add_option_function<std::string>(
           "--compute",
           [&o](const std::string& name) {
               auto dtype = core::parseComputeDtype(name);
               if (!dtype) throw CLI::ValidationError("--compute", dtype.error().message);
               o.dtype = *dtype;
           },
           "Run in the model's own dtype: bf16 or fp16 rounds weights and every op output where Hugging Face's "
           "PyTorch forward in that dtype rounds (default fp32: exact)")
        ->type_name("fp32|bf16|fp16");
}

core::EngineOptions engineOptions(const ComputeOptions& o) {
    core::EngineOptions options;
    options.compute = o.dtype;
    return options;
}

std::int64_t PreparedRun::positions() const {
    return core::inputPositions(model->config(), tokens, pixels.get());
}

core::ForwardRequest PreparedRun::request() const {
    core::ForwardRequest req;
    req.tokens = tokens;
    req.pixels = pixels;
    req.edits = edits;
    return req;
}

core::Result<PreparedModel> prepareModel(const std::string& modelPath, const core::EngineOptions& engine,
                                         const std::string& tokenizerNeededFor) {
    PreparedModel prepared;
    auto model = openModel(modelPath);
    if (!model) return model.error();
    prepared.model = std::move(model).value();
    auto tok = optionalTokenizer(*prepared.model, tokenizerNeededFor);
    if (!tok) return tok.error();
    prepared.tokenizer = std::move(tok).value();
    prepared.engine = std::make_unique<core::Engine>(prepared.model, engine);
    return prepared;
}

core::Result<std::vector<core::EditSpec>> PreparedModel::editsFor(const EditOptions& o, const std::vector<core::TokenId>& tokens,
                                                                  const std::shared_ptr<const core::PixelTensor>& pixels) const {
    auto parsed = resolveEdits(o, *model, core::inputPositions(model->config(), tokens, pixels.get()));
    if (!parsed) return parsed.error();
    return resolveKeepSuper(*engine, tokens, std::move(parsed).value(), pixels);
}

core::Result<PreparedRun> prepareRun(const std::string& modelPath, const InputOptions& input, const EditOptions& edits, bool images,
                                     const core::EngineOptions& engineOptions) {
    auto prepared = prepareModel(modelPath, engineOptions, input.hasPrompt ? "--prompt" : "");
    if (!prepared) return prepared.error();
    PreparedRun run;
    static_cast<PreparedModel&>(run) = std::move(prepared).value();
    const core::Model& m = *run.model;
    if (images && (input.hasPicture() || m.config().pixelInput)) {
        auto pixels = resolvePixels(input, m);
        if (!pixels) return pixels.error();
        run.pixels = std::move(pixels).value();
    } else {
        auto ids = resolveTokens(input, m, run.tokenizer.get());
        if (!ids) return ids.error();
        run.tokens = std::move(ids).value();
    }
    auto resolved = run.editsFor(edits);
    if (!resolved) return resolved.error();
    run.edits = std::move(resolved).value();
    return run;
}

core::Result<std::vector<FilePrompt>> readPromptsFile(const std::string& path, const core::Model& model, const core::Tokenizer* tokenizer) {
    auto text = readTextFile(path);
    if (!text) return text.error();
    if (!tokenizer) return core::Error{"--prompts needs the model's tokenizer: " + model.folder().string() + " has no tokenizer.json or tokenizer.model"};
    std::vector<FilePrompt> prompts;
    for (const core::PromptLine& line : core::parsePromptLines(*text)) {
        const std::string where = path + ":" + std::to_string(line.line) + ": ";
        auto ids = tokenizer->encode(line.text, true);
        if (ids.empty()) return core::Error{where + "the prompt gives no tokens"};
        for (core::TokenId id : ids) {
            if (id < 0 || id >= model.config().vocabSize) return core::Error{where + "token id " + std::to_string(id) + " is outside the model's vocabulary"};
        }
        prompts.push_back({line.text, std::move(ids)});
    }
    if (prompts.empty()) return core::Error{path + ": no prompts (one per line, '#' comments)"};
    return prompts;
}

void addEditOptions(CLI::App* cmd, EditOptions& o) {
    cmd->add_option("--edit", o.specs, "Edit (repeatable), e.g. model.layers.2.mlp.down_proj.weight[3968,7003]=0")->take_all();
    cmd->add_option("--edits", o.file, "JSON file with a list of edit specs (the GUI's experiment file)");
}

core::Result<std::vector<core::EditSpec>> resolveEdits(const EditOptions& o, const core::Model& model, std::int64_t tokenCount) {
    std::vector<core::EditSpec> edits;
    if (!o.file.empty()) {
        auto fromFile = core::loadEditsFileFor(o.file, model, tokenCount);
        if (!fromFile) return fromFile.error();
        edits = std::move(fromFile).value();
    }
    auto given = core::parseEdits(o.specs, model, tokenCount);
    if (!given) return given.error();
    for (auto& e : *given) edits.push_back(std::move(e));
    return edits;
}

core::Result<std::vector<core::EditSpec>> resolveKeepSuper(core::Engine& engine, const std::vector<core::TokenId>& tokens,
                                                           std::vector<core::EditSpec> edits,
                                                           const std::shared_ptr<const core::PixelTensor>& pixels) {
    return core::resolveKeepSuperFromScan(engine, tokens, pixels, std::move(edits));
}

core::Result<std::string> readTextFile(const std::string& path) {
    return core::readRegularFile(path, core::kMaxTextBytes);
}

}  // namespace superlens::cli
