#include "session_run_cache.h"

#include <algorithm>
#include <system_error>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include "superlens/core/cache/activation_cache.h"
#include "superlens/core/model/fnv64.h"

namespace superlens::gui {

namespace {

constexpr const char* kScanKey = "super_weight_scan";

}  // namespace

std::filesystem::path runCacheFile(const std::filesystem::path& directory, const core::Model& model) {
    // The fingerprint (config, safetensors headers, sizes) does not see new
    // weights of the same shapes written over the old files (a retrained
    // model), so the file name also carries the weight files' modification
    // times: such a model gets a fresh cache. Both are hex: safe file names.
    core::Fnv64 stamps;  // over (name, mtime) of each weight file
    std::error_code ec;
    std::vector<std::filesystem::path> weights;
    for (const auto& entry : std::filesystem::directory_iterator(model.folder(), ec)) {
        if (entry.path().extension() == ".safetensors") weights.push_back(entry.path());
    }
    std::sort(weights.begin(), weights.end());
    for (const auto& w : weights) {
        stamps.add(w.filename().string());
        stamps.add(static_cast<std::uint64_t>(std::filesystem::last_write_time(w, ec).time_since_epoch().count()));
    }
    return directory / ("runs-" + model.fingerprint() + "-" + stamps.hex() + ".h5");
}

std::string superWeightsToMetadata(const std::vector<core::SuperWeight>& weights) {
    QJsonArray list;
    for (const auto& w : weights) {
        // Coordinates are small integers (layer < 1000, channels < 2^31): exact in a double.
        QJsonObject o;
        o["layer"] = w.layer;
        if (w.expert >= 0) o["expert"] = w.expert;
        o["row"] = static_cast<qint64>(w.row);
        o["col"] = static_cast<qint64>(w.col);
        o["output_axis"] = w.outputAxis;
        o["value"] = static_cast<double>(w.value);
        o["down_in"] = static_cast<double>(w.downIn);
        o["down_out"] = static_cast<double>(w.downOut);
        o["token"] = static_cast<qint64>(w.token);
        o["iteration"] = w.iteration;
        o["output_ratio"] = w.outputRatio;
        o["input_ratio"] = w.inputRatio;
        o["resid_ratio"] = w.residRatio;
        list.append(o);
    }
    QJsonObject root;
    root[kScanKey] = list;
    return QJsonDocument(root).toJson(QJsonDocument::Compact).toStdString();
}

std::optional<std::vector<core::SuperWeight>> superWeightsFromMetadata(const std::string& metadataJson) {
    const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromStdString(metadataJson));
    if (!doc.isObject() || !doc.object().value(kScanKey).isArray()) return std::nullopt;
    std::vector<core::SuperWeight> out;
    for (const QJsonValue& v : doc.object().value(kScanKey).toArray()) {
        const QJsonObject o = v.toObject();
        if (!o.contains("layer") || !o.contains("row") || !o.contains("col")) return std::nullopt;
        core::SuperWeight w;
        w.layer = o["layer"].toInt();
        w.expert = o["expert"].toInt(-1) >= 0 ? o["expert"].toInt(-1) : -1;
        w.row = o["row"].toInteger();
        w.col = o["col"].toInteger();
        w.outputAxis = o["output_axis"].toInt(0) == 1 ? 1 : 0;
        w.value = static_cast<float>(o["value"].toDouble());
        w.downIn = static_cast<float>(o["down_in"].toDouble());
        w.downOut = static_cast<float>(o["down_out"].toDouble());
        w.token = o["token"].toInteger();
        w.iteration = o["iteration"].toInt();
        w.outputRatio = o["output_ratio"].toDouble();
        w.inputRatio = o["input_ratio"].toDouble();
        w.residRatio = o["resid_ratio"].toDouble();
        out.push_back(w);
    }
    return out;
}

core::Result<std::optional<CachedOriginalRun>> findCachedOriginalRun(const std::filesystem::path& file, const core::Engine& engine,
                                                                     const core::ForwardRequest& request, bool needScan) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) return std::optional<CachedOriginalRun>{};
    auto cache = core::ActivationCache::open(file);
    if (!cache) return cache.error();
    const core::CacheRunKey key = core::CacheRunKey::forRequest(request, engine);
    if ((*cache)->modelFingerprint() != engine.model().fingerprint()) {
        return core::Error{file.string() + ": a cache of another model (fingerprint " + (*cache)->modelFingerprint() + ")"};
    }
    // Several runs may match (one stored without a scan, a later one with it): take the best.
    std::optional<CachedOriginalRun> best;
    for (const auto& info : (*cache)->runs()) {
        if (!core::findMatchingRun({info}, key)) continue;
        auto scan = superWeightsFromMetadata(info.metadataJson);
        if ((needScan && !scan) || (best && !scan)) continue;
        CachedOriginalRun run;
        run.run = info.index;
        run.scanned = scan.has_value();
        if (scan) run.superWeights = std::move(*scan);
        best = std::move(run);
        if (best->scanned) break;
    }
    if (!best) return best;
    auto result = (*cache)->readRun(best->run, request.record);
    if (!result) return result.error();
    best->result = *result;
    return best;
}

core::Status storeOriginalRun(const std::filesystem::path& file, const core::Model& model, const core::Tokenizer* tokenizer,
                              const core::ForwardResult& result, const std::vector<std::string>& hookPatterns,
                              const std::vector<core::SuperWeight>* scan, std::uint64_t budgetBytes) {
    std::error_code ec;
    std::filesystem::create_directories(file.parent_path(), ec);
    if (ec) return core::Error{file.parent_path().string() + ": cannot create the run cache folder: " + ec.message()};
    const auto size = std::filesystem::file_size(file, ec);
    if (!ec && size > budgetBytes) {
        // Only a readable SuperLens cache of this model is ever removed: anything else is refused below.
        auto existing = core::ActivationCache::open(file);
        if (existing && (*existing)->modelFingerprint() == model.fingerprint()) {
            existing->reset();
            std::filesystem::remove(file, ec);
        }
    }
    auto writer = core::ActivationCacheWriter::open(file, core::CacheModelInfo::fromModel(model, tokenizer));
    if (!writer) return writer.error();
    core::CaptureRun run = core::CaptureRun::fromResult(result, "", tokenizer, hookPatterns);
    if (scan) run.metadataJson = superWeightsToMetadata(*scan);
    auto appended = (*writer)->appendRun(run);
    if (!appended) return appended.error();
    auto committed = (*writer)->commit();
    if (!committed) return committed.error();
    return {};
}

}  // namespace superlens::gui
