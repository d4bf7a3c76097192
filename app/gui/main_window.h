#pragma once
// The SuperLens main window (DESIGN.md sketch): Model, Prompt and Layers
// docks on the left, the Ablations dock on the right, one tab per view in
// the centre, progress + Cancel + cache status in the status bar. Docks move
// and close; layout, recent models and export presets persist (QSettings).

#include <QElapsedTimer>
#include <QList>
#include <QMainWindow>
#include <QUrl>

#include "figure_export.h"

#include "superlens/core/view/view_snapshot.h"

class QDockWidget;
class QLabel;
class QMenu;
class QMessageBox;
class QProgressBar;
class QPushButton;
class QTabWidget;
class QUndoStack;

namespace superlens::widgets {
class LayerNavigator;
class PlotView;
}  // namespace superlens::widgets

namespace superlens::gui {

class AblationPanel;
class AblationSet;
class StudyJobs;
class LensSession;
class ModelSummaryPanel;
class PromptPanel;
class RunHistory;
class RunHistoryPanel;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    // restoreLayout=false: default geometry and docks (screenshot mode, tests).
    explicit MainWindow(bool restoreLayout = true, QWidget* parent = nullptr);
    ~MainWindow() override;

    // Help -> About: the program, and this machine (core::systemReport without
    // the GEMM measurement, so the dialog opens at once).
    static QString aboutText();

    void openModel(const QString& folder);
    // Vision models: runs this image (PNG, JPEG or .npy pixel_values) as the
    // prompt; a text model refuses it with one line. File → Open image… and
    // dropping the file on the window come here.
    void openImage(const QString& file);
    static bool isImageFile(const QString& path);
    // File → Compare with model…: a second model of the same shapes (folder
    // or .gguf) beside the open one (LensSession::openModelB); the Compare view
    // draws the comparison, "Overlay model B" draws B's run on every view.
    void openModelB(const QString& path);
    QAction* overlayModelBAction() const { return m_overlayAction; }
    // What a drop of these files does: a model folder or .gguf opens (as model B
    // with Shift held or onto the Compare view), an .h5 cache, an imatrix .dat,
    // an experiment .json; anything else is an error line.
    void openDropped(const QList<QUrl>& urls, Qt::KeyboardModifiers modifiers);
    // File → Open importance matrix… (llama.cpp's imatrix): the Layer view's importance panel.
    void openImatrix(const QString& path);
    // Views from an HDF5 activation cache, without the model.
    void openActivations(const QString& file);
    // Runs the current prompt text (scan when asked or when the model was never scanned).
    void runPrompt(bool scan);
    void selectLayer(int layer);
    // The Attention view, showing one head of a layer (the Sinks view's clicks).
    void showAttentionHead(int layer, int head, bool edited);
    // What an export of `view` to `path` embeds: model, prompt, edits and the superlens-cli figure command.
    // A study view's (laser, quant) command reads `studyFile`, the study JSON
    // exportView writes beside the figure (FILE.study.json).
    widgets::FigureProvenance figureProvenance(const widgets::PlotView& view, const QString& path, const widgets::ExportOptions& options,
                                               const QString& studyFile = {}) const;
    int selectedLayer() const { return m_selectedLayer; }
    void showView(const QString& kind);
    // The view of the current tab (null for a non-view tab).
    widgets::PlotView* currentView() const;
    // Run the current prompt (with a scan) as soon as a model opens (default on).
    void setAutoRunOnOpen(bool on) { m_autoRun = on; }

    LensSession* session() const { return m_session; }
    AblationSet* ablations() const { return m_ablations; }
    AblationPanel* ablationPanel() const { return m_ablationPanel; }
    PromptPanel* promptPanel() const { return m_promptPanel; }
    widgets::LayerNavigator* layerNavigator() const { return m_navigator; }
    QUndoStack* undoStack() const { return m_undo; }
    const QList<widgets::PlotView*>& views() const { return m_views; }
    widgets::PlotView* view(const QString& kind) const;
    // LASER / quantization study views and their Studies menu.
    StudyJobs* studies() const { return m_studies; }
    // Shows the tab of a study view ("laser", "quant").
    void showStudy(const QString& kind);

