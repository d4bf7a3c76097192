#pragma once
// The open model and everything computed for it: the original forward pass
// of the current prompt, the super-weight scan, the run with the user's
// edits, perplexity, and the ViewSnapshot the views draw. Each kind of work
// runs in its own JobLane off the GUI thread; a new edit list cancels the
// edit run still in flight and recomputes incrementally (the engine reuses
// every block before the first edited one).
//
// Thread-safety: GUI thread only; workers get copies and shared_ptrs.

#include <memory>
#include <optional>
#include <vector>

#include <QObject>
#include <QString>
#include <QStringList>

#include "superlens/core/analysis/model_compare.h"
#include "superlens/core/analysis/published_coordinates.h"
#include "superlens/core/analysis/super_weights.h"
#include "superlens/core/engine/engine.h"
#include "superlens/core/tokenizer/tokenizer.h"
#include "superlens/core/view/build_view_snapshot.h"
#include "superlens/core/view/view_snapshot.h"

namespace superlens::gui {

class JobLane;

// The one-line refusals of a prompt of the wrong kind.
inline constexpr const char* kTextToVisionModel =
    "this vision model reads an image, not text: open one with File → Open image… (PNG, JPEG or .npy pixels) or drop it on the window";
inline constexpr const char* kImageToTextModel =
    "this model reads text, not images: images go to vision models (ViT, DINOv2, CLIP)";

// A vision model's input: a .npy pixel_values tensor, or a PNG/JPEG preprocessed as the model folder says.
core::Result<std::shared_ptr<const core::PixelTensor>> loadPixelsForModel(const core::Model& model, const QString& imageFile);

struct LoadedModel {
    std::shared_ptr<const core::Model> model;
    std::shared_ptr<const core::Tokenizer> tokenizer;  // null for id-only models
    std::shared_ptr<core::Engine> engine;
    std::vector<core::TokenId> stopwordIds;
    std::optional<core::PublishedMatch> published;
    QString folder;
    QString displayName;
};

class LensSession : public QObject {
    Q_OBJECT
public:
    explicit LensSession(QObject* parent = nullptr);
    ~LensSession() override;

    // Loads model, tokenizer and engine on a worker; modelOpened or errorOccurred follow.
    void openModel(const QString& folder);
    // Shows a captured run of an HDF5 activation cache (superlens-cli capture)
    // without the model: the first run without edits, overlaid with the last
    // run of the same tokens with edits (when there is one). Views only; no
    // recompute (Run, toggles and scans need the model).
    void openActivations(const QString& file);
    // Precision emulation (core::ComputeDtype): the dtype every run of the
    // engine rounds to. Changing it reopens the open model (its runs, scans
    // and edits' results belong to the old dtype). The run cache is used
    // only at fp32 (it stores exact runs).
    void setComputeDtype(core::ComputeDtype dtype);
    core::ComputeDtype computeDtype() const { return m_compute; }
    bool showingCache() const { return m_showingCache; }
    const LoadedModel* model() const { return m_model.get(); }
    bool hasModel() const { return m_model != nullptr; }

    // Text -> ids with the model's tokenizer (special tokens as the tokenizer
    // adds them), or a comma/space separated id list when `asIds` or the
    // model has no tokenizer. Cheap: called on the GUI thread as the user types.
    core::Result<std::vector<core::TokenId>> tokensFor(const QString& text, bool asIds) const;

    // Original forward pass (and super-weight scan) of a prompt, then the
    // current edits on top. A vision model refuses tokens (kTextToVisionModel).
    void run(const std::vector<core::TokenId>& tokens, bool scan = true);
    // The same for a vision model's image: a PNG or JPEG (decoded and
    // preprocessed by core as the model folder's preprocessor_config.json
    // says, as `superlens-cli --image`) or a .npy pixel_values tensor (as
    // `--pixels`). A text model refuses it (kImageToTextModel).
    void runImage(const QString& imageFile, bool scan = true);
    // True when the open model reads images (config().pixelInput).
    bool isVisionModel() const;
    // The image of the current run (empty for text prompts) and its pixel_values.
    const QString& imageFile() const { return m_imageFile; }
    std::shared_ptr<const core::PixelTensor> pixels() const { return m_pixels; }
    void rescan();
    // The enabled edit specs, in order (DESIGN.md syntax); recomputes incrementally.
    void setEdits(const QStringList& specs);
    const QStringList& edits() const { return m_edits; }
    // Perplexity of a text file before and after the current edits.
    void computePerplexity(const QString& textFile, int maxTokens = 1024);
    // The k largest non-super |W| entries of each super weight's down_proj matrix (k = super weights in it).
    void findOutlierEdits(std::function<void(QStringList specs)> onDone);

    // Draws run A (its edits) as "original" and run B as "edited" on every
    // view: two runs of the run history, of the same tokens (the views are
    // per token). The snapshot names them (`label`, ViewSnapshot::comparison);
    // the next edit or run returns to the live comparison.
    // `imageFile`: the runs' image (vision models; empty for text).
    void compareRuns(const std::vector<core::TokenId>& tokens, const QStringList& editsA, const QStringList& editsB, const QString& label,
                     const QString& imageFile = {});

