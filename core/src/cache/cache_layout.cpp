#include "cache/cache_layout.h"

#include "cache/file_ops.h"
#include "superlens/core/model/npy.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <ctime>

#include <nlohmann/json.hpp>

namespace superlens::core::cachelayout {

using h5::Failure;
using h5::Handle;
using h5::owned;

namespace {

// About 64 KiB per chunk: a few token rows of [T, d] / [T, f], a whole head of
// a short attention pattern. Small enough that reading one token or head
// touches little else, large enough that the chunk index stays small.
constexpr std::int64_t kChunkBytes = 64 * 1024;

[[noreturn]] void damaged(const std::string& what) { throw Failure("damaged SuperLens activation cache: " + what); }

std::vector<std::string> jsonStringList(const std::string& text, const std::string& what) {
    try {
        const auto j = nlohmann::json::parse(text);
        if (!j.is_array()) damaged(what + " is not a JSON list");
        std::vector<std::string> out;
        for (const auto& e : j) {
            if (!e.is_string()) damaged(what + " holds a non-string entry");
            out.push_back(e.get<std::string>());
        }
        return out;
    } catch (const nlohmann::json::exception&) {
        damaged(what + " is not valid JSON");
    }
}

std::string jsonList(const std::vector<std::string>& items) {
    return nlohmann::json(items).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string utcNow() {
    const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::optional<int> runIndexFromName(const std::string& name) {
    if (name.empty() || name.size() > 9) return std::nullopt;
    if (name.size() > 1 && name[0] == '0') return std::nullopt;  // one spelling per run
    int v = 0;
    const auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), v);
    if (ec != std::errc() || p != name.data() + name.size()) return std::nullopt;
    return v;
}

std::string stringOr(hid_t obj, const std::string& name, const std::string& fallback) {
    return h5::hasAttribute(obj, name) ? h5::readStringAttr(obj, name) : fallback;
}

}  // namespace

std::string runPath(int index) { return "/runs/" + std::to_string(index); }

std::vector<std::uint64_t> chunkShape(const std::vector<std::int64_t>& shape) {
    std::vector<std::uint64_t> chunk(shape.size(), 1);
    if (shape.empty()) return chunk;
    const std::size_t r = shape.size();
    chunk[r - 1] = static_cast<std::uint64_t>(std::max<std::int64_t>(shape[r - 1], 1));
    if (r == 1) {
        chunk[0] = static_cast<std::uint64_t>(std::clamp<std::int64_t>(kChunkBytes / 4, 1, std::max<std::int64_t>(shape[0], 1)));
        return chunk;
    }
    const std::int64_t rowBytes = std::max<std::int64_t>(shape[r - 1], 1) * 4;
    const std::int64_t rows = (kChunkBytes + rowBytes - 1) / rowBytes;
    chunk[r - 2] = static_cast<std::uint64_t>(std::clamp<std::int64_t>(rows, 1, std::max<std::int64_t>(shape[r - 2], 1)));
    return chunk;
}

Handle openFile(const std::filesystem::path& p, bool readWrite) {
    // SuperLens writes HDF5's 1.8 formats (h5::fileAccessProps): superblock
    // version 2 or later, checksummed like every object header in it, so
    // damage is found and refused. The older formats (superblock 0 or 1,
    // version-1 object headers) carry no checksums, and libhdf5 1.10 reads
    // freed and out-of-bounds memory on damaged ones (H5Aexists, found by
    // fuzz_cache): such a file is refused before libhdf5 parses it.
    const std::optional<int> superblock = cachefs::hdf5SuperblockVersion(p);
    if (superblock && *superblock >= 0 && *superblock < 2) {
        throw Failure("not a SuperLens activation cache (an HDF5 file with superblock version " + std::to_string(*superblock) +
                      ", a format without checksums that SuperLens never writes)");
    }
    Handle fapl = h5::fileAccessProps(readWrite);
    const hid_t f = H5Fopen(p.c_str(), readWrite ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl);
    if (f >= 0) return Handle(f, H5Fclose);
    if (!superblock) {
        H5Eclear2(H5E_DEFAULT);
        std::error_code ec;
        if (!std::filesystem::exists(p, ec)) throw Failure("no such file");
        if (std::filesystem::file_size(p, ec) == 0) throw Failure("empty file (not a SuperLens activation cache)");
        throw Failure("not an HDF5 file (not a SuperLens activation cache)");
    }
    h5::fail("damaged or truncated HDF5 file, cannot open it");
}

Header readHeader(hid_t file, bool withVocab) {
    Handle root = owned(H5Gopen2(file, "/", H5P_DEFAULT), H5Gclose, "cannot open the root group");
    if (!h5::hasAttribute(root, "format")) {
        throw Failure("not a SuperLens activation cache (an HDF5 file without the root attribute format=\"" +
                      std::string(kCacheFormat) + "\")");
    }
    std::string format;
    try {
        format = h5::readStringAttr(root, "format");
    } catch (const Failure&) {
        throw Failure("not a SuperLens activation cache (its root attribute 'format' is not a string)");
    }
    if (format != kCacheFormat) throw Failure("not a SuperLens activation cache (its format attribute is '" + format + "')");
    Header h;
    try {
        const std::int64_t v = h5::readInt64Attr(root, "version");
        if (v < 1) damaged("version " + std::to_string(v));
        if (v > kCacheVersion) {
            throw Failure("written by a newer SuperLens (cache version " + std::to_string(v) + "; this build reads version " +
                          std::to_string(kCacheVersion) + ")");
        }
        h.version = static_cast<int>(v);
        h.configJson = h5::readStringAttr(root, "model_config");
        h.fingerprint = h5::readStringAttr(root, "model_fingerprint");
    } catch (const Failure& f) {
        const std::string m = f.what();
        if (m.rfind("written by a newer", 0) == 0 || m.rfind("damaged", 0) == 0) throw;
        damaged(m);
    }
    h.name = stringOr(root, "model_name", "");
    h.dtype = stringOr(root, "model_dtype", "");
    h.parameters = h5::hasAttribute(root, "model_parameters") ? h5::readInt64Attr(root, "model_parameters") : 0;
    if (withVocab && hasVocab(file)) {
        h.vocabPieces = h5::readStringDataset(file, "/vocab/pieces");
        if (h5::exists(file, "/vocab/texts")) h.vocabTexts = h5::readStringDataset(file, "/vocab/texts");
    }
    return h;
}

std::int64_t hookWidth(const ModelConfig& c, HookKind kind) {
    switch (kind) {
        case HookKind::AttnPattern: return c.numHeads;
        case HookKind::MlpPre:
        case HookKind::MlpPost: return c.intermediateSize;
        case HookKind::ExpertPre:
        case HookKind::ExpertPost: return c.experts.intermediate;
        case HookKind::SharedPre:
        case HookKind::SharedPost: return c.experts.sharedIntermediate;
        case HookKind::ExpertWeights: return c.experts.count;
        case HookKind::ExpertIndices: return c.experts.topK;
        default: return c.hiddenSize;
    }
}

std::optional<ModelConfig> checkingConfig(const Header& header, const CacheModelInfo* model) {
    if (model && model->config) return *model->config;
    if (header.configJson.empty()) return std::nullopt;
    auto parsed = ModelConfig::parse(header.configJson, "model_config");
    if (!parsed) return std::nullopt;
    return std::move(parsed).value();
}

namespace {

// "float32" etc. for messages.
std::string typeText(hid_t t) {
    const H5T_class_t c = H5Tget_class(t);
    const std::size_t size = H5Tget_size(t);
    if (c == H5T_FLOAT) return "float" + std::to_string(size * 8);
    if (c == H5T_INTEGER) return std::string(H5Tget_sign(t) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(size * 8);
    if (c == H5T_STRING) return "string";
    return "a non-numeric type";
}

void requireType(hid_t dataset, const std::string& path, bool floating) {
    Handle t = owned(H5Dget_type(dataset), H5Tclose, "cannot read " + path);
    const bool ok = floating ? (H5Tget_class(t) == H5T_FLOAT && H5Tget_size(t) == 4)
                             : (H5Tget_class(t) == H5T_INTEGER && H5Tget_size(t) == 4 && H5Tget_sign(t) == H5T_SGN_2);
    if (!ok) damaged(path + " holds " + typeText(t) + ", not " + (floating ? "float32" : "int32"));
}

std::string shapeText(const std::vector<std::int64_t>& s) {
    std::string out = "[";
    for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

}  // namespace

std::vector<CachedRunInfo> readRuns(hid_t file, const ModelConfig* config) {
    std::vector<CachedRunInfo> runs;
    std::optional<HookLayout> layout;
    if (config) layout = hookLayoutOf(*config);
    const std::string modelText = config ? "this " + config->familyName + " model" : std::string();
    if (!h5::exists(file, "/runs")) damaged("missing group /runs");
    Handle group = owned(H5Gopen2(file, "/runs", H5P_DEFAULT), H5Gclose, "cannot open /runs");
    for (const std::string& name : h5::linkNames(group)) {
        // Entries that are not run numbers (added by other tools) are ignored.
        const auto index = runIndexFromName(name);
        if (!index) continue;
        const std::string path = runPath(*index);
        try {
            Handle g = owned(H5Gopen2(file, path.c_str(), H5P_DEFAULT), H5Gclose, "cannot open " + path);
            CachedRunInfo info;
            info.index = *index;
            info.prompt = h5::readStringAttr(g, "prompt");
            info.edits = jsonStringList(h5::readStringAttr(g, "edits"), path + " attribute 'edits'");
            info.hookPatterns = h5::hasAttribute(g, "hook_patterns")
                                    ? jsonStringList(h5::readStringAttr(g, "hook_patterns"), path + " attribute 'hook_patterns'")
                                    : std::vector<std::string>{};
            info.precision = stringOr(g, "precision", "float32");
            info.allPositionLogits = stringOr(g, "logits_positions", "last") == "all";
            info.seconds = h5::hasAttribute(g, "seconds") ? h5::readDoubleAttr(g, "seconds") : 0.0;
            info.created = stringOr(g, "created", "");
            info.metadataJson = stringOr(g, "metadata", "{}");
            if (h5::exists(g, "pixel_values")) {
                // An image run (vision models): pixel values instead of token ids.
                Handle ds = owned(H5Dopen2(g, "pixel_values", H5P_DEFAULT), H5Dclose, "cannot open " + path + "/pixel_values");
                requireType(ds, path + "/pixel_values", true);
                info.pixelShape = h5::datasetShape(ds);
                const auto& s = info.pixelShape;
                if (s.size() != 3 || s[0] < 1 || s[0] > kMaxImageChannels || s[1] < 1 || s[1] > kMaxImageSide || s[2] < 1 || s[2] > kMaxImageSide) {
                    damaged(path + "/pixel_values has shape " + shapeText(s) + ", not [channels, height, width] of an image");
                }
                if (h5::exists(g, "token_ids")) damaged(path + " has both pixel_values and token_ids");
                info.pixelsFingerprint = h5::readStringAttr(g, "pixels_fingerprint");
                info.imagePositions = h5::readInt64Attr(g, "positions");
                if (config && config->pixelInput) {
                    if (s[0] != config->numChannels) {
                        damaged(path + "/pixel_values has " + std::to_string(s[0]) + " channels; " + modelText + " reads " +
                                std::to_string(config->numChannels));
                    }
                    if (s[1] < config->patchSize || s[2] < config->patchSize ||
                        info.imagePositions != config->imageTokenCount(static_cast<int>(s[1]), static_cast<int>(s[2]))) {
                        damaged(path + " attribute 'positions' (" + std::to_string(info.imagePositions) + ") does not fit a " + shapeText(s) +
                                " image in " + modelText);
                    }
                } else if (config) {
                    damaged(path + " is an image run; " + modelText + " reads tokens");
                }
                if (info.imagePositions < 1 || info.imagePositions > (std::int64_t{1} << 24)) {
                    damaged(path + " attribute 'positions' is " + std::to_string(info.imagePositions));
                }
            } else {
                {
                    Handle ds = owned(H5Dopen2(g, "token_ids", H5P_DEFAULT), H5Dclose, "cannot open " + path + "/token_ids");
                    requireType(ds, path + "/token_ids", false);
                }
                const auto ids = h5::readInt32Dataset(g, "token_ids");
                info.tokens.assign(ids.begin(), ids.end());
                if (info.tokens.empty()) damaged(path + "/token_ids is empty");
            }
            const std::int64_t T = info.positions();
            if (config && config->vocabSize > 0) {
                for (std::size_t i = 0; i < info.tokens.size(); ++i) {
                    const TokenId id = info.tokens[i];
                    if (id < 0 || id >= config->vocabSize) {
                        damaged(path + "/token_ids[" + std::to_string(i) + "] is " + std::to_string(id) + ", outside " + modelText +
                                "'s vocabulary of " + std::to_string(config->vocabSize) + " tokens");
                    }
                }
            }
            if (h5::exists(g, "token_strings")) info.tokenStrings = h5::readStringDataset(g, "token_strings");
            if (h5::exists(g, "token_texts")) info.tokenTexts = h5::readStringDataset(g, "token_texts");
            if (!info.tokenStrings.empty() && static_cast<std::int64_t>(info.tokenStrings.size()) != T) {
                damaged(path + "/token_strings has " + std::to_string(info.tokenStrings.size()) + " entries for " + std::to_string(T) + " tokens");
            }
            if (!info.tokenTexts.empty() && static_cast<std::int64_t>(info.tokenTexts.size()) != T) {
                damaged(path + "/token_texts has " + std::to_string(info.tokenTexts.size()) + " entries for " + std::to_string(T) + " tokens");
            }
            if (h5::exists(g, "logits")) {
                Handle ds = owned(H5Dopen2(g, "logits", H5P_DEFAULT), H5Dclose, "cannot open " + path + "/logits");
                requireType(ds, path + "/logits", true);
                info.logitsShape = h5::datasetShape(ds);
                const auto& s = info.logitsShape;
                const std::int64_t rows = info.allPositionLogits ? T : 1;
                if (s.size() != 2 || s[0] != rows) {
                    damaged(path + "/logits has shape " + shapeText(s) + ", not [" + std::to_string(rows) + ", vocabulary] for " +
                            std::to_string(T) + " tokens (logits_positions '" + (info.allPositionLogits ? "all" : "last") + "')");
                }
                if (config && config->vocabSize > 0 && s[1] != config->vocabSize) {
                    damaged(path + "/logits has " + std::to_string(s[1]) + " columns; " + modelText + "'s vocab_size is " +
                            std::to_string(config->vocabSize));
                }
            }
            for (const std::string& child : h5::linkNames(g)) {
                const auto point = parseHookName(child);
                if (!point) continue;
                const std::string where = path + "/" + child;
                if (layout && !layout->has(*point)) damaged(where + ": " + modelText + " has no such hook (" + layout->missingReason(*point) + ")");
                Handle ds = owned(H5Dopen2(g, child.c_str(), H5P_DEFAULT), H5Dclose, "cannot open " + where);
                requireType(ds, where, true);
                CachedHook hook{child, *point, h5::datasetShape(ds)};
                const auto& s = hook.shape;
                const bool pattern = point->kind == HookKind::AttnPattern;
                const bool shapeOk = pattern ? (s.size() == 3 && s[1] == T && s[2] == T) : (s.size() == 2 && s[0] == T);
                if (!shapeOk) damaged(where + " has shape " + shapeText(s) + ", which does not fit " + std::to_string(T) + " tokens");
                if (config) {
                    const std::int64_t want = hookWidth(*config, point->kind);
                    const std::int64_t got = pattern ? s[0] : s[1];
                    if (got != want) {
                        damaged(where + " has shape " + shapeText(s) + "; " + modelText + " gives " +
                                (pattern ? "[" + std::to_string(want) + ", T, T] (heads)" : "[T, " + std::to_string(want) + "]"));
                    }
                }
                info.hooks.push_back(std::move(hook));
            }
            std::sort(info.hooks.begin(), info.hooks.end(), [](const CachedHook& a, const CachedHook& b) { return a.point < b.point; });
            runs.push_back(std::move(info));
        } catch (const Failure& f) {
            const std::string m = f.what();
            if (m.rfind("damaged", 0) == 0) throw;
            damaged(path + ": " + m);
        }
    }
    std::sort(runs.begin(), runs.end(), [](const CachedRunInfo& a, const CachedRunInfo& b) { return a.index < b.index; });
    return runs;
}

void writeHeader(hid_t file, const CacheModelInfo& model) {
    Handle root = owned(H5Gopen2(file, "/", H5P_DEFAULT), H5Gclose, "cannot open the root group");
    h5::writeStringAttr(root, "format", kCacheFormat);
    h5::writeInt32Attr(root, "version", kCacheVersion);
    h5::writeStringAttr(root, "model_config", model.configJson);
    h5::writeStringAttr(root, "model_fingerprint", model.fingerprint);
    h5::writeStringAttr(root, "model_name", model.name);
    h5::writeStringAttr(root, "model_dtype", model.dtype);
    h5::writeInt64Attr(root, "model_parameters", model.parameters);
    h5::writeStringAttr(root, "created_by", "SuperLens 0.1.0");
    Handle runs = owned(H5Gcreate2(file, "/runs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, "cannot create /runs");
}

bool hasVocab(hid_t file) { return h5::exists(file, "/vocab") && h5::exists(file, "/vocab/pieces"); }

void writeVocab(hid_t file, const CacheModelInfo& model) {
    if (model.vocabPieces.empty()) return;
    if (!h5::exists(file, "/vocab")) {
        Handle g = owned(H5Gcreate2(file, "/vocab", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, "cannot create /vocab");
    }
    h5::writeStringDataset(file, "/vocab/pieces", model.vocabPieces);
    if (!model.vocabTexts.empty()) h5::writeStringDataset(file, "/vocab/texts", model.vocabTexts);
}

namespace {

void checkValues(const ActivationTensor& t, const std::string& name) {
    std::int64_t n = 1;
    for (auto d : t.shape) {
        if (d < 0) throw Failure(name + " has a negative dimension");
        n *= d;
    }
    if (t.shape.empty() || n != static_cast<std::int64_t>(t.values.size())) {
        throw Failure(name + ": " + std::to_string(t.values.size()) + " values do not fill its shape");
    }
}

}  // namespace

void validateHook(const std::string& name, const ActivationTensor& t, std::int64_t tokens) {
    const auto point = parseHookName(name);
    if (!point) throw Failure("'" + name + "' is not a hook name");
    checkValues(t, name);
    const auto& s = t.shape;
    const bool pattern = point->kind == HookKind::AttnPattern;
    const bool ok = pattern ? (s.size() == 3 && s[1] == tokens && s[2] == tokens) : (s.size() == 2 && s[0] == tokens);
    if (!ok) throw Failure(name + " has a shape that does not fit " + std::to_string(tokens) + " tokens");
}

void validateRun(const CaptureRun& run) {
    const std::int64_t T = run.positions();
    if (run.pixels) {
        const PixelTensor& px = *run.pixels;
        if (!run.tokens.empty()) throw Failure("an image run has no token ids");
        if (px.channels < 1 || px.height < 1 || px.width < 1 ||
            static_cast<std::size_t>(px.channels) * static_cast<std::size_t>(px.height) * static_cast<std::size_t>(px.width) != px.values.size()) {
            throw Failure("the image's pixel values do not fill its shape");
        }
        if (T < 1) throw Failure("an image run needs at least one position");
    }
    if (T == 0) throw Failure("a run needs at least one token");
    if (!run.tokenStrings.empty() && static_cast<std::int64_t>(run.tokenStrings.size()) != T) {
        throw Failure("token strings (" + std::to_string(run.tokenStrings.size()) + ") do not match the " + std::to_string(T) + " tokens");
    }
    if (!run.tokenTexts.empty() && static_cast<std::int64_t>(run.tokenTexts.size()) != T) {
        throw Failure("token texts (" + std::to_string(run.tokenTexts.size()) + ") do not match the " + std::to_string(T) + " tokens");
    }
    for (const auto& [name, tensor] : run.hooks) {
        if (!tensor) throw Failure(name + " has no values");
        validateHook(name, *tensor, T);
    }
    if (run.logits) {
        checkValues(*run.logits, "logits");
        const auto& s = run.logits->shape;
        if (s.size() != 2 || s[0] != (run.allPositionLogits ? T : 1)) throw Failure("logits shape does not fit the run");
    }
    if (run.metadataJson.empty() || !nlohmann::json::accept(run.metadataJson)) throw Failure("run metadata is not valid JSON");
}

namespace {

void writeFloat(hid_t loc, const std::string& name, const ActivationTensor& t, const CacheCompression& compression) {
    std::vector<hsize_t> dims(t.shape.begin(), t.shape.end());
    Handle space = owned(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose, "cannot create a dataspace");
    Handle dcpl = owned(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "cannot create dataset properties");
    h5::check(H5Pset_obj_track_times(dcpl, false), "cannot set dataset properties");
    const bool empty = std::any_of(dims.begin(), dims.end(), [](hsize_t d) { return d == 0; });
    if (!empty) {
        const auto c = chunkShape(t.shape);
        std::vector<hsize_t> chunk(c.begin(), c.end());
        h5::check(H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data()), "cannot set the chunk shape of " + name);
        // Every chunk is written in full right away: no fill values first.
        h5::check(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER), "cannot set dataset properties");
        if (compression.shuffle) h5::check(H5Pset_shuffle(dcpl), "cannot enable the shuffle filter");
        if (compression.gzipLevel > 0) {
            h5::check(H5Pset_deflate(dcpl, static_cast<unsigned>(compression.gzipLevel)), "cannot enable gzip compression");
            // Compressed values go through HDF5's filter pipeline anyway: a
            // Fletcher-32 checksum per chunk costs little next to gzip, and a
            // damaged byte then fails the read instead of inflating to garbage.
            // Uncompressed values stay unchecked: the checksum would add 40-70 %
            // to the default write (0.28 -> 0.40-0.48 s for TinyLlama's 228 MB,
            // bench_capture), past its 15 %-of-a-forward-pass budget.
            h5::check(H5Pset_fletcher32(dcpl), "cannot enable the Fletcher-32 checksum");
        }
    }
    // No chunk cache: every chunk is written whole, once, so HDF5 can write
    // straight from our buffer instead of staging each chunk in its cache.
    Handle dapl = owned(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose, "cannot create dataset access properties");
    h5::check(H5Pset_chunk_cache(dapl, 0, 0, 1.0), "cannot configure the chunk cache");
    Handle ds = owned(H5Dcreate2(loc, name.c_str(), H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, dapl), H5Dclose,
                      "cannot create dataset " + name);
    if (!empty) h5::check(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.values.data()), "cannot write dataset " + name);
    if (!ds.close()) h5::fail("cannot write dataset " + name);
}

}  // namespace

RunGroup beginRun(hid_t file, int index, const CaptureRun& run) {
    RunGroup out;
    out.path = runPath(index);
    out.tokens = run.positions();
    Handle gcpl = owned(H5Pcreate(H5P_GROUP_CREATE), H5Pclose, "cannot create group properties");
    h5::check(H5Pset_obj_track_times(gcpl, false), "cannot set group properties");
    out.group = owned(H5Gcreate2(file, out.path.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT), H5Gclose, "cannot create " + out.path);
    const Handle& g = out.group;

    CachedRunInfo& info = out.info;
    info.index = index;
    info.prompt = run.prompt;
    info.tokens = run.tokens;
    if (run.pixels) {
        info.pixelShape = {run.pixels->channels, run.pixels->height, run.pixels->width};
        info.pixelsFingerprint = pixelsFingerprint(*run.pixels);
        info.imagePositions = run.imagePositions;
    }
    info.tokenStrings = run.tokenStrings;
    info.tokenTexts = run.tokenTexts;
    info.edits = run.edits;
    info.hookPatterns = run.hookPatterns;
    info.precision = run.precision;
    info.allPositionLogits = run.allPositionLogits;
    info.created = utcNow();
    info.metadataJson = run.metadataJson;

    h5::writeStringAttr(g, "prompt", run.prompt);
    h5::writeStringAttr(g, "edits", jsonList(run.edits));
    h5::writeStringAttr(g, "hook_patterns", jsonList(run.hookPatterns));
    h5::writeStringAttr(g, "precision", run.precision);
    h5::writeStringAttr(g, "logits_positions", run.allPositionLogits ? "all" : "last");
    h5::writeStringAttr(g, "created", info.created);
    h5::writeStringAttr(g, "metadata", run.metadataJson);

    if (run.pixels) {
        // An image run: the exact pixel values that ran instead of token ids.
        ActivationTensor px;
        px.shape = info.pixelShape;
        px.values = run.pixels->values;
        writeFloat(g, "pixel_values", px, CacheCompression{});
        h5::writeStringAttr(g, "pixels_fingerprint", info.pixelsFingerprint);
        h5::writeInt64Attr(g, "positions", info.imagePositions);
    } else {
        h5::writeInt32Dataset(g, "token_ids", std::vector<std::int32_t>(run.tokens.begin(), run.tokens.end()));
    }
    if (!run.tokenStrings.empty()) h5::writeStringDataset(g, "token_strings", run.tokenStrings);
    if (!run.tokenTexts.empty()) h5::writeStringDataset(g, "token_texts", run.tokenTexts);
    return out;
}

void writeRunHook(RunGroup& run, const std::string& name, const ActivationTensor& t, const CacheCompression& compression,
                  std::uint64_t& rawBytes) {
    writeFloat(run.group, name, t, compression);
    rawBytes += t.values.size() * sizeof(float);
    run.info.hooks.push_back({name, *parseHookName(name), t.shape});
}

CachedRunInfo finishRun(RunGroup& run, const ActivationTensor* logits, double seconds, const CacheCompression& compression,
                        std::uint64_t& rawBytes) {
    if (logits) {
        writeFloat(run.group, "logits", *logits, compression);
        rawBytes += logits->values.size() * sizeof(float);
        run.info.logitsShape = logits->shape;
    }
    run.info.seconds = seconds;
    h5::writeDoubleAttr(run.group, "seconds", seconds);
    if (!run.group.close()) h5::fail("cannot write " + run.path);
    return std::move(run.info);
}

ActivationTensor readFloat(hid_t file, int run, const std::string& name, std::optional<std::pair<std::int64_t, std::int64_t>> slice) {
    const std::string path = runPath(run) + "/" + name;
    Handle ds = owned(H5Dopen2(file, path.c_str(), H5P_DEFAULT), H5Dclose, "cannot open " + path);
    Handle ftype = owned(H5Dget_type(ds), H5Tclose, "cannot read " + path);
    if (H5Tget_class(ftype) != H5T_FLOAT) throw Failure(path + " is not a float dataset");
    ActivationTensor t;
    t.shape = h5::datasetShape(ds);
    if (t.shape.empty()) throw Failure(path + " is a scalar, not an array");
    Handle fileSpace = owned(H5Dget_space(ds), H5Sclose, "cannot read " + path);
    Handle memSpace;
    if (slice) {
        const auto [first, count] = *slice;
        if (first < 0 || count < 0 || first + count > t.shape[0]) {
            throw Failure(path + ": rows " + std::to_string(first) + ".." + std::to_string(first + count) + " are outside 0.." +
                          std::to_string(t.shape[0]));
        }
        t.shape[0] = count;
        std::vector<hsize_t> start(t.shape.size(), 0), dims(t.shape.begin(), t.shape.end());
        start[0] = static_cast<hsize_t>(first);
        h5::check(H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, start.data(), nullptr, dims.data(), nullptr), "cannot select rows of " + path);
        memSpace = owned(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose, "cannot read " + path);
    }
    std::uint64_t n = 1;
    for (auto d : t.shape) {
        if (d < 0 || (d > 0 && n > (std::uint64_t{1} << 62) / static_cast<std::uint64_t>(d))) throw Failure(path + " has a damaged shape");
        n *= static_cast<std::uint64_t>(d);
    }
    h5::checkDeclaredSize(ds, n, path);
    t.values.resize(static_cast<std::size_t>(n));
    if (n > 0) {
        h5::check(H5Dread(ds, H5T_NATIVE_FLOAT, slice ? memSpace.id() : H5S_ALL, slice ? fileSpace.id() : H5S_ALL, H5P_DEFAULT,
                          t.values.data()),
                  "cannot read " + path);
    }
    return t;
}

}  // namespace superlens::core::cachelayout