    // The session's runs (History dock) and the comparison of two of them.
    RunHistory* runHistory() const { return m_history; }
    RunHistoryPanel* runHistoryPanel() const { return m_historyPanel; }
    // Draws run A as "original" and run B as "edited" on every view; false
    // with *error when a run is unknown or the two have different tokens.
    bool compareRuns(int runA, int runB, QString* error);
    // Back from a comparison to the current prompt and edits.
    void showLive();
    // Puts a run's prompt and edits back (the edits as one undo step) and runs it.
    bool restoreRun(int run, QString* error);

    // View → Colour-blind-safe palette: every view in PlotStyle::screenColorBlind() (kept in QSettings).
    void setColorBlindPalette(bool on);
    bool colorBlindPalette() const { return m_colorBlind; }
    // Help → Keyboard shortcuts: every menu action with a shortcut, then the views' and docks' keys (HTML table).
    QString shortcutsText() const;
    // What the next start restores (QSettings "session/..."): the current
    // view, selected layer, prompt and ids mode (geometry and docks: closeEvent).
    void saveSessionState() const;
    // Recent experiments (File → Open recent experiment), newest first.
    QStringList recentExperiments() const;

    bool saveExperimentTo(const QString& path, QString* error);
    bool loadExperimentFrom(const QString& path, QString* error);

    // The error dialog: non-modal (the window keeps working behind it), one
    // for the window, showing the newest error's one line; nullptr until the
    // first error.
    QMessageBox* errorDialog() const { return m_errorDialog; }

signals:
    // Every view shows the newest snapshot; ms = time since the edit list changed (or -1).
    void viewsUpdated(double milliseconds);

protected:
    void closeEvent(QCloseEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void buildMenus();
    void chooseImage();
    // A token clicked in a view (the Patch grid): the other views follow it.
    void selectToken(int position);
    void buildDocks();
    void buildStatusBar();
    void onSnapshot(core::view::SnapshotPtr snapshot);
    void onModelOpened();
    void onModelBChanged();
    void exportView(widgets::PlotView* view);
    void exportAll();
    void addRecent(const QString& folder);
    void addRecentExperiment(const QString& path);
    void restoreSessionState();
    void rebuildRecentMenu();
    void showError(const QString& message);

    LensSession* m_session = nullptr;
    AblationSet* m_ablations = nullptr;
    QUndoStack* m_undo = nullptr;
    QTabWidget* m_tabs = nullptr;
    QList<widgets::PlotView*> m_views;
    ModelSummaryPanel* m_summary = nullptr;
    PromptPanel* m_promptPanel = nullptr;
    widgets::LayerNavigator* m_navigator = nullptr;
    AblationPanel* m_ablationPanel = nullptr;
    StudyJobs* m_studies = nullptr;
    QMessageBox* m_errorDialog = nullptr;
    RunHistory* m_history = nullptr;
    RunHistoryPanel* m_historyPanel = nullptr;
    QLabel* m_comparisonBanner = nullptr;
    QList<QDockWidget*> m_docks;
    QMenu* m_recentMenu = nullptr;
    QMenu* m_recentExperimentsMenu = nullptr;
    QAction* m_colorBlindAction = nullptr;
    QAction* m_overlayAction = nullptr;
    QAction* m_closeBAction = nullptr;
    bool m_colorBlind = false;
    int m_restoredLayer = -1;
    QString m_historyModel;  // the model the history's runs were made with  // from the last session: applied to the first prompt run
    QProgressBar* m_progress = nullptr;
    QPushButton* m_cancel = nullptr;
    QLabel* m_jobLabel = nullptr;
    QLabel* m_cacheLabel = nullptr;
    int m_selectedLayer = -1;
    std::vector<core::TokenId> m_layerChosenFor;  // prompt whose default layer was chosen
    const void* m_layerChosenForPixels = nullptr;  // (or image)
    QElapsedTimer m_sinceEdit;
    QByteArray m_defaultState;
    bool m_autoRun = true;
};

}  // namespace superlens::gui
