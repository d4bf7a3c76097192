#pragma once
// The GUI's studies (`superlens-cli study ...` run on the open model): the
// super-weight study view (docs/ANALYSIS.md), the LASER heatmap and
// quantization plot views (docs/COMPRESSION.md), a "Studies" menu that runs
// `study superweight` / `laser` / `quant` on the open model as a background job
// (progress in the status bar, Cancel / Esc stops it), and opening or
// saving the study JSON that `superlens-cli study laser|quant --json`
// writes. A running study shares the model's engine with the views' runs;
// the engine serialises them, so edits applied meanwhile wait for the
// current study cell.
//
// Thread-safety: GUI thread only; the worker gets shared_ptr copies.

#include <memory>

#include <QList>
#include <QObject>
#include <QString>
#include <QStringList>

#include "superlens/core/analysis/compression_study.h"
#include "superlens/core/analysis/superweight_study.h"

class QMenu;
class QWidget;

namespace superlens::widgets {
class LaserHeatmapView;
class QuantPlotView;
class PlotView;
class SuperWeightStudyView;
}  // namespace superlens::widgets

namespace superlens::gui {

class JobLane;
class LensSession;
struct LoadedModel;

// What every sweep measures.
struct StudyMeasureSettings {
    QString textFile;        // perplexity text (default: the bundled held-out text)
    int maxTokens = 256;     // the text's first N tokens
    int context = 128;       // perplexity window (stride = window)
    bool zeroShot = true;    // the bundled multiple-choice set (needs a tokenizer)
    QString answersFile;     // LASER's answer set (JSONL), optional
};

struct LaserSweepSettings {
    StudyMeasureSettings measure;
    QStringList types;            // empty = every type of the architecture
    QList<int> layers;            // empty = every layer
    QList<double> rhos = {0.01, 0.05, 0.1, 0.25, 0.5, 0.9};
};

struct QuantSweepSettings {
    StudyMeasureSettings measure;
    int bits = 4;
    QList<qint64> blocks = {64, 128, 256, 512, 1024, 4096, 16384, 65536, 262144, 1048576, 0};  // 0 = tensor
    bool keepSuper = true;   // the super weights of the session's scan, else a scan of the text's head
    double zclip = 0;        // 0 = off
    int actBits = 0;         // 0 = no activation series
};

// The super-weight study (issue 23; superlens-cli study superweight): the
// four conditions with intervals, the null control, the joint ablation.
struct SuperWeightStudySettings {
    QString textFile;        // perplexity text (default: the bundled held-out text)
    QString idsFile;         // instead of the text: token ids (models without a tokenizer), as --text-ids
    int maxTokens = 256;     // the text's first N tokens (0 = all)
    int context = 128;       // perplexity window (stride = window)
    bool bosWindows = false; // every window starts with BOS (--bos-windows; the demo model is trained so)
    bool zeroShot = true;    // the bundled multiple-choice set (needs a tokenizer)
    bool stopwords = true;   // the bundled English stopwords (needs a tokenizer)
    int outliers = 0;        // control outliers per matrix (0 = as many as its super weights)
    double ciLevel = 0.95;
    int resamples = 1000;    // 0 = no intervals
    int nullCount = 0;       // null-control draws per scope (0 = none)
    bool joint = false;
};

class StudyJobs : public QObject {
    Q_OBJECT
public:
    StudyJobs(LensSession* session, QWidget* dialogParent, QObject* parent = nullptr);
    ~StudyJobs() override;

    widgets::LaserHeatmapView* laserView() const { return m_laserView; }
    widgets::QuantPlotView* quantView() const { return m_quantView; }
    widgets::SuperWeightStudyView* superWeightView() const { return m_superWeightView; }
    QList<widgets::PlotView*> views() const;
    // Adds the Studies actions (sweeps with a settings dialog, open/save JSON, cancel).
    void populateMenu(QMenu* menu);

    // Starts a sweep on the open model; false (with errorOccurred) without one.
    bool runLaser(const LaserSweepSettings& settings);
    bool runQuant(const QuantSweepSettings& settings);
    // `show`: the part the view turns to when the study arrives ("conditions", "null", "joint").
    bool runSuperWeight(const SuperWeightStudySettings& settings, const QString& show = QStringLiteral("conditions"));
    // The settings dialog, then runSuperWeight; nullCount > 0 asks for the null control (the ablation panel's button).
    void askAndRunSuperWeight(int nullCount = -1);
    void cancel();
    bool isRunning() const;
    JobLane* lane() const { return m_lane; }

    // Shows a study JSON (superlens-cli study laser|quant|superweight --json) in its view.
    // Errors name the file and the problem. *kind = "laser", "quant" or "superweight".
    bool openStudyFile(const QString& path, QString* error, QString* kind = nullptr);
    // Writes the shown study of a kind as JSON (the CLI's format).
    bool saveStudyFile(const QString& kind, const QString& path, QString* error) const;

signals:
    // The view of `kind` ("laser" / "quant" / "superweight") shows a new study.
    void studyShown(const QString& kind);
    void errorOccurred(const QString& message);
    void statusMessage(const QString& message);
    void jobStarted(const QString& label);
    void jobProgress(const QString& label, qint64 done, qint64 total, const QString& stage);
    void jobFinished(const QString& label, bool ok, const QString& message);

private:
    // The open model for a worker, or null (with errorOccurred naming `what`).
    std::shared_ptr<const LoadedModel> modelForStudy(const QString& what);
    void showLaser(std::shared_ptr<const core::LaserStudy> study);
    void showQuant(std::shared_ptr<const core::QuantStudy> study);
    void showSuperWeight(std::shared_ptr<const core::SuperWeightStudy> study, const QString& show);

    LensSession* m_session;
    QWidget* m_dialogParent;
    JobLane* m_lane = nullptr;
    widgets::LaserHeatmapView* m_laserView = nullptr;
    widgets::QuantPlotView* m_quantView = nullptr;
    widgets::SuperWeightStudyView* m_superWeightView = nullptr;
    SuperWeightStudySettings m_superWeightSettings;
    LaserSweepSettings m_laserSettings;
    QuantSweepSettings m_quantSettings;
};

// Settings dialogs (modal); false when cancelled.
bool editLaserSweepSettings(QWidget* parent, const core::Model* model, LaserSweepSettings* settings);
bool editQuantSweepSettings(QWidget* parent, QuantSweepSettings* settings);
bool editSuperWeightStudySettings(QWidget* parent, SuperWeightStudySettings* settings);

}  // namespace superlens::gui
