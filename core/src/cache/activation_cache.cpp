// Reading side of the activation cache, plus the small shared pieces
// (compression names, run keys, model info, size estimates).

#include "superlens/core/cache/activation_cache.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <charconv>
#include <mutex>

#include "cache/cache_layout.h"
#include "cache/file_ops.h"
#include "cache/h5_util.h"
#include "superlens/core/model/fnv64.h"
#include "superlens/core/model/image_tokens.h"

namespace fs = std::filesystem;

namespace superlens::core {

using h5::Failure;
using h5::Handle;

// ---------------------------------------------------------------- small pieces

Result<CacheCompression> CacheCompression::parse(std::string_view text) {
    CacheCompression c;
    if (text == "none" || text.empty()) return c;
    std::string_view rest = text;
    if (rest.rfind("shuffle-", 0) == 0) {
        c.shuffle = true;
        rest.remove_prefix(8);
    }
    if (rest.rfind("gzip", 0) == 0 && rest.size() == 5 && rest[4] >= '1' && rest[4] <= '9') {
        c.gzipLevel = rest[4] - '0';
        return c;
    }
    return Error{"compression '" + std::string(text) + "' is not one of none, gzip1..gzip9, shuffle-gzip1..shuffle-gzip9"};
}

std::string CacheCompression::text() const {
    if (gzipLevel <= 0) return "none";
    return std::string(shuffle ? "shuffle-" : "") + "gzip" + std::to_string(gzipLevel);
}

std::string_view cacheSyncName(CacheSync s) {
    switch (s) {
        case CacheSync::Always: return "always";
        case CacheSync::Never: return "never";
        default: return "replace";
    }
}

Result<CacheSync> parseCacheSync(std::string_view text) {
    if (text == "always") return CacheSync::Always;
    if (text == "replace") return CacheSync::WhenReplacing;
    if (text == "never") return CacheSync::Never;
    return Error{"sync mode '" + std::string(text) + "' is not one of always, replace, never"};
}

std::string_view precisionName(Precision p) { return p == Precision::Float64 ? "float64" : "float32"; }

std::string precisionName(Precision p, ComputeDtype compute) {
    std::string name(precisionName(p));
    if (compute != ComputeDtype::Float32) name += std::string("+") + computeDtypeName(compute);
    return name;
}

CacheModelInfo CacheModelInfo::fromModel(const Model& model, const Tokenizer* tokenizer) {
    CacheModelInfo info;
    info.fingerprint = model.fingerprint();
    info.configJson = model.config().rawJson;
    info.config = model.config();
    fs::path folder = model.folder();
    if (folder.filename().empty()) folder = folder.parent_path();
    info.name = folder.filename().string();
    info.dtype = std::string(dtypeName(model.dominantDtype()));
    info.parameters = model.parameterCount();
    if (tokenizer) {
        const std::int64_t V = tokenizer->vocabSize();
        info.vocabPieces.reserve(static_cast<std::size_t>(V));
        info.vocabTexts.reserve(static_cast<std::size_t>(V));
        for (std::int64_t id = 0; id < V; ++id) {
            info.vocabPieces.push_back(tokenizer->tokenString(static_cast<TokenId>(id)));
            info.vocabTexts.push_back(tokenizer->tokenText(static_cast<TokenId>(id)));
        }
    }
    return info;
}

CaptureRun CaptureRun::fromResult(const ForwardResult& result, std::string prompt, const Tokenizer* tokenizer,
                                  std::vector<std::string> hookPatterns) {
    CaptureRun run;
    run.prompt = std::move(prompt);
    run.tokens = result.tokens;
    run.pixels = result.pixels;
    if (result.pixels) {
        run.imagePositions = result.positions;
        for (std::int64_t t = 0; t < result.positions; ++t) {
            run.tokenTexts.push_back(imageTokenAt(t, result.registers, result.patchGridWidth).label());
        }
    } else if (tokenizer) {
        for (TokenId id : result.tokens) {
            run.tokenStrings.push_back(tokenizer->tokenString(id));
            run.tokenTexts.push_back(tokenizer->tokenText(id));
        }
    }
    for (const auto& e : result.edits) run.edits.push_back(e.text());
    run.hookPatterns = std::move(hookPatterns);
    run.precision = precisionName(result.precision, result.compute);
    run.seconds = result.seconds;
    for (const auto& [point, tensor] : result.activations) run.hooks[hookName(point)] = tensor;
    if (!result.logits.values.empty()) run.logits = std::make_shared<const ActivationTensor>(result.logits);
    run.allPositionLogits = result.allPositionLogits;
    return run;
}

const CachedHook* CachedRunInfo::hook(const std::string& name) const {
    for (const auto& h : hooks) {
        if (h.name == name) return &h;
    }
    return nullptr;
}

CacheRunKey CacheRunKey::forRequest(const ForwardRequest& request, const Engine& engine) {
    CacheRunKey key;
    key.tokens = request.tokens;
    if (request.pixels) key.pixelsFingerprint = core::pixelsFingerprint(*request.pixels);
    for (const auto& e : request.edits) key.edits.push_back(e.text());
    for (const HookPoint& p : request.record.resolve(hookLayoutOf(engine.model().config()))) key.hooks.push_back(hookName(p));
    key.precision = precisionName(engine.options().precision, engine.options().compute);
    key.allPositionLogits = request.allPositionLogits;
    return key;
}

std::optional<int> findMatchingRun(const std::vector<CachedRunInfo>& runs, const CacheRunKey& key) {
    for (const auto& run : runs) {
        if (run.tokens != key.tokens || run.pixelsFingerprint != key.pixelsFingerprint || run.edits != key.edits ||
            run.precision != key.precision) {
            continue;
        }
        // Last-position logits are the last row of all-position ones.
        if (key.allPositionLogits && !run.allPositionLogits) continue;
        // Vision encoders have no logits; every other run must carry them.
        if (run.logitsShape.empty() && key.pixelsFingerprint.empty()) continue;
        const bool hasAll = std::all_of(key.hooks.begin(), key.hooks.end(), [&](const std::string& h) { return run.hook(h) != nullptr; });
        if (hasAll) return run.index;
    }
    return std::nullopt;
}

std::string pixelsFingerprint(const PixelTensor& pixels) {
    Fnv64 fp;
    fp.add(static_cast<std::uint64_t>(pixels.channels));
    fp.add(static_cast<std::uint64_t>(pixels.height));
    fp.add(static_cast<std::uint64_t>(pixels.width));
    fp.add(std::string_view(reinterpret_cast<const char*>(pixels.values.data()), pixels.values.size() * sizeof(float)));
    return fp.hex();
}

namespace {

std::uint64_t hookBytes(const ModelConfig& config, std::uint64_t T, HookPoint p) {
    switch (p.kind) {
        case HookKind::AttnPattern: return static_cast<std::uint64_t>(config.numHeads) * T * T * 4;
        case HookKind::MlpPre:
        case HookKind::MlpPost: return T * static_cast<std::uint64_t>(config.intermediateSize) * 4;
        case HookKind::ExpertPre:
        case HookKind::ExpertPost: return T * static_cast<std::uint64_t>(config.experts.intermediate) * 4;
        case HookKind::SharedPre:
        case HookKind::SharedPost: return T * static_cast<std::uint64_t>(config.experts.sharedIntermediate) * 4;
        case HookKind::ExpertWeights: return T * static_cast<std::uint64_t>(config.experts.count) * 4;
        case HookKind::ExpertIndices: return T * static_cast<std::uint64_t>(config.experts.topK) * 4;
        default: return T * static_cast<std::uint64_t>(config.hiddenSize) * 4;
    }
}

}  // namespace

std::uint64_t estimateRunBytes(const ModelConfig& config, std::int64_t tokens, const std::vector<HookPoint>& hooks, bool allPositionLogits) {
    const auto T = static_cast<std::uint64_t>(tokens);
    std::uint64_t bytes = 0;
    for (const HookPoint& p : hooks) bytes += hookBytes(config, T, p);
    bytes += (allPositionLogits ? T : 1) * static_cast<std::uint64_t>(config.vocabSize) * 4;
    // Object headers, chunk indices, strings: a few KiB per dataset.
    bytes += (hooks.size() + 8) * 4096;
    return bytes;
}

std::uint64_t estimateLargestHookBytes(const ModelConfig& config, std::int64_t tokens, const std::vector<HookPoint>& hooks) {
    std::uint64_t largest = 0;
    for (const HookPoint& p : hooks) largest = std::max(largest, hookBytes(config, static_cast<std::uint64_t>(tokens), p));
    return largest;
}

std::optional<std::uint64_t> freeDiskBytes(const fs::path& folder) {
    struct statvfs st {};
    if (::statvfs(folder.c_str(), &st) != 0) return std::nullopt;
    return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

// ---------------------------------------------------------------- reader

struct ActivationCache::Impl {
    fs::path path;
    Handle file;
    cachelayout::Header header;
    std::vector<CachedRunInfo> runs;
    bool hasVocab = false;
    std::once_flag vocabOnce;

    Error error(const std::string& m) const { return Error{path.string() + ": " + m}; }
    void loadVocab() {
        std::call_once(vocabOnce, [this] {
            if (!hasVocab) return;
            h5::init();
            std::lock_guard lock(h5::mutex());
            try {
                header.vocabPieces = h5::readStringDataset(file, "/vocab/pieces");
                if (h5::exists(file, "/vocab/texts")) header.vocabTexts = h5::readStringDataset(file, "/vocab/texts");
            } catch (const std::exception&) {
                header.vocabPieces.clear();
                header.vocabTexts.clear();
            }
        });
    }
    const CachedRunInfo* run(int index) const {
        for (const auto& r : runs) {
            if (r.index == index) return &r;
        }
        return nullptr;
    }
};

ActivationCache::ActivationCache(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}

ActivationCache::~ActivationCache() {
    std::lock_guard lock(h5::mutex());
    m_impl.reset();
}

Result<std::shared_ptr<ActivationCache>> ActivationCache::open(const fs::path& file) {
    h5::init();
    std::lock_guard lock(h5::mutex());
    auto impl = std::make_unique<Impl>();
    impl->path = file;
    std::error_code ec;
    if (!fs::exists(file, ec)) return impl->error("no such file");
    if (fs::is_directory(file, ec)) return impl->error("is a folder, not an activation cache file");
    try {
        impl->file = cachelayout::openFile(file, false);
        impl->header = cachelayout::readHeader(impl->file, false);
        impl->hasVocab = cachelayout::hasVocab(impl->file);
        const auto config = cachelayout::checkingConfig(impl->header, nullptr);
        impl->runs = cachelayout::readRuns(impl->file, config ? &*config : nullptr);
    } catch (const Failure& f) {
        return impl->error(f.what());
    } catch (const std::exception& e) {
        return impl->error(std::string("cannot read: ") + e.what());
    }
    return std::shared_ptr<ActivationCache>(new ActivationCache(std::move(impl)));
}

const fs::path& ActivationCache::path() const { return m_impl->path; }
int ActivationCache::version() const { return m_impl->header.version; }
const std::string& ActivationCache::modelFingerprint() const { return m_impl->header.fingerprint; }
const std::string& ActivationCache::modelConfigJson() const { return m_impl->header.configJson; }
const std::string& ActivationCache::modelName() const { return m_impl->header.name; }
const std::string& ActivationCache::modelDtype() const { return m_impl->header.dtype; }
std::int64_t ActivationCache::modelParameters() const { return m_impl->header.parameters; }
bool ActivationCache::hasVocab() const { return m_impl->hasVocab; }

const std::vector<std::string>& ActivationCache::vocabPieces() const {
    m_impl->loadVocab();
    return m_impl->header.vocabPieces;
}

const std::vector<std::string>& ActivationCache::vocabTexts() const {
    m_impl->loadVocab();
    return m_impl->header.vocabTexts;
}
const std::vector<CachedRunInfo>& ActivationCache::runs() const { return m_impl->runs; }
const CachedRunInfo* ActivationCache::run(int index) const { return m_impl->run(index); }

Result<ModelConfig> ActivationCache::modelConfig() const {
    return ModelConfig::parse(m_impl->header.configJson, m_impl->path.string() + " (attribute model_config)");
}

std::optional<int> ActivationCache::findRun(const std::string& modelFingerprint, const CacheRunKey& key) const {
    if (modelFingerprint != m_impl->header.fingerprint) return std::nullopt;
    return findMatchingRun(m_impl->runs, key);
}

namespace {

Result<ActivationTensor> readChecked(const ActivationCache::Impl& impl, int run, const std::string& name,
                                     std::optional<std::pair<std::int64_t, std::int64_t>> slice) {
    h5::init();
    std::lock_guard lock(h5::mutex());
    const CachedRunInfo* info = impl.run(run);
    if (!info) return impl.error("has no run " + std::to_string(run));
    if (name == "logits") {
        if (info->logitsShape.empty()) return impl.error("run " + std::to_string(run) + " has no logits");
    } else if (name == "pixel_values") {
        if (info->pixelShape.empty()) return impl.error("run " + std::to_string(run) + " is not an image run");
    } else if (!info->hook(name)) {
        return impl.error("run " + std::to_string(run) + " has no hook '" + name + "'");
    }
    try {
        return cachelayout::readFloat(impl.file, run, name, slice);
    } catch (const Failure& f) {
        return impl.error(f.what());
    } catch (const std::bad_alloc&) {
        return impl.error("out of memory reading " + name);
    }
}

}  // namespace

Result<ActivationTensor> ActivationCache::readHook(int run, const std::string& hookName) const {
    return readChecked(*m_impl, run, hookName, std::nullopt);
}

Result<RowMatrixF> ActivationCache::readHookMatrix(int run, const std::string& hookName) const {
    auto t = readHook(run, hookName);
    if (!t) return t.error();
    return RowMatrixF(t->matrix());
}

Result<ActivationTensor> ActivationCache::readHookSlice(int run, const std::string& hookName, std::int64_t first, std::int64_t count) const {
    return readChecked(*m_impl, run, hookName, std::make_pair(first, count));
}

Result<ActivationTensor> ActivationCache::readLogits(int run) const { return readChecked(*m_impl, run, "logits", std::nullopt); }

Result<ActivationTensor> ActivationCache::readPixels(int run) const { return readChecked(*m_impl, run, "pixel_values", std::nullopt); }

Result<std::shared_ptr<const ForwardResult>> ActivationCache::readRun(int run, const HookSelection& hooks) const {
    const CachedRunInfo* info = m_impl->run(run);
    if (!info) return m_impl->error("has no run " + std::to_string(run));
    auto result = std::make_shared<ForwardResult>();
    result->tokens = info->tokens;
    result->positions = info->positions();
    if (!info->pixelShape.empty()) {
        // An image run: the pixels that ran, and what each position is.
        auto px = readPixels(run);
        if (!px) return px.error();
        auto config = modelConfig();
        if (!config) return config.error();
        if (!config->pixelInput || config->patchSize < 1) return m_impl->error("run " + std::to_string(run) + " is an image run of a model that reads no images");
        auto pixels = std::make_shared<PixelTensor>();
        pixels->channels = static_cast<int>(info->pixelShape[0]);
        pixels->height = static_cast<int>(info->pixelShape[1]);
        pixels->width = static_cast<int>(info->pixelShape[2]);
        pixels->values = std::move(px->values);
        result->pixels = std::move(pixels);
        result->registers = config->numRegisters;
        result->patchGridWidth = info->pixelShape[2] / config->patchSize;
    }
    for (const auto& text : info->edits) {
        auto e = parseEdit(text);
        if (!e) return m_impl->error("run " + std::to_string(run) + ": " + e.error().message);
        result->edits.push_back(std::move(e).value());
    }
    result->precision = info->precision.rfind("float64", 0) == 0 ? Precision::Float64 : Precision::Float32;
    if (const auto plus = info->precision.find('+'); plus != std::string::npos) {
        if (auto d = parseComputeDtype(info->precision.substr(plus + 1))) result->compute = *d;
    }
    result->allPositionLogits = info->allPositionLogits;
    result->seconds = info->seconds;
    if (!info->logitsShape.empty()) {
        auto logits = readLogits(run);
        if (!logits) return logits.error();
        result->logits = std::move(logits).value();
    }
    for (const auto& h : info->hooks) {
        if (!hooks.matches(h.point)) continue;
        auto t = readHook(run, h.name);
        if (!t) return t.error();
        result->activations[h.point] = std::make_shared<const ActivationTensor>(std::move(t).value());
    }
    return std::shared_ptr<const ForwardResult>(std::move(result));
}

}  // namespace superlens::core