    // Model B (File → Compare with model…): a second model of the same shapes
    // beside the open one. Loads it off the GUI thread and runs
    // core::compareModels on the current prompt (the "compare" lane: progress,
    // cancel); every snapshot then carries the comparison (the Compare view),
    // and a new prompt is compared again. Shapes that differ, or a file that
    // does not open, give one error line (errorOccurred) and leave B as it was.
    void openModelB(const QString& path);
    void closeModelB();
    const LoadedModel* modelB() const { return m_modelB.get(); }
    bool hasModelB() const { return m_modelB != nullptr; }
    // The comparison of the current prompt (null until computed).
    std::shared_ptr<const core::ModelComparison> modelComparison() const { return m_comparison; }
    // The "Model B" overlay: every view draws model B's run of the prompt
    // (with the same edits) as the second side, as the history's run
    // comparison draws run B (ViewSnapshot::comparison names the models).
    void setOverlayModelB(bool on);
    bool overlayModelB() const { return m_overlayB; }

    // llama.cpp's importance matrix (imatrix.dat or GGUF imatrix), read off
    // the GUI thread: the Layer view draws its down_proj input importance and
    // the comparison names each super weight's column rank. Empty: none.
    void setImatrix(const QString& path);
    const QString& imatrixPath() const { return m_imatrixPath; }
    std::shared_ptr<const core::Imatrix> imatrix() const { return m_imatrix; }

    // The Loss view's held-out text: from now on every snapshot carries the
    // per-token loss of its first core::view::kHeldOutLossTokens tokens, without
    // and with the edits (ViewSnapshot::heldOutLoss). Empty: stop.
    void setHeldOutLossText(const QString& textFile);
    const QString& heldOutLossText() const { return m_heldOutFile; }

    void cancelAll();
    bool isIdle() const;

    // Where original runs (and their scans) are kept for reuse across
    // sessions (session_run_cache.h). Default: the user's cache folder, unless
    // QSettings "runCache/enabled" is false; empty disables the cache.
    void setRunCacheDirectory(const QString& directory) { m_runCacheDir = directory; }
    const QString& runCacheDirectory() const { return m_runCacheDir; }
    // True when the last run came from the run cache instead of the engine.
    bool lastRunReused() const { return m_lastRunReused; }

    core::view::SnapshotPtr snapshot() const { return m_snapshot; }
    const std::vector<core::TokenId>& tokens() const { return m_tokens; }
    const std::vector<core::SuperWeight>& superWeights() const { return m_superWeights; }
    bool scanned() const { return m_scanned; }
    std::shared_ptr<const core::ForwardResult> originalResult() const { return m_original; }
    QList<JobLane*> lanes() const;

signals:
    void modelOpened();
    void activationsOpened(const QString& description);
    void superWeightsChanged();
    // Model B was opened or closed, or the overlay switched.
    void modelBChanged();
    void snapshotReady(superlens::core::view::SnapshotPtr snapshot);
    void errorOccurred(const QString& message);
    void statusMessage(const QString& message);
    void jobStarted(const QString& label);
    void jobProgress(const QString& label, qint64 done, qint64 total, const QString& stage);
    void jobFinished(const QString& label, bool ok, const QString& message);
    // Every lane finished: the snapshot is current (screenshot mode and tests wait for this).
    void idle();

private:
    void runInput(const std::vector<core::TokenId>& tokens, const QString& imageFile, bool scan);
    void applyEdits();
    void connectLane(JobLane* lane);
    void checkIdle();
    // Compares the open models on the current tokens (compare lane), then redraws.
    void startComparison();
    // Model B's name, model and comparison, and the importance matrix, for a snapshot.
    void addModelBInputs(core::view::SnapshotInputs* inputs) const;

    std::shared_ptr<const LoadedModel> m_model;
    std::vector<core::TokenId> m_tokens;
    std::shared_ptr<const core::PixelTensor> m_pixels;  // vision models: the current image's pixel_values
    QString m_imageFile;
    std::shared_ptr<const core::ForwardResult> m_original;
    // Mixture-of-experts models: the super-expert profile of m_original's tokens
    // when the run's scan made it (the views reuse it instead of profiling again).
    std::shared_ptr<const core::SuperExpertProfile> m_originalExpertProfile;
    std::shared_ptr<const core::ForwardResult> m_lastEdited;
    std::vector<core::SuperWeight> m_superWeights;
    bool m_scanned = false;
    QStringList m_edits;
    std::optional<core::view::PerplexityComparison> m_perplexity;
    QString m_perplexityFile;  // set once the user asked for perplexity
    int m_perplexityMaxTokens = 1024;
    std::optional<double> m_originalPerplexity;  // of m_perplexityFile, unedited model
    core::view::SnapshotPtr m_snapshot;
    bool m_showingCache = false;
    core::ComputeDtype m_compute = core::ComputeDtype::Float32;
    QString m_runCacheDir;
    bool m_lastRunReused = false;
    QString m_heldOutFile;
    std::shared_ptr<const core::ForwardResult> m_heldOutUnedited;  // of m_heldOutFile, reused across toggles

    JobLane* m_loadLane = nullptr;
    JobLane* m_runLane = nullptr;
    JobLane* m_editLane = nullptr;
    JobLane* m_metricLane = nullptr;
    JobLane* m_compareLane = nullptr;
    JobLane* m_imatrixLane = nullptr;

    std::shared_ptr<const LoadedModel> m_modelB;
    std::shared_ptr<const core::ModelComparison> m_comparison;
    bool m_overlayB = false;
    std::shared_ptr<const core::ForwardResult> m_lastB;  // model B's last overlay run (reused while tokens and edits stay)
    QString m_imatrixPath;
    std::shared_ptr<const core::Imatrix> m_imatrix;
};

// Readable name of a model folder (config's _name_or_path, else the folder name).
QString modelDisplayName(const core::Model& model);

}  // namespace superlens::gui
