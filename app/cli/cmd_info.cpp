// superlens-cli info MODEL [--json]: architecture, sizes, dtype, files.
// superlens-cli info --system [--json]: CPU features, BLAS kernels, threads, GEMM rate.

#include <iostream>

#include "cli_common.h"
#include "superlens/core/system/system_report.h"

namespace superlens::cli {
namespace {

struct InfoOptions {
    std::string model;
    bool json = false;
    bool system = false;
};

nlohmann::json describe(const core::SystemReport& r) {
    return {
        {"cpu", {{"vendor", r.cpu.vendor}, {"brand", r.cpu.brand}, {"family", r.cpu.family}, {"model", r.cpu.model},
                 {"logical_cpus", r.cpu.logicalCpus}, {"features", r.cpu.names()}}},
        {"blas", {{"library", r.blas.library}, {"config", r.blas.config}, {"kernels", r.blas.core},
                  {"openblas_coretype", r.blas.requested}, {"chosen_by", r.blas.selection}}},
        {"gemm_path", {{"name", r.gemmPath.name}, {"amx", r.gemmPath.amx}, {"kernel_isa", r.gemmPath.panels == core::gemm::PanelIsa::Avx512 ? "avx512" : r.gemmPath.panels == core::gemm::PanelIsa::Avx2 ? "avx2" : "none"}, {"chosen_by", r.gemmPath.selection}}},
        {"gemv_path", {{"name", r.gemvPath.name}, {"avx512", r.gemvPath.isa == core::gemm::GemvIsa::Avx512}, {"chosen_by", r.gemvPath.selection}}},
        {"engine_threads", r.engineThreads},
        {"gemm", {{"m", r.gemmM}, {"n", r.gemmN}, {"k", r.gemmK}, {"gflops_1_thread", r.gflopsOneThread},
                  {"gflops_all_threads", r.gflopsAllThreads}, {"gflops_f32_linear", r.gflopsF32Linear},
                  {"gflops_bf16_linear", r.gflopsBf16Linear}, {"seconds", r.secondsMeasured}}},
    };
}

int runSystem(const InfoOptions& o) {
    const core::SystemReport r = core::systemReport();
    if (o.json) {
        printJson(describe(r));
        return kExitOk;
    }
    for (const auto& [label, value] : r.rows()) {
        std::string padded = label;
        padded.resize(std::max<std::size_t>(padded.size() + 1, 16), ' ');
        std::cout << padded << value << "\n";
    }
    return kExitOk;
}

nlohmann::json describe(const core::Model& m) {
    const core::ModelConfig& c = m.config();
    nlohmann::json files = nlohmann::json::array();
    for (const auto& f : m.weightFiles()) files.push_back(f.filename().string());
    // Storage types as stored: F32/F16/BF16, and ggml block types for GGUF files.
    nlohmann::json dtypes = nlohmann::json::object();
    std::string dominant;
    std::int64_t most = -1;
    for (const auto& [name, n] : m.parametersByStorage()) {
        dtypes[name] = n;
        if (n > most) {
            most = n;
            dominant = name;
        }
    }
    nlohmann::json j = {
        {"folder", m.folder().string()},
        {"architecture", c.modelType},
        {"family", c.familyName},
        {"block", c.blockSummary()},
        {"down_projection", m.downProjectionName(0)},
        {"down_output_axis", m.downOutputAxis()},
        {"layers", c.numLayers},
        {"hidden", c.hiddenSize},
        {"intermediate", c.intermediateSize},
        {"heads", c.numHeads},
        {"kv_heads", c.numKvHeads},
        {"head_dim", c.headDim},
        {"vocab", c.vocabSize},
        {"dtype", dominant},
        {"format", m.isGguf() ? "gguf" : "safetensors"},
        {"dtypes", dtypes},
        {"parameters", m.parameterCount()},
        {"tied_embeddings", c.tieWordEmbeddings},
        {"rope_theta", c.ropeTheta},
        {"files", files},
        {"checkpoint_bytes", m.checkpointBytes()},
        {"fingerprint", m.fingerprint()},
    };
    j["sliding_window"] = c.slidingWindow ? nlohmann::json(*c.slidingWindow) : nlohmann::json(nullptr);
    j["clip_qkv"] = c.clipQkv ? nlohmann::json(*c.clipQkv) : nlohmann::json(nullptr);
    switch (c.ropeScaling.type) {
        case core::RopeScalingType::None: j["rope_scaling"] = nullptr; break;
        case core::RopeScalingType::Linear: j["rope_scaling"] = {{"type", "linear"}, {"factor", c.ropeScaling.factor}}; break;
        case core::RopeScalingType::Llama3:
            j["rope_scaling"] = {{"type", "llama3"}, {"factor", c.ropeScaling.factor}};
            break;
    }
    return j;
}

std::string humanCount(std::int64_t n) {
    char buf[32];
    if (n >= 1000000000) std::snprintf(buf, sizeof buf, "%.2fB", n / 1e9);
    else if (n >= 1000000) std::snprintf(buf, sizeof buf, "%.2fM", n / 1e6);
    else if (n >= 1000) std::snprintf(buf, sizeof buf, "%.1fK", n / 1e3);
    else std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
    return buf;
}

int runInfo(const InfoOptions& o) {
    if (o.system) return runSystem(o);
    if (o.model.empty()) return usageError("info needs MODEL (or --system)");
    auto model = openModel(o.model);
    if (!model) return fail(model.error());
    const core::Model& m = **model;
    nlohmann::json j = describe(m);
    // The tokenizer is optional for info: report it, never fail on it.
    std::string tokenizerNote = "none";
    if (core::Tokenizer::modelHasTokenizer(m)) {
        auto tok = core::Tokenizer::loadForModel(m);
        if (tok) {
            tokenizerNote = (*tok)->sourceFile().filename().string();
            j["tokenizer"] = {{"file", tokenizerNote}, {"vocab", (*tok)->vocabSize()}};
        } else {
            tokenizerNote = "unreadable (" + tok.error().message + ")";
            j["tokenizer"] = {{"error", tok.error().message}};
        }
    } else {
        j["tokenizer"] = nullptr;
    }
    if (const core::ModelConfig& cfg = m.config(); cfg.hasExperts()) {
        // Mixture of experts: a token runs k of the E experts of each routed layer.
        std::vector<int> routed;
        for (int l = 0; l < cfg.numLayers; ++l) {
            if (cfg.isExpertLayer(l)) routed.push_back(l);
        }
        const std::int64_t perExpert = 3 * static_cast<std::int64_t>(cfg.experts.intermediate) * cfg.hiddenSize;
        const std::int64_t idle = static_cast<std::int64_t>(routed.size()) * (cfg.experts.count - cfg.experts.topK) * perExpert;
        nlohmann::json e = nlohmann::json::object();
        e["count"] = cfg.experts.count;
        e["top_k"] = cfg.experts.topK;
        e["intermediate"] = cfg.experts.intermediate;
        e["shared_intermediate"] = cfg.experts.sharedIntermediate;
        e["renormalize"] = cfg.experts.renormalize;
        e["routed_layers"] = routed;
        e["active_parameters"] = m.parameterCount() - idle;
        j["experts"] = std::move(e);
    } else {
        j["experts"] = nullptr;
    }
    if (o.json) {
        printJson(j);
        return kExitOk;
    }
    const core::ModelConfig& c = m.config();
    std::cout << "model         " << m.folder().string() << "\n"
              << "architecture  " << c.modelType << " (" << c.familyName << ")\n"
              << "block         " << c.blockSummary() << "\n"
              << "parameters    " << humanCount(m.parameterCount()) << " (" << m.parameterCount() << ")\n"
              << "dtype         " << j["dtype"].get<std::string>() << "\n"
              << "layers        " << c.numLayers << "\n"
              << "hidden        " << c.hiddenSize << "\n"
              << "intermediate  " << c.intermediateSize << "\n"
              << "heads         " << c.numHeads << " (kv " << c.numKvHeads << ", head_dim " << c.headDim << ")\n"
              << "vocab         " << c.vocabSize << "\n"
              << "tied embed.   " << (c.tieWordEmbeddings ? "yes" : "no") << "\n"
              << (c.hasExperts() ? "experts       " + std::to_string(c.experts.count) + " per routed layer, top-" + std::to_string(c.experts.topK) +
                                       ", " + humanCount(j["experts"]["active_parameters"].get<std::int64_t>()) + " parameters active per token\n"
                                 : std::string())
              << "tokenizer     " << tokenizerNote << "\n"
              << "files        ";
    for (const auto& f : m.weightFiles()) std::cout << " " << f.filename().string();
    std::cout << " (" << m.checkpointBytes() << " bytes)\n"
              << "fingerprint   " << m.fingerprint() << "\n";
    return kExitOk;
}

}  // namespace

const CommandRegistration kRegistration(10, [](CLI::App& app, CliContext& ctx) {
    auto opts = std::make_shared<InfoOptions>();
    CLI::App* cmd = app.add_subcommand("info", "Architecture, sizes, dtype, parameter count and files of a model folder");
    cmd->add_option("MODEL", opts->model, "Hugging Face model folder");
    cmd->add_flag("--system", opts->system,
                  "Describe this machine instead: CPU features, the BLAS kernels chosen and why, threads, a measured GEMM rate")
        ->excludes(cmd->get_option("MODEL"));
    cmd->add_flag("--json", opts->json, "Print one JSON document");
    cmd->callback([&ctx, opts] { ctx.run = [opts] { return runInfo(*opts); }; });
});

}  // namespace superlens::cli
