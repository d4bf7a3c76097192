#include "lens_session.h"

#include <algorithm>
#include <map>

#include <QDir>
#include <QFileInfo>
#include <QSettings>
#include <QStandardPaths>

#include "superlens/core/model/mapped_file.h"
#include "superlens/core/view/build_view_snapshot.h"
#include "jobs/job_lane.h"
#include "path_conversion.h"
#include "session_run_cache.h"
#include "superlens/core/analysis/metrics.h"
#include "superlens/core/analysis/stopwords.h"
#include "superlens/core/analysis/super_experts.h"
#include "superlens/core/analysis/superweight_study.h"
#include "superlens/core/cache/activation_cache.h"
#include "superlens/core/model/image_input.h"
#include "superlens/core/model/npy.h"
#include "superlens/core/tokenizer/token_ids.h"

namespace superlens::gui {

QString modelDisplayName(const core::Model& model) {
    const std::string& name = model.config().nameOrPath;
    if (!name.empty()) return QString::fromStdString(name);
    return QFileInfo(toQString(model.folder())).fileName();
}

LensSession::LensSession(QObject* parent)
    : QObject(parent),
      m_loadLane(new JobLane(QStringLiteral("load"), this)),
      m_runLane(new JobLane(QStringLiteral("run"), this)),
      m_editLane(new JobLane(QStringLiteral("edit"), this)),
      m_metricLane(new JobLane(QStringLiteral("metric"), this)),
      m_compareLane(new JobLane(QStringLiteral("compare"), this)),
      m_imatrixLane(new JobLane(QStringLiteral("imatrix"), this)) {
    for (JobLane* lane : lanes()) connectLane(lane);
    // $SUPERLENS_RUN_CACHE: "off" disables the run cache, a folder overrides its place.
    const QString env = qEnvironmentVariable("SUPERLENS_RUN_CACHE");
    if (env == QLatin1String("off")) {
        m_runCacheDir.clear();
    } else if (!env.isEmpty()) {
        m_runCacheDir = env;
    } else if (QSettings().value(QStringLiteral("runCache/enabled"), true).toBool()) {
        m_runCacheDir = QStandardPaths::writableLocation(QStandardPaths::CacheLocation);
    }
}

LensSession::~LensSession() {
    cancelAll();
    for (JobLane* lane : lanes()) lane->waitForIdle();
}

QList<JobLane*> LensSession::lanes() const { return {m_loadLane, m_runLane, m_editLane, m_metricLane, m_compareLane, m_imatrixLane}; }

void LensSession::connectLane(JobLane* lane) {
    connect(lane, &JobLane::started, this, &LensSession::jobStarted);
    connect(lane, &JobLane::progress, this, &LensSession::jobProgress);
    connect(lane, &JobLane::finished, this, [this](const QString& label, bool ok, const QString& message) {
        emit jobFinished(label, ok, message);
        if (!ok && message != QLatin1String(core::kCancelledMessage)) emit errorOccurred(label + QStringLiteral(": ") + message);
        checkIdle();
    });
    connect(lane, &JobLane::cancelled, this, [this](const QString& label) {
        emit statusMessage(tr("%1 cancelled").arg(label));
        emit jobFinished(label, false, QString::fromLatin1(core::kCancelledMessage));
    });
}

bool LensSession::isIdle() const {
    for (JobLane* lane : lanes()) {
        if (lane->isRunning()) return false;
    }
    return true;
}

void LensSession::checkIdle() {
    if (isIdle()) emit idle();
}

void LensSession::cancelAll() {
    for (JobLane* lane : lanes()) lane->cancel();
}

void LensSession::setComputeDtype(core::ComputeDtype dtype) {
    if (dtype == m_compute) return;
    m_compute = dtype;
    if (m_model && !m_showingCache) openModel(m_model->folder);
    emit statusMessage(tr("Compute precision: %1").arg(QString::fromLatin1(core::computeDtypeName(dtype))));
}

namespace {

// Model, tokenizer and engine of a folder or .gguf file (on a worker).
core::Result<std::shared_ptr<const LoadedModel>> loadModel(const std::filesystem::path& path, const QString& folder,
                                                         core::ComputeDtype compute = core::ComputeDtype::Float32) {
    auto model = core::Model::open(path);
    if (!model) return model.error();
    auto loaded = std::make_shared<LoadedModel>();
    loaded->model = *model;
    loaded->folder = folder;
    loaded->displayName = modelDisplayName(**model);
    if (core::Tokenizer::modelHasTokenizer(**model)) {
        auto tok = core::Tokenizer::loadForModel(**model);
        if (!tok) return tok.error();
        loaded->tokenizer = std::shared_ptr<const core::Tokenizer>(std::move(tok).value());
        loaded->stopwordIds = core::stopwordTokenIds(*loaded->tokenizer, core::englishStopwords());
    }
    core::EngineOptions options;
    options.compute = compute;
    loaded->engine = std::make_shared<core::Engine>(loaded->model, options);
    loaded->published = core::PublishedCoordinates::bundled().match((*model)->config(), path.filename().string());
    return std::shared_ptr<const LoadedModel>(loaded);
}

}  // namespace

void LensSession::openModel(const QString& folder) {
    cancelAll();
    const std::filesystem::path path = toPath(folder);
    const core::ComputeDtype compute = m_compute;
    m_loadLane->start<std::shared_ptr<const LoadedModel>>(
        tr("Opening %1").arg(QFileInfo(folder).fileName()),
        [path, folder, compute](const core::RunControl&) { return loadModel(path, folder, compute); },
        [this](core::Result<std::shared_ptr<const LoadedModel>>& result) {
            if (!result) return;  // errorOccurred is emitted by the lane's finished signal
            m_model = *result;
            m_showingCache = false;
            m_heldOutUnedited.reset();
            m_tokens.clear();
            m_pixels.reset();
            m_imageFile.clear();
            m_original.reset();
            m_originalExpertProfile.reset();
            m_lastEdited.reset();
            m_superWeights.clear();
            m_scanned = false;
            m_perplexity.reset();
            m_originalPerplexity.reset();
            m_perplexityFile.clear();
            m_snapshot.reset();
            // Model B was compared with the previous model.
            const bool hadB = m_modelB != nullptr;
            m_modelB.reset();
            m_comparison.reset();
            m_lastB.reset();
            m_overlayB = false;
            emit superWeightsChanged();
            emit snapshotReady(nullptr);
            emit modelOpened();
            if (hadB) emit modelBChanged();
            emit statusMessage(tr("Opened %1").arg(m_model->displayName));
        });
}

namespace {

struct CacheOutcome {
    core::view::SnapshotPtr snapshot;
    QString description;
};

}  // namespace

void LensSession::openActivations(const QString& file) {
    cancelAll();
    const std::filesystem::path path = toPath(file);
    m_loadLane->start<CacheOutcome>(
        tr("Reading %1").arg(QFileInfo(file).fileName()),
        [path, file](const core::RunControl& control) -> core::Result<CacheOutcome> {
            auto cache = core::ActivationCache::open(path);
            if (!cache) return cache.error();
            const auto& runs = (*cache)->runs();
            const core::CachedRunInfo* original = nullptr;
            for (const auto& r : runs) {
                if (r.edits.empty()) {
                    original = &r;
                    break;
                }
            }
            if (!original) return core::Error{path.string() + ": no run without edits to show as the original"};
            const core::CachedRunInfo* edited = nullptr;
            for (const auto& r : runs) {
                if (!r.edits.empty() && r.tokens == original->tokens) edited = &r;
            }
            auto config = (*cache)->modelConfig();
            if (!config) return config.error();
            auto o = (*cache)->readRun(original->index);
            if (!o) return o.error();
            if (control.isCancelled()) return core::Error{core::kCancelledMessage};
            core::view::SnapshotInputs in;
            in.modelName = (*cache)->modelName();
            in.config = &*config;
            in.vocabTexts = (*cache)->vocabTexts();
            in.original = *o;
            if (edited) {
                auto e = (*cache)->readRun(edited->index);
                if (!e) return e.error();
                in.edited = *e;
            }
            auto snap = core::view::buildViewSnapshot(in, control);
            if (!snap) return core::Error{path.string() + ": " + snap.error().message};
            CacheOutcome out;
            out.snapshot = *snap;
            out.description = QStringLiteral("%1: run %2%3 of %4 (%5 runs)")
                                  .arg(QFileInfo(file).fileName())
                                  .arg(original->index)
                                  .arg(edited ? QStringLiteral(" vs edited run %1").arg(edited->index) : QString())
                                  .arg(QString::fromStdString((*cache)->modelName()))
                                  .arg(runs.size());
            return out;
        },
        [this](core::Result<CacheOutcome>& result) {
            if (!result) return;
            m_model.reset();
            m_showingCache = true;
            m_tokens = result->snapshot->tokens;
            m_original = result->snapshot->original;
            m_originalExpertProfile.reset();
            m_lastEdited.reset();
            m_superWeights.clear();
            m_scanned = false;
            m_perplexity.reset();
            m_snapshot = result->snapshot;
            emit superWeightsChanged();
            emit activationsOpened(result->description);
            emit snapshotReady(m_snapshot);
        });
}

core::Result<std::vector<core::TokenId>> LensSession::tokensFor(const QString& text, bool asIds) const {
    if (!m_model) return core::Error{"no model is open"};
    if (isVisionModel()) return core::Error{kTextToVisionModel};
    if (asIds || !m_model->tokenizer) {
        // The CLI's --ids rule (core::parseTokenIds): commas and/or white space between ids.
        const QByteArray utf8 = text.toUtf8();
        auto ids = core::parseTokenIds(std::string_view(utf8.constData(), static_cast<std::size_t>(utf8.size())), m_model->model->config().vocabSize,
                                       "token ids");
        if (!ids && !m_model->tokenizer) return core::Error{ids.error().message + "; this model has no tokenizer: type token ids, e.g. 1, 5, 9"};
        return ids;
    }
    const QByteArray utf8 = text.toUtf8();
    std::vector<core::TokenId> ids = m_model->tokenizer->encode(std::string_view(utf8.constData(), static_cast<std::size_t>(utf8.size())), true);
    if (ids.empty()) return core::Error{"the prompt is empty"};
    return ids;
}

namespace {

struct RunOutcome {
    std::shared_ptr<const core::ForwardResult> original;
    std::shared_ptr<const core::PixelTensor> pixels;  // vision models: the image that ran
    std::vector<core::SuperWeight> superWeights;
    std::shared_ptr<const core::SuperExpertProfile> expertProfile;  // the scan's, on mixture-of-experts models
    bool scanned = false;
    bool reused = false;   // read from the run cache, not computed
    QString cacheNote;     // what the run cache did, for the status bar
};

// Runs larger files than this start the run cache afresh (it is only a cache).
constexpr std::uint64_t kRunCacheBudgetBytes = 2ull << 30;

}  // namespace

bool LensSession::isVisionModel() const { return m_model && m_model->model->config().pixelInput; }

void LensSession::run(const std::vector<core::TokenId>& tokens, bool scan) {
    if (!m_model) {
        emit errorOccurred(tr("Open a model first (File → Open model)."));
        return;
    }
    if (isVisionModel()) {
        emit errorOccurred(QString::fromUtf8(kTextToVisionModel));
        return;
    }
    runInput(tokens, QString(), scan);
}

void LensSession::runImage(const QString& imageFile, bool scan) {
    if (!m_model) {
        emit errorOccurred(tr("Open a model first (File → Open model)."));
        return;
    }
    if (!isVisionModel()) {
        emit errorOccurred(QString::fromUtf8(kImageToTextModel));
        return;
    }
    runInput({}, imageFile, scan);
}

core::Result<std::shared_ptr<const core::PixelTensor>> loadPixelsForModel(const core::Model& model, const QString& imageFile) {
    // The image is read and preprocessed by core (Pillow's resampling, the
    // processor's crop / rescale / normalise), as `--image` / `--pixels` do.
    const std::filesystem::path path = toPath(imageFile);
    auto px = imageFile.endsWith(QLatin1String(".npy"), Qt::CaseInsensitive) ? core::loadNpy(path) : core::loadImageForModel(path, model.folder());
    if (!px) return px.error();
    return std::make_shared<const core::PixelTensor>(std::move(px).value());
}

void LensSession::runInput(const std::vector<core::TokenId>& tokens, const QString& imageFile, bool scan) {
    m_editLane->cancel();
    m_metricLane->cancel();
    auto loaded = m_model;
    // Super weights are properties of the weights: a new prompt keeps the last scan unless asked to rescan.
    const bool keepScan = !scan && m_scanned;
    auto previousWeights = m_superWeights;
    // The run cache holds exact (fp32) runs only, and keys runs by their tokens: images are not cached.
    const bool exact = loaded->engine->options().compute == core::ComputeDtype::Float32;
    const std::filesystem::path cacheFile = m_runCacheDir.isEmpty() || !exact || !imageFile.isEmpty()
                                                ? std::filesystem::path()
                                                : runCacheFile(toPath(m_runCacheDir), *loaded->model);
    // The same image again: its pixels are reused (edits and rescans of one image).
    const auto currentPixels = imageFile == m_imageFile ? m_pixels : nullptr;
    m_runLane->start<RunOutcome>(
        scan ? tr("Run and scan") : tr("Run"),
        [loaded, tokens, imageFile, currentPixels, scan, keepScan, previousWeights, cacheFile](const core::RunControl& control) -> core::Result<RunOutcome> {
            RunOutcome out;
            if (!imageFile.isEmpty()) {
                out.pixels = currentPixels;
                if (!out.pixels) {
                    auto px = loadPixelsForModel(*loaded->model, imageFile);
                    if (!px) return px.error();
                    out.pixels = *px;
                }
            }
            const core::ForwardRequest request =
                out.pixels ? core::view::viewForwardRequest(out.pixels, {}) : core::view::viewForwardRequest(tokens, {});
            const QString cacheName = QString::fromStdString(cacheFile.filename().string());
            if (!cacheFile.empty()) {
                auto cached = findCachedOriginalRun(cacheFile, *loaded->engine, request, scan);
                if (!cached) {
                    out.cacheNote = QObject::tr("run cache not used (%1)").arg(QString::fromStdString(cached.error().message));
                } else if (*cached) {
                    out.original = (*cached)->result;
                    out.reused = true;
                    out.scanned = scan || keepScan;
                    out.superWeights = scan ? (*cached)->superWeights : previousWeights;
                    out.cacheNote = QObject::tr("reused cached run %1 of %2 (same model, prompt and edits): not recomputed")
                                        .arg((*cached)->run)
                                        .arg(cacheName);
                    return out;
                }
            }
            auto original = loaded->engine->run(request, control);
            if (!original) return original.error();
            out.original = *original;
            if (scan && out.pixels) {
                core::SuperWeightScanOptions options;
                options.pixels = out.pixels;
                auto s = core::scanSuperWeights(*loaded->engine, {}, {}, options, control);
                if (!s) return s.error();
                out.superWeights = s->superWeights;
                out.scanned = true;
            } else if (scan) {
                auto s = core::findModelSuperWeights(*loaded->engine, tokens, {}, control);
                if (!s) return s.error();
                out.superWeights = s->weights;
                if (s->profile) out.expertProfile = std::make_shared<const core::SuperExpertProfile>(std::move(*s->profile));
                out.scanned = true;
            } else if (keepScan) {
                out.superWeights = previousWeights;
                out.scanned = true;
            }
            if (!cacheFile.empty() && out.cacheNote.isEmpty()) {
                auto stored = storeOriginalRun(cacheFile, *loaded->model, loaded->tokenizer.get(), **original,
                                               request.record.patternList(), scan ? &out.superWeights : nullptr, kRunCacheBudgetBytes);
                out.cacheNote = stored ? QObject::tr("run saved to the run cache %1").arg(cacheName)
                                       : QObject::tr("run cache not written (%1)").arg(QString::fromStdString(stored.error().message));
            }
            return out;
        },
        [this, tokens, imageFile](core::Result<RunOutcome>& result) {
            if (!result) return;
            m_tokens = tokens;
            m_pixels = result->pixels;
            m_imageFile = imageFile;
            m_original = result->original;
            m_originalExpertProfile = result->expertProfile;
            m_lastEdited.reset();
            const bool changed = m_scanned != result->scanned || m_superWeights.size() != result->superWeights.size() ||
                                 !std::equal(m_superWeights.begin(), m_superWeights.end(), result->superWeights.begin(),
                                             [](const auto& a, const auto& b) { return a.sameCoordinate(b); });
            m_superWeights = result->superWeights;
            m_scanned = result->scanned;
            m_lastRunReused = result->reused;
            if (changed || result->scanned) emit superWeightsChanged();
            QString message = result->scanned ? tr("Forward pass done; %n super weight(s) found", nullptr, static_cast<int>(m_superWeights.size()))
                                              : tr("Forward pass done in %1 s").arg(m_original->seconds, 0, 'f', 3);
            if (result->reused) {
                message = tr("Forward pass: %1").arg(result->cacheNote);
                if (result->scanned) message += tr("; %n super weight(s)", nullptr, static_cast<int>(m_superWeights.size()));
            }
            else if (!result->cacheNote.isEmpty()) message += QStringLiteral("; ") + result->cacheNote;
            emit statusMessage(message);
            applyEdits();
            // Model B is compared on each new prompt.
            if (m_modelB && (!m_comparison || m_comparison->tokens != m_tokens)) startComparison();
        });
}

void LensSession::rescan() {
    if (!m_tokens.empty()) run(m_tokens, true);
    else if (m_pixels) runImage(m_imageFile, true);
}

void LensSession::setEdits(const QStringList& specs) {
    m_edits = specs;
    m_perplexity.reset();  // stale until recomputed below
    applyEdits();
    // Once the user asked for perplexity, keep it current (the original value is cached).
    if (!m_perplexityFile.isEmpty()) computePerplexity(m_perplexityFile, m_perplexityMaxTokens);
}

namespace {

struct EditOutcome {
    std::shared_ptr<const core::ForwardResult> edited;
    core::view::SnapshotPtr snapshot;
    std::shared_ptr<const core::ForwardResult> heldOutUnedited;
    QString heldOutError;  // the held-out loss failed: the views still update
    std::shared_ptr<const core::ForwardResult> modelBRun;  // the Model B overlay's run
};

// The held-out loss of a snapshot being built (nothing when no text was asked for).
core::Status addHeldOutLoss(const LoadedModel& loaded, const std::string& text, const std::vector<core::EditSpec>& baseline,
                            const std::vector<core::EditSpec>& edits, std::shared_ptr<const core::ForwardResult> unedited,
                            const core::RunControl& control, core::view::SnapshotInputs* inputs, EditOutcome* out) {
    if (text.empty() || !loaded.tokenizer) return core::Status{};
    auto held = core::view::heldOutLossOf(*loaded.engine, *loaded.tokenizer, text, baseline, edits, core::view::kHeldOutLossTokens,
                                       std::move(unedited), control);
    if (!held) {
        if (held.error().message == core::kCancelledMessage) return held.error();
        out->heldOutError = QString::fromStdString(held.error().message);
        return core::Status{};
    }
    inputs->heldOutLoss = held->loss;
    out->heldOutUnedited = held->unedited;
    return core::Status{};
}

}  // namespace

void LensSession::applyEdits() {
    if (!m_model || !m_original) return;
    auto loaded = m_model;
    auto original = m_original;
    // Reuse the most recent edited run as the starting point: the engine
    // recomputes only from the first block whose edits differ.
    auto previous = (m_lastEdited && m_lastEdited->tokens == original->tokens) ? m_lastEdited : original;
    std::vector<std::string> specs;
    for (const QString& s : m_edits) specs.push_back(s.toStdString());
    core::view::SnapshotInputs base;
    base.modelName = loaded->displayName.toStdString();
    base.model = loaded->model.get();
    base.tokenizer = loaded->tokenizer.get();
    base.original = original;
    base.superWeights = m_superWeights;
    base.scanned = m_scanned;
    base.stopwordIds = loaded->stopwordIds;
    base.perplexity = m_perplexity;
    base.engine = loaded->engine.get();
    base.imageSource = m_imageFile.toStdString();
    if (m_snapshot && m_snapshot->original == original) {
        base.originalLens = m_snapshot->originalLens;
        base.expertProfile = m_snapshot->expertProfile;
        base.reuseOriginalFrom = m_snapshot;  // a toggle analyses only the edited run
    } else {
        base.expertProfile = m_originalExpertProfile;  // the scan's profile of this run, when it made one
    }
    addModelBInputs(&base);
    // The Model B overlay: B's run of the tokens, with the same edits, is the second side.
    std::shared_ptr<const LoadedModel> overlay = m_overlayB ? m_modelB : nullptr;
    auto previousB = m_lastB;
    const std::string comparisonLabel =
        overlay ? "A: " + loaded->displayName.toStdString() + " vs B: " + overlay->displayName.toStdString() : std::string();
    // The overlay compares A and B on the prompt: the held-out text's loss (A without and with edits) is left out.
    const std::string heldOut = overlay ? std::string() : m_heldOutFile.toStdString();
    auto heldOutUnedited = m_heldOutUnedited;
    auto keepB = m_modelB;  // base.modelB points into it
    m_editLane->start<EditOutcome>(
        overlay ? tr("Model B overlay") : specs.empty() ? tr("Update views") : tr("Apply %n edit(s)", nullptr, static_cast<int>(specs.size())),
        [loaded, original, previous, specs, base, heldOut, heldOutUnedited, overlay, previousB, comparisonLabel, keepB](
            const core::RunControl& control) -> core::Result<EditOutcome> {
            (void)keepB;
            EditOutcome out;
            // Positions: a vision run's image tokens, else the tokens (a run read back from the run cache has no count).
            auto edits = core::parseEdits(specs, *loaded->model, std::max<std::int64_t>(original->positions, static_cast<std::int64_t>(original->tokens.size())));
            if (!edits) return edits.error();
            if (!edits->empty()) {
                bool same = previous->edits.size() == edits->size();
                for (std::size_t i = 0; same && i < edits->size(); ++i) same = previous->edits[i].text() == (*edits)[i].text();
                if (same && previous != original) {
                    out.edited = previous;
                } else {
                    auto run = loaded->engine->run(original->pixels ? core::view::viewForwardRequest(original->pixels, *edits, previous)
                                                                    : core::view::viewForwardRequest(original->tokens, *edits, previous),
                                                   control);
                    if (!run) return run.error();
                    out.edited = *run;
                }
            }
            core::view::SnapshotInputs inputs = base;
            inputs.edited = out.edited;
            if (overlay) {
                auto editsB = core::parseEdits(specs, *overlay->model, static_cast<std::int64_t>(original->tokens.size()));
                if (!editsB) return core::Error{"model B: " + editsB.error().message};
                bool same = previousB && previousB->tokens == original->tokens && previousB->edits.size() == editsB->size();
                for (std::size_t i = 0; same && i < editsB->size(); ++i) same = previousB->edits[i].text() == (*editsB)[i].text();
                if (same) {
                    out.modelBRun = previousB;
                } else {
                    auto run = overlay->engine->run(core::view::viewForwardRequest(original->tokens, *editsB), control);
                    if (!run) return run.error();
                    out.modelBRun = *run;
                }
                if (out.edited) {
                    inputs.original = out.edited;  // A with the edits: the lens of the unedited run does not apply
                    inputs.originalLens.reset();
                }
                inputs.edited = out.modelBRun;
                inputs.editedEngine = overlay->engine.get();
                inputs.comparison = comparisonLabel;
            }
            if (auto ok = addHeldOutLoss(*loaded, heldOut, {}, *edits, heldOutUnedited, control, &inputs, &out); !ok) return ok.error();
            auto snap = core::view::buildViewSnapshot(inputs, control);
            if (!snap) return snap.error();
            out.snapshot = *snap;
            return out;
        },
        [this](core::Result<EditOutcome>& result) {
            if (!result) return;
            if (result->edited) m_lastEdited = result->edited;
            if (result->modelBRun) m_lastB = result->modelBRun;
            if (result->heldOutUnedited) m_heldOutUnedited = result->heldOutUnedited;
            if (!result->heldOutError.isEmpty()) emit errorOccurred(tr("Held-out loss: %1").arg(result->heldOutError));
            m_snapshot = result->snapshot;
            emit snapshotReady(m_snapshot);
        });
}

void LensSession::addModelBInputs(core::view::SnapshotInputs* inputs) const {
    if (m_modelB) {
        inputs->modelB = m_modelB->model.get();
        inputs->modelBName = m_modelB->displayName.toStdString();
        if (m_comparison && m_original && m_comparison->tokens == m_original->tokens) inputs->modelComparison = m_comparison;
    }
    if (m_imatrix) {
        inputs->imatrix = m_imatrix;
        inputs->imatrixName = QFileInfo(m_imatrixPath).fileName().toStdString();
    }
}

namespace {

struct ModelBOutcome {
    std::shared_ptr<const LoadedModel> model;
    std::shared_ptr<const core::ModelComparison> comparison;  // null without a prompt to compare on
};

// compareModels of A and B on the tokens (the importance matrix only when one of them names llama.cpp's tensors).
core::Result<std::shared_ptr<const core::ModelComparison>> compareOn(const LoadedModel& a, const LoadedModel& b, const std::vector<core::TokenId>& tokens,
                                                                     const std::shared_ptr<const core::Imatrix>& imatrix, const core::RunControl& control) {
    core::ModelCompareOptions options;
    if (imatrix && (a.model->isGguf() || b.model->isGguf())) options.imatrix = imatrix.get();
    auto c = core::compareModels(a.model, b.model, tokens, options, control);
    if (!c) return c.error();
    return std::make_shared<const core::ModelComparison>(std::move(c).value());
}

}  // namespace

void LensSession::openModelB(const QString& path) {
    if (!m_model) {
        emit errorOccurred(tr("Open a model first (File → Open model), then the model to compare it with."));
        return;
    }
    auto a = m_model;
    auto imatrix = m_imatrix;
    const std::vector<core::TokenId> tokens = m_tokens.size() >= 2 ? m_tokens : std::vector<core::TokenId>{};
    const std::filesystem::path file = toPath(path);
    m_compareLane->start<ModelBOutcome>(
        tr("Compare with %1").arg(QFileInfo(path).fileName()),
        [a, imatrix, tokens, file, path](const core::RunControl& control) -> core::Result<ModelBOutcome> {
            auto b = loadModel(file, path, a->engine->options().compute);  // B computes as A does
            if (!b) return b.error();
            if (auto ok = core::checkComparable(*a->model, *(*b)->model); !ok) return ok.error();
            ModelBOutcome out;
            out.model = *b;
            if (!tokens.empty()) {
                auto c = compareOn(*a, **b, tokens, imatrix, control);
                if (!c) return c.error();
                out.comparison = *c;
            }
            return out;
        },
        [this, a](core::Result<ModelBOutcome>& result) {
            if (!result || a != m_model) return;
            m_modelB = result->model;
            m_comparison = result->comparison;
            m_lastB.reset();
            emit modelBChanged();
            emit statusMessage(tr("Model B: %1 beside %2").arg(m_modelB->displayName, m_model->displayName));
            if (m_tokens.size() >= 2 && (!m_comparison || m_comparison->tokens != m_tokens)) startComparison();
            else applyEdits();
        });
}

void LensSession::startComparison() {
    if (!m_model || !m_modelB) return;
    if (m_tokens.size() < 2) {
        emit statusMessage(tr("Model B is compared on prompts of at least two tokens."));
        return;
    }
    auto a = m_model;
    auto b = m_modelB;
    auto imatrix = m_imatrix;
    const auto tokens = m_tokens;
    m_compareLane->start<std::shared_ptr<const core::ModelComparison>>(
        tr("Compare A and B"),
        [a, b, imatrix, tokens](const core::RunControl& control) { return compareOn(*a, *b, tokens, imatrix, control); },
        [this, a, b](core::Result<std::shared_ptr<const core::ModelComparison>>& result) {
            if (!result || a != m_model || b != m_modelB) return;
            m_comparison = *result;
            applyEdits();
        });
}

void LensSession::closeModelB() {
    if (!m_modelB) return;
    m_compareLane->cancel();
    m_modelB.reset();
    m_comparison.reset();
    m_lastB.reset();
    m_overlayB = false;
    emit modelBChanged();
    applyEdits();
}

void LensSession::setOverlayModelB(bool on) {
    if (on && !m_modelB) {
        emit errorOccurred(tr("Open a second model first: File → Compare with model…"));
        on = false;
    }
    if (on == m_overlayB) {
        emit modelBChanged();  // the toggle's state follows the session's
        return;
    }
    m_overlayB = on;
    emit modelBChanged();
    applyEdits();
}

void LensSession::setImatrix(const QString& path) {
    if (path.isEmpty()) {
        m_imatrixLane->cancel();
        m_imatrix.reset();
        m_imatrixPath.clear();
        applyEdits();
        return;
    }
    const std::filesystem::path file = toPath(path);
    m_imatrixLane->start<std::shared_ptr<const core::Imatrix>>(
        tr("Read %1").arg(QFileInfo(path).fileName()),
        [file](const core::RunControl&) -> core::Result<std::shared_ptr<const core::Imatrix>> {
            auto im = core::Imatrix::open(file);
            if (!im) return im.error();
            return std::make_shared<const core::Imatrix>(std::move(im).value());
        },
        [this, path](core::Result<std::shared_ptr<const core::Imatrix>>& result) {
            if (!result) return;
            m_imatrix = *result;
            m_imatrixPath = path;
            emit statusMessage(tr("Importance matrix %1: %n matrices", nullptr, static_cast<int>(m_imatrix->entries().size())).arg(QFileInfo(path).fileName()));
            // The comparison names each super weight's column importance: compare again.
            if (m_modelB && m_tokens.size() >= 2) startComparison();
            else applyEdits();
        });
}

void LensSession::setHeldOutLossText(const QString& textFile) {
    if (textFile == m_heldOutFile) return;
    m_heldOutFile = textFile;
    m_heldOutUnedited.reset();
    applyEdits();
}

void LensSession::compareRuns(const std::vector<core::TokenId>& tokens, const QStringList& editsA, const QStringList& editsB,
                              const QString& label, const QString& imageFile) {
    if (!m_model) {
        emit errorOccurred(tr("Open a model first (File → Open model)."));
        return;
    }
    auto loaded = m_model;
    // Blocks before the first edit are shared with the original run of these tokens (or this image), when there is one.
    auto base = (m_original && m_original->tokens == tokens && imageFile == m_imageFile) ? m_original : nullptr;
    const auto currentPixels = imageFile == m_imageFile ? m_pixels : nullptr;
    auto toStd = [](const QStringList& l) {
        std::vector<std::string> v;
        for (const QString& s : l) v.push_back(s.toStdString());
        return v;
    };
    const std::vector<std::string> specsA = toStd(editsA), specsB = toStd(editsB);
    core::view::SnapshotInputs inputs;
    inputs.modelName = loaded->displayName.toStdString();
    inputs.model = loaded->model.get();
    inputs.tokenizer = loaded->tokenizer.get();
    inputs.superWeights = m_superWeights;
    inputs.scanned = m_scanned;
    inputs.stopwordIds = loaded->stopwordIds;
    inputs.engine = loaded->engine.get();
    inputs.comparison = label.toStdString();
    inputs.imageSource = imageFile.toStdString();
    addModelBInputs(&inputs);
    auto keepB = m_modelB;
    const std::string heldOut = m_heldOutFile.toStdString();
    auto heldOutUnedited = m_heldOutUnedited;
    m_editLane->start<EditOutcome>(
        tr("Compare %1").arg(label),
        [loaded, tokens, imageFile, currentPixels, base, specsA, specsB, inputs, heldOut, heldOutUnedited, keepB](const core::RunControl& control) -> core::Result<EditOutcome> {
            (void)keepB;
            std::shared_ptr<const core::PixelTensor> pixels = currentPixels;
            if (!imageFile.isEmpty() && !pixels) {
                auto px = loadPixelsForModel(*loaded->model, imageFile);
                if (!px) return px.error();
                pixels = *px;
            }
            auto request = [&](std::vector<core::EditSpec> edits, std::shared_ptr<const core::ForwardResult> previous) {
                return pixels ? core::view::viewForwardRequest(pixels, std::move(edits), std::move(previous))
                              : core::view::viewForwardRequest(tokens, std::move(edits), std::move(previous));
            };
            // The unedited run of the tokens (a history run of another prompt than the current one needs its own).
            std::shared_ptr<const core::ForwardResult> unedited = base;
            if (!unedited) {
                auto run = loaded->engine->run(request({}, nullptr), control);
                if (!run) return run.error();
                unedited = *run;
            }
            auto runOf = [&](const std::vector<std::string>& specs) -> core::Result<std::shared_ptr<const core::ForwardResult>> {
                auto edits = core::parseEdits(specs, *loaded->model, std::max<std::int64_t>(unedited->positions, static_cast<std::int64_t>(tokens.size())));
                if (!edits) return edits.error();
                if (edits->empty()) return unedited;
                auto run = loaded->engine->run(request(*edits, unedited), control);
                if (!run) return run.error();
                return std::shared_ptr<const core::ForwardResult>(*run);
            };
            auto a = runOf(specsA);
            if (!a) return a.error();
            auto b = runOf(specsB);
            if (!b) return b.error();
            core::view::SnapshotInputs in = inputs;
            in.original = *a;
            in.edited = *b;
            EditOutcome out;
            if (auto ok = addHeldOutLoss(*loaded, heldOut, (*a)->edits, (*b)->edits, heldOutUnedited, control, &in, &out); !ok) return ok.error();
            auto snap = core::view::buildViewSnapshot(in, control);
            if (!snap) return snap.error();
            out.snapshot = *snap;
            return out;
        },
        [this](core::Result<EditOutcome>& result) {
            if (!result) return;
            if (result->heldOutUnedited) m_heldOutUnedited = result->heldOutUnedited;
            if (!result->heldOutError.isEmpty()) emit errorOccurred(tr("Held-out loss: %1").arg(result->heldOutError));
            m_snapshot = result->snapshot;
            emit snapshotReady(m_snapshot);
        });
}

namespace {

struct PerplexityOutcome {
    core::view::PerplexityComparison comparison;
};

}  // namespace

void LensSession::computePerplexity(const QString& textFile, int maxTokens) {
    if (!m_model) return;
    if (!m_model->tokenizer) {
        emit errorOccurred(tr("Perplexity needs a tokenizer; this model has none."));
        return;
    }
    auto loaded = m_model;
    std::vector<std::string> specs;
    for (const QString& s : m_edits) specs.push_back(s.toStdString());
    if (textFile != m_perplexityFile || maxTokens != m_perplexityMaxTokens) m_originalPerplexity.reset();
    m_perplexityFile = textFile;
    m_perplexityMaxTokens = maxTokens;
    const std::optional<double> cachedOriginal = m_originalPerplexity;
    const std::filesystem::path path = toPath(textFile);
    const QString name = QFileInfo(textFile).fileName();
    m_metricLane->start<PerplexityOutcome>(
        tr("Perplexity of %1").arg(name),
        [loaded, specs, path, name, maxTokens, cachedOriginal](const core::RunControl& control) -> core::Result<PerplexityOutcome> {
            auto text = core::readRegularFile(path, core::kMaxTextBytes);
            if (!text) return text.error();
            core::PerplexityOptions options;
            options.context = 256;
            // Windows that each start with BOS (superlens-cli's --bos-windows): the
            // massive activation and the attention sinks live on the first token,
            // so a window starting mid-text would measure a model without them.
            std::vector<core::TokenId> ids = loaded->tokenizer->bosId()
                                                 ? core::bosPrefixedWindows(loaded->tokenizer->encode(*text, false),
                                                                            *loaded->tokenizer->bosId(), options.context)
                                                 : loaded->tokenizer->encode(*text, true);
            if (static_cast<int>(ids.size()) > maxTokens) ids.resize(static_cast<std::size_t>(maxTokens));
            if (ids.size() < 2) return core::Error{path.string() + ": the text has fewer than two tokens"};
            auto edits = core::parseEdits(specs, *loaded->model, static_cast<std::int64_t>(ids.size()));
            if (!edits) return edits.error();
            PerplexityOutcome out;
            out.comparison.textName = name.toStdString();
            // Non-overlapping windows score every token but each window's first.
            const auto n = static_cast<std::int64_t>(ids.size());
            out.comparison.tokens = n - (n + options.context - 1) / options.context;
            if (cachedOriginal) {
                out.comparison.original = *cachedOriginal;
            } else {
                auto before = core::perplexity(*loaded->engine, ids, {}, options, control);
                if (!before) return before.error();
                out.comparison.tokens = before->tokens;
                out.comparison.original = before->ppl;
            }
            out.comparison.edited = out.comparison.original;
            if (!edits->empty()) {
                auto after = core::perplexity(*loaded->engine, ids, *edits, options, control);
                if (!after) return after.error();
                out.comparison.edited = after->ppl;
            }
            return out;
        },
        [this](core::Result<PerplexityOutcome>& result) {
            if (!result) return;
            m_perplexity = result->comparison;
            m_originalPerplexity = result->comparison.original;
            emit statusMessage(tr("Perplexity %1 → %2 on %3 tokens of %4")
                                   .arg(m_perplexity->original, 0, 'g', 5)
                                   .arg(m_perplexity->edited, 0, 'g', 5)
                                   .arg(m_perplexity->tokens)
                                   .arg(QString::fromStdString(m_perplexity->textName)));
            applyEdits();
        });
}

void LensSession::findOutlierEdits(std::function<void(QStringList)> onDone) {
    if (!m_model || m_superWeights.empty()) {
        emit errorOccurred(tr("Scan for super weights first: the outlier control zeroes as many outliers as there are super weights."));
        return;
    }
    auto loaded = m_model;
    auto weights = m_superWeights;
    m_metricLane->start<std::vector<std::string>>(
        tr("Find largest non-super outliers"),
        [loaded, weights](const core::RunControl&) -> core::Result<std::vector<std::string>> {
            // Per down_proj matrix: as many outliers as it has super weights, never a super weight itself.
            std::map<int, std::vector<std::pair<std::int64_t, std::int64_t>>> byLayer;
            for (const auto& sw : weights) byLayer[sw.layer].push_back({sw.row, sw.col});
            std::vector<std::string> specs;
            for (const auto& [layer, exclude] : byLayer) {
                const std::string name = loaded->model->layerWeightName(layer, core::LayerWeight::Down);
                auto top = core::largestWeights(*loaded->engine, name, {}, static_cast<int>(exclude.size()), exclude);
                if (!top) return top.error();
                for (const auto& [r, c] : *top) specs.push_back(core::weightSetText(name, r, c, 0.0));
            }
            return specs;
        },
        [onDone](core::Result<std::vector<std::string>>& result) {
            if (!result) return;
            QStringList specs;
            for (const auto& s : *result) specs << QString::fromStdString(s);
            onDone(specs);
        });
}

}  // namespace superlens::gui
