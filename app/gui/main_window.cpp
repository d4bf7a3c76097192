#include "main_window.h"

#include <functional>

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSignalBlocker>
#include <QStatusBar>
#include <QTabWidget>
#include <QUndoStack>
#include <QVBoxLayout>

#include "ablation_commands.h"
#include "ablation_panel.h"
#include "ablation_set.h"
#include "superlens/core/view/build_view_snapshot.h"
#include "study_jobs.h"
#include "experiment_file.h"
#include "views/attention_view.h"
#include "views/lens_view.h"
#include "views/loss_view.h"
#include "views/patch_grid_view.h"
#include "views/propagation_view.h"
#include "export_dialog.h"
#include "figure_export.h"
#include "layer_navigator.h"
#include "lens_session.h"
#include "superlens/core/system/system_report.h"
#include "model_summary_panel.h"
#include "plot_view.h"
#include "prompt_panel.h"
#include "resource_locator.h"
#include "run_history.h"
#include "run_history_panel.h"
#include "superlens/core/analysis/bundled_resources.h"
#include "view_registry.h"

// The icons live in a static library: register its resources explicitly.
static void initGuiResources() { Q_INIT_RESOURCE(superlens); }

namespace superlens::gui {

namespace {
constexpr int kMaxRecent = 8;
}

MainWindow::MainWindow(bool restoreLayout, QWidget* parent) : QMainWindow(parent) {
    initGuiResources();
    setWindowTitle(tr("SuperLens"));
    setWindowIcon(QIcon(QStringLiteral(":/icons/superlens.svg")));
    setAcceptDrops(true);
    setDockOptions(QMainWindow::AnimatedDocks | QMainWindow::AllowTabbedDocks);
    m_session = new LensSession(this);
    m_ablations = new AblationSet(this);
    m_undo = new QUndoStack(this);
    m_history = new RunHistory(this);

    m_tabs = new QTabWidget(this);
    m_tabs->setDocumentMode(true);
    for (const auto& kind : widgets::viewKinds()) {
        widgets::PlotView* v = kind.create(m_tabs);
        m_views << v;
        m_tabs->addTab(v, v->title());
        m_tabs->setTabToolTip(m_tabs->count() - 1, tr("%1 view (figure kind '%2')").arg(v->title(), v->kind()));
        connect(v, &widgets::PlotView::layerSelected, this, &MainWindow::selectLayer);
        connect(v, &widgets::PlotView::ablationProposed, this, [this](const QString& spec, const QString& description) {
            m_ablationPanel->addCandidate(spec, description);
        });
        connect(v, &widgets::PlotView::editToggled, this, [this](const QString& spec, const QString& description) {
            m_ablationPanel->toggleEdit(spec, description);
        });
        connect(v, &widgets::PlotView::exportRequested, this, &MainWindow::exportView);
        connect(v, &widgets::PlotView::attentionHeadRequested, this, &MainWindow::showAttentionHead);
        connect(v, &widgets::PlotView::statusMessage, this, [this](const QString& m) { statusBar()->showMessage(m, 6000); });
        if (auto* grid = qobject_cast<widgets::PatchGridView*>(v)) connect(grid, &widgets::PatchGridView::tokenSelected, this, &MainWindow::selectToken);
        if (auto* loss = qobject_cast<widgets::LossView*>(v)) {
            connect(loss, &widgets::LossView::heldOutLossRequested, this, [this](bool heldOut) {
                const QString text = heldOut ? heldOutTextFile() : QString();
                if (heldOut && text.isEmpty()) showError(tr("The held-out text (resources/texts) was not found; set SUPERLENS_RESOURCES."));
                else if (heldOut && m_session->hasModel() && !m_session->model()->tokenizer) showError(tr("The held-out text needs a tokenizer; this model has none."));
                m_session->setHeldOutLossText(text);
            });
        }
        v->setSnapshot(nullptr);
    }
    m_studies = new StudyJobs(m_session, this, this);
    for (widgets::PlotView* v : m_studies->views()) {
        m_tabs->addTab(v, v->title());
        m_tabs->setTabToolTip(m_tabs->count() - 1, tr("%1 (Studies menu, or superlens-cli study %2 --json)").arg(v->title(), v->kind()));
        connect(v, &widgets::PlotView::ablationProposed, this, [this](const QString& spec, const QString& description) {
            m_ablationPanel->addCandidate(spec, description);
        });
        connect(v, &widgets::PlotView::exportRequested, this, &MainWindow::exportView);
    }
    connect(m_studies, &StudyJobs::studyShown, this, &MainWindow::showStudy);
    connect(m_studies, &StudyJobs::errorOccurred, this, &MainWindow::showError);
    connect(m_studies, &StudyJobs::statusMessage, this, [this](const QString& m) { statusBar()->showMessage(m, 8000); });
    // Above the views while two runs of the history are compared.
    m_comparisonBanner = new QLabel(this);
    m_comparisonBanner->setWordWrap(true);
    m_comparisonBanner->setStyleSheet(QStringLiteral("background: #fff3e0; color: #6d3a00; padding: 4px;"));
    m_comparisonBanner->hide();
    auto* central = new QWidget(this);
    auto* centralLayout = new QVBoxLayout(central);
    centralLayout->setContentsMargins(0, 0, 0, 0);
    centralLayout->setSpacing(0);
    centralLayout->addWidget(m_comparisonBanner);
    centralLayout->addWidget(m_tabs, 1);
    setCentralWidget(central);

    buildDocks();
    buildMenus();
    buildStatusBar();

    connect(m_session, &LensSession::modelOpened, this, &MainWindow::onModelOpened);
    connect(m_session, &LensSession::modelBChanged, this, &MainWindow::onModelBChanged);
    connect(m_session, &LensSession::snapshotReady, this, &MainWindow::onSnapshot);
    connect(m_session, &LensSession::superWeightsChanged, this, [this] {
        m_ablationPanel->refreshSuperWeights();
        m_summary->showModel(m_session->model(), m_session->scanned() ? static_cast<int>(m_session->superWeights().size()) : -1);
    });
    connect(m_session, &LensSession::errorOccurred, this, &MainWindow::showError);
    connect(m_session, &LensSession::activationsOpened, this, [this](const QString& description) {
        setWindowTitle(tr("SuperLens — %1").arg(description));
        m_cacheLabel->setText(tr("cache: %1").arg(description));
        m_summary->setHtml(tr("<b>Activations from a cache file</b><br>%1<p style='color:#666'>The views show the captured runs. "
                              "Open the model to run prompts, scan and toggle edits.</p>").arg(description.toHtmlEscaped()));
        m_undo->clear();
        m_ablations->setEntries({});
        m_layerChosenFor.clear();
    });
    connect(m_session, &LensSession::statusMessage, this, [this](const QString& m) { statusBar()->showMessage(m, 8000); });
    connect(m_ablations, &AblationSet::changed, this, [this] {
        m_sinceEdit.start();
        m_session->setEdits(m_ablations->enabledSpecs());
    });
    connect(m_promptPanel, &PromptPanel::runRequested, this, [this](const std::vector<core::TokenId>& tokens, bool scan) {
        m_session->run(tokens, scan || !m_session->scanned());
    });
    connect(m_promptPanel, &PromptPanel::imageRunRequested, this, [this](const QString& file, bool scan) {
        m_session->runImage(file, scan || !m_session->scanned());
    });
    connect(m_promptPanel, &PromptPanel::openImageRequested, this, &MainWindow::chooseImage);
    connect(m_promptPanel, &PromptPanel::problem, this, &MainWindow::showError);
    connect(m_ablationPanel, &AblationPanel::statusMessage, this, [this](const QString& m) { statusBar()->showMessage(m, 8000); });
    connect(m_ablationPanel, &AblationPanel::nullDistributionRequested, this, [this] { m_studies->askAndRunSuperWeight(20); });
    connect(m_ablationPanel, &AblationPanel::perplexityRequested, this, [this] {
        const QString text = heldOutTextFile();
        if (text.isEmpty()) {
            showError(tr("The held-out text (resources/texts) was not found; set SUPERLENS_RESOURCES."));
            return;
        }
        m_session->computePerplexity(text);
    });

    m_promptPanel->setPrompts([] {
        QStringList prompts;
        for (const auto& p : core::bundledDefaultPrompts()) prompts << QString::fromStdString(p);
        return prompts;
    }());

    resize(1400, 900);
    m_defaultState = saveState();
    if (restoreLayout) {
        QSettings s;
        restoreGeometry(s.value(QStringLiteral("window/geometry")).toByteArray());
        restoreState(s.value(QStringLiteral("window/state")).toByteArray());
    }
    rebuildRecentMenu();
    if (restoreLayout) restoreSessionState();
}

MainWindow::~MainWindow() = default;

void MainWindow::setColorBlindPalette(bool on) {
    m_colorBlind = on;
    if (m_colorBlindAction->isChecked() != on) m_colorBlindAction->setChecked(on);
    const widgets::PlotStyle style = on ? widgets::PlotStyle::screenColorBlind() : widgets::PlotStyle::screen();
    for (widgets::PlotView* v : m_views) v->setPlotStyle(style);
    for (widgets::PlotView* v : m_studies->views()) v->setPlotStyle(style);
    QSettings().setValue(QStringLiteral("view/colorBlindPalette"), on);
}

QString MainWindow::shortcutsText() const {
    QString rows;
    auto row = [&rows](const QString& keys, const QString& what) {
        rows += QStringLiteral("<tr><td><b>%1</b></td><td>%2</td></tr>").arg(keys.toHtmlEscaped(), what.toHtmlEscaped());
    };
    // From the menus themselves, so the list is never out of date.
    std::function<void(const QMenu*, const QString&)> walk = [&](const QMenu* menu, const QString& path) {
        for (QAction* a : menu->actions()) {
            const QString name = path + QStringLiteral(" → ") + QString(a->text()).remove(QLatin1Char('&'));
            if (a->menu()) walk(a->menu(), name);
            else if (!a->shortcut().isEmpty()) row(a->shortcut().toString(QKeySequence::NativeText), name);
        }
    };
    for (QAction* top : menuBar()->actions()) {
        if (top->menu()) walk(top->menu(), QString(top->text()).remove(QLatin1Char('&')));
    }
    row(tr("Up / Down, Page Up / Page Down, Home / End"), tr("Layers dock: select a layer (every view follows)"));
    row(tr("Ctrl+Tab"), tr("Views: next tab (when the tabs have focus)"));
    row(tr("Right-click a plot"), tr("Export, copy data as CSV, reset zoom"));
    row(tr("Double-click a run"), tr("History dock: restore its prompt and edits"));
    return tr("<table cellspacing='6'>%1</table>").arg(rows);
}

void MainWindow::saveSessionState() const {
    QSettings s;
    if (const widgets::PlotView* v = currentView()) s.setValue(QStringLiteral("session/view"), v->kind());
    s.setValue(QStringLiteral("session/layer"), m_selectedLayer);
    s.setValue(QStringLiteral("session/prompt"), m_promptPanel->text());
    s.setValue(QStringLiteral("session/idsMode"), m_promptPanel->idsMode());
}

void MainWindow::restoreSessionState() {
    QSettings s;
    setColorBlindPalette(s.value(QStringLiteral("view/colorBlindPalette"), false).toBool());
    const QString kind = s.value(QStringLiteral("session/view")).toString();
    if (!kind.isEmpty()) {
        showView(kind);
        showStudy(kind);
    }
    m_restoredLayer = s.value(QStringLiteral("session/layer"), -1).toInt();
    const QString prompt = s.value(QStringLiteral("session/prompt")).toString();
    if (!prompt.isEmpty()) {
        m_promptPanel->setIdsMode(s.value(QStringLiteral("session/idsMode"), false).toBool());
        m_promptPanel->setText(prompt);
    }
}

void MainWindow::buildDocks() {
    auto makeDock = [this](const QString& title, const QString& name, QWidget* content, Qt::DockWidgetArea area) {
        auto* dock = new QDockWidget(title, this);
        dock->setObjectName(name);
        dock->setWidget(content);
        dock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetClosable | QDockWidget::DockWidgetFloatable);
        addDockWidget(area, dock);
        m_docks << dock;
        return dock;
    };
    m_summary = new ModelSummaryPanel(this);
    m_promptPanel = new PromptPanel(m_session, this);
    m_navigator = new widgets::LayerNavigator(this);
    m_ablationPanel = new AblationPanel(m_ablations, m_undo, m_session, this);
    auto* modelDock = makeDock(tr("Model"), QStringLiteral("modelDock"), m_summary, Qt::LeftDockWidgetArea);
    auto* promptDock = makeDock(tr("Prompt"), QStringLiteral("promptDock"), m_promptPanel, Qt::LeftDockWidgetArea);
    auto* layerDock = makeDock(tr("Layers"), QStringLiteral("layerDock"), m_navigator, Qt::LeftDockWidgetArea);
    auto* ablationDock = makeDock(tr("Ablations"), QStringLiteral("ablationDock"), m_ablationPanel, Qt::RightDockWidgetArea);
    m_historyPanel = new RunHistoryPanel(m_history, this);
    auto* historyDock = makeDock(tr("History"), QStringLiteral("historyDock"), m_historyPanel, Qt::RightDockWidgetArea);
    splitDockWidget(ablationDock, historyDock, Qt::Vertical);
    connect(m_historyPanel, &RunHistoryPanel::compareRequested, this, [this](int a, int b) {
        QString error;
        if (!compareRuns(a, b, &error)) showError(error);
    });
    connect(m_historyPanel, &RunHistoryPanel::liveRequested, this, &MainWindow::showLive);
    connect(m_historyPanel, &RunHistoryPanel::restoreRequested, this, [this](int run) {
        QString error;
        if (!restoreRun(run, &error)) showError(error);
    });
    resizeDocks({modelDock, promptDock, layerDock}, {230, 290, 260}, Qt::Vertical);
    resizeDocks({modelDock}, {300}, Qt::Horizontal);
    resizeDocks({ablationDock}, {330}, Qt::Horizontal);
    resizeDocks({ablationDock, historyDock}, {560, 220}, Qt::Vertical);
    connect(m_navigator, &widgets::LayerNavigator::layerSelected, this, &MainWindow::selectLayer);
}

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("&Open model…"), QKeySequence::Open, this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Open a Hugging Face model folder"));
        if (!dir.isEmpty()) openModel(dir);
    });
    file->addAction(tr("Open &GGUF file…"), this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Open a GGUF model (llama.cpp)"), QString(), tr("GGUF models (*.gguf)"));
        if (!path.isEmpty()) openModel(path);
    });
    file->addAction(tr("Compare &with model…"), this, [this] {
        // A .gguf file, or a model folder through its config.json.
        const QString path = QFileDialog::getOpenFileName(this, tr("Compare with a model of the same shapes (model B)"), QString(),
                                                          tr("Models (*.gguf config.json)"));
        if (path.isEmpty()) return;
        openModelB(path.endsWith(QLatin1String(".gguf")) ? path : QFileInfo(path).absolutePath());
    });
    m_closeBAction = file->addAction(tr("Close model B"), this, [this] { m_session->closeModelB(); });
    m_closeBAction->setEnabled(false);
    file->addAction(tr("Open &importance matrix…"), this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Open a llama.cpp importance matrix"), QString(),
                                                          tr("Importance matrices (*.dat *.gguf);;All files (*)"));
        if (!path.isEmpty()) openImatrix(path);
    });
    m_recentMenu = file->addMenu(tr("Open &recent"));
    m_recentExperimentsMenu = file->addMenu(tr("Open recent e&xperiment"));
    file->addAction(tr("Open &demo model"), this, [this] {
        const QString demo = demoModelDir();
        if (demo.isEmpty()) showError(tr("The demo model was not found (looked in %1).").arg(resourceSearchPath().join(QStringLiteral(", "))));
        else openModel(demo);
    });
    file->addAction(tr("Open &image…"), QKeySequence(Qt::CTRL | Qt::Key_I), this, &MainWindow::chooseImage);
    file->addAction(tr("Open &activations (HDF5)…"), this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Open an activation cache"), QString(), tr("SuperLens cache (*.h5 *.hdf5)"));
        if (!path.isEmpty()) openActivations(path);
    });
    file->addSeparator();
    file->addAction(tr("&Save experiment…"), QKeySequence::Save, this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Save experiment"), QString(), tr("Experiment (*.json)"));
        QString error;
        if (!path.isEmpty() && !saveExperimentTo(path, &error)) showError(error);
    });
    file->addAction(tr("&Load experiment…"), this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Load experiment"), QString(), tr("Experiment (*.json)"));
        QString error;
        if (!path.isEmpty() && !loadExperimentFrom(path, &error)) showError(error);
    });
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

    QMenu* edit = menuBar()->addMenu(tr("&Edit"));
    QAction* undo = m_undo->createUndoAction(this, tr("&Undo"));
    undo->setShortcut(QKeySequence::Undo);
    QAction* redo = m_undo->createRedoAction(this, tr("&Redo"));
    redo->setShortcut(QKeySequence::Redo);
    edit->addAction(undo);
    edit->addAction(redo);
    edit->addSeparator();
    edit->addAction(tr("&Clear all edits"), this, [this] { m_ablationPanel->clearAll(); });

    QMenu* view = menuBar()->addMenu(tr("&View"));
    for (QDockWidget* d : m_docks) view->addAction(d->toggleViewAction());
    view->addSeparator();
    for (int i = 0; i < m_views.size(); ++i) {
        QAction* a = view->addAction(m_views[i]->title(), this, [this, i] { m_tabs->setCurrentIndex(i); });
        // Alt+1 .. Alt+9, then Alt+0 for the tenth view and Alt+- and Alt+= (the next keys of the row)
        // for the eleventh and twelfth.
        if (i < 10) a->setShortcut(QKeySequence(Qt::ALT | static_cast<Qt::Key>(i < 9 ? Qt::Key_1 + i : Qt::Key_0)));
        else if (i == 10) a->setShortcut(QKeySequence(Qt::ALT | Qt::Key_Minus));
        else if (i == 11) a->setShortcut(QKeySequence(Qt::ALT | Qt::Key_Equal));
    }
    view->addAction(tr("&Next view"), QKeySequence(Qt::CTRL | Qt::Key_PageDown), this,
                    [this] { m_tabs->setCurrentIndex((m_tabs->currentIndex() + 1) % m_tabs->count()); });
    view->addAction(tr("&Previous view"), QKeySequence(Qt::CTRL | Qt::Key_PageUp), this,
                    [this] { m_tabs->setCurrentIndex((m_tabs->currentIndex() + m_tabs->count() - 1) % m_tabs->count()); });
    view->addSeparator();
    m_colorBlindAction = view->addAction(tr("Colour-&blind-safe palette"));
    m_colorBlindAction->setCheckable(true);
    m_colorBlindAction->setToolTip(tr("Okabe-Ito colours (original blue, edited vermillion), as in exported figures"));
    connect(m_colorBlindAction, &QAction::toggled, this, &MainWindow::setColorBlindPalette);
    view->addSeparator();
    view->addAction(tr("Reset &layout"), this, [this] {
        restoreState(m_defaultState);
        for (QDockWidget* d : m_docks) d->show();
    });

    QMenu* analysis = menuBar()->addMenu(tr("&Analysis"));
    analysis->addAction(tr("&Compare selected runs"), QKeySequence(Qt::CTRL | Qt::Key_D), this, [this] {
        const QList<int> runs = m_historyPanel->selectedRuns();
        QString error;
        if (runs.size() != 2) showError(tr("Select two runs in the History dock to compare them."));
        else if (!compareRuns(runs[0], runs[1], &error)) showError(error);
    });
    analysis->addAction(tr("Back to &live"), QKeySequence(Qt::CTRL | Qt::Key_L), this, &MainWindow::showLive);
    m_overlayAction = analysis->addAction(tr("Overlay model &B"));
    m_overlayAction->setCheckable(true);
    m_overlayAction->setEnabled(false);
    m_overlayAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_B));
    m_overlayAction->setToolTip(tr("Every view draws model B's run of the prompt (with the same edits) as the second side"));
    connect(m_overlayAction, &QAction::toggled, this, [this](bool on) {
        if (on != m_session->overlayModelB()) m_session->setOverlayModelB(on);
    });
    analysis->addAction(tr("&Run prompt"), QKeySequence(Qt::CTRL | Qt::Key_R), this, [this] { runPrompt(false); });
    analysis->addAction(tr("Run and &scan for super weights"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_R), this, [this] { runPrompt(true); });
    analysis->addAction(tr("&Perplexity before/after"), this, [this] { emit m_ablationPanel->perplexityRequested(); });
    {
        // Precision emulation: the engine rounds to the model's dtype as Hugging Face's bf16/fp16 forward does.
        QMenu* precision = analysis->addMenu(tr("Compute p&recision"));
        auto* group = new QActionGroup(precision);
        const std::pair<core::ComputeDtype, QString> choices[] = {
            {core::ComputeDtype::Float32, tr("fp32 (exact)")},
            {core::ComputeDtype::BFloat16, tr("bf16 (emulate a bfloat16 run)")},
            {core::ComputeDtype::Float16, tr("fp16 (emulate a float16 run)")},
        };
        for (const auto& [dtype, label] : choices) {
            QAction* a = precision->addAction(label);
            a->setCheckable(true);
            a->setChecked(dtype == m_session->computeDtype());
            a->setObjectName(QStringLiteral("computePrecision_") + QString::fromLatin1(core::computeDtypeName(dtype)));
            group->addAction(a);
            connect(a, &QAction::triggered, this, [this, d = dtype] { m_session->setComputeDtype(d); });
        }
    }
    analysis->addAction(tr("&Cancel"), QKeySequence(Qt::Key_Escape), this, [this] {
        m_session->cancelAll();
        m_studies->cancel();
    });

    m_studies->populateMenu(menuBar()->addMenu(tr("&Studies")));

    QMenu* exportMenu = menuBar()->addMenu(tr("E&xport"));
    exportMenu->addAction(tr("Export current &view…"), QKeySequence(Qt::CTRL | Qt::Key_E), this, [this] {
        exportView(qobject_cast<widgets::PlotView*>(m_tabs->currentWidget()));
    });
    exportMenu->addAction(tr("Export &all views…"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_E), this, &MainWindow::exportAll);
    exportMenu->addAction(tr("Export &options…"), this, [this] {
        ExportDialog dialog(this);
        if (dialog.exec() == QDialog::Accepted) ExportDialog::saveOptions(dialog.options());
    });

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&Keyboard shortcuts"), QKeySequence(Qt::Key_F1), this, [this] {
        QMessageBox box(QMessageBox::NoIcon, tr("Keyboard shortcuts"), shortcutsText(), QMessageBox::Close, this);
        box.setTextFormat(Qt::RichText);
        box.exec();
    });
    help->addAction(tr("&About SuperLens"), this, [this] { QMessageBox::about(this, tr("About SuperLens"), aboutText()); });
}

QString MainWindow::aboutText() {
    // `superlens-cli info --system` also measures the GEMM rate; here the dialog must open at once.
    QString system;
    for (const auto& [label, value] : core::systemReport(0).rows())
        system += QStringLiteral("<br>%1: %2").arg(QString::fromStdString(label).toHtmlEscaped(), QString::fromStdString(value).toHtmlEscaped());
    return tr("<b>SuperLens</b> 0.1<br>Find, toggle and plot the super weights (Yu et al., 2024) and massive "
              "activations (Sun et al., 2024) of LLMs.<br>GPL-3.0-or-later (uses QCustomPlot, GPL-3.0).<br>"
              "Walk-through: docs/GUI.md.<br><br><b>This machine</b>") +
           system;
}

void MainWindow::buildStatusBar() {
    m_jobLabel = new QLabel(this);
    m_progress = new QProgressBar(this);
    m_progress->setMaximumWidth(220);
    m_progress->setTextVisible(true);
    m_progress->hide();
    m_cancel = new QPushButton(tr("Cancel"), this);
    m_cancel->setToolTip(tr("Stop the running job (Esc)"));
    m_cancel->hide();
    m_cacheLabel = new QLabel(tr("cache: none"), this);
    m_cacheLabel->setToolTip(tr("Activation cache (HDF5) status"));
    statusBar()->addPermanentWidget(m_jobLabel);
    statusBar()->addPermanentWidget(m_progress);
    statusBar()->addPermanentWidget(m_cancel);
    statusBar()->addPermanentWidget(m_cacheLabel);
    connect(m_cancel, &QPushButton::clicked, m_session, &LensSession::cancelAll);
    connect(m_cancel, &QPushButton::clicked, m_studies, &StudyJobs::cancel);
    auto onStarted = [this](const QString& label) {
        m_jobLabel->setText(label);
        m_progress->setRange(0, 0);  // busy until the first progress report
        m_progress->show();
        m_cancel->show();
    };
    auto onProgress = [this](const QString& label, qint64 done, qint64 total, const QString& stage) {
        m_jobLabel->setText(stage.isEmpty() ? label : QStringLiteral("%1: %2").arg(label, stage));
        m_progress->setRange(0, static_cast<int>(std::max<qint64>(1, total)));
        m_progress->setValue(static_cast<int>(done));
        m_progress->setFormat(QStringLiteral("%v/%m"));
    };
    auto onFinished = [this] {
        if (!m_session->isIdle() || m_studies->isRunning()) return;
        m_progress->hide();
        m_cancel->hide();
        m_jobLabel->clear();
    };
    connect(m_session, &LensSession::jobStarted, this, onStarted);
    connect(m_session, &LensSession::jobProgress, this, onProgress);
    connect(m_session, &LensSession::jobFinished, this, onFinished);
    connect(m_studies, &StudyJobs::jobStarted, this, onStarted);
    connect(m_studies, &StudyJobs::jobProgress, this, onProgress);
    connect(m_studies, &StudyJobs::jobFinished, this, onFinished);
}

widgets::PlotView* MainWindow::view(const QString& kind) const {
    for (auto* v : m_views) {
        if (v->kind() == kind) return v;
    }
    return nullptr;
}

widgets::PlotView* MainWindow::currentView() const { return qobject_cast<widgets::PlotView*>(m_tabs->currentWidget()); }

void MainWindow::showView(const QString& kind) {
    if (auto* v = view(kind)) m_tabs->setCurrentWidget(v);
}

void MainWindow::showStudy(const QString& kind) {
    for (widgets::PlotView* v : m_studies->views()) {
        if (v->kind() == kind) m_tabs->setCurrentWidget(v);
    }
}

void MainWindow::openModel(const QString& folder) {
    statusBar()->showMessage(tr("Opening %1…").arg(folder));
    m_session->openModel(folder);
}

void MainWindow::chooseImage() {
    const QString path = QFileDialog::getOpenFileName(this, tr("Open an image for the vision model"), QString(),
                                                      tr("Images and pixel tensors (*.png *.jpg *.jpeg *.npy);;PNG (*.png);;JPEG (*.jpg *.jpeg);;"
                                                         "pixel_values (*.npy)"));
    if (!path.isEmpty()) openImage(path);
}

bool MainWindow::isImageFile(const QString& path) {
    for (const char* ext : {".png", ".jpg", ".jpeg", ".npy"}) {
        if (path.endsWith(QLatin1String(ext), Qt::CaseInsensitive)) return true;
    }
    return false;
}

void MainWindow::openImage(const QString& file) {
    if (!m_session->hasModel()) {
        showError(tr("Open a vision model first (File → Open model), then the image."));
        return;
    }
    if (!m_session->isVisionModel()) {
        showError(QString::fromUtf8(kImageToTextModel));
        return;
    }
    m_promptPanel->setImage(file);
    m_session->runImage(file, !m_session->scanned());
}

void MainWindow::openModelB(const QString& path) {
    statusBar()->showMessage(tr("Opening %1 as model B…").arg(path));
    m_session->openModelB(path);
}

void MainWindow::openImatrix(const QString& path) {
    statusBar()->showMessage(tr("Reading %1…").arg(path));
    m_session->setImatrix(path);
}

void MainWindow::onModelBChanged() {
    const LoadedModel* a = m_session->model();
    const LoadedModel* b = m_session->modelB();
    m_overlayAction->setEnabled(b != nullptr);
    m_closeBAction->setEnabled(b != nullptr);
    {
        const QSignalBlocker block(m_overlayAction);
        m_overlayAction->setChecked(m_session->overlayModelB());
    }
    if (a) setWindowTitle(b ? tr("SuperLens — %1 (B: %2)").arg(a->displayName, b->displayName) : tr("SuperLens — %1").arg(a->displayName));
}

void MainWindow::openActivations(const QString& file) {
    statusBar()->showMessage(tr("Reading %1…").arg(file));
    m_session->openActivations(file);
}

void MainWindow::onModelOpened() {
    m_cacheLabel->setText(tr("cache: none"));
    const LoadedModel* m = m_session->model();
    setWindowTitle(tr("SuperLens — %1").arg(m->displayName));
    m_summary->showModel(m);
    m_promptPanel->modelChanged();
    m_undo->clear();
    m_ablations->setEntries({});
    m_selectedLayer = -1;
    m_layerChosenFor.clear();
    // The history holds runs of one model.
    if (m_historyModel != m->folder) {
        m_history->clear();
        m_historyModel = m->folder;
    }
    addRecent(m->folder);
    // A vision model waits for an image (the previous model's, when there is one, runs at once).
    if (m_session->isVisionModel() && m_promptPanel->image().isEmpty()) {
        statusBar()->showMessage(tr("A vision model: open an image (File → Open image…) or drop a PNG, JPEG or .npy file on the window"), 15000);
    } else if (m_autoRun) {
        runPrompt(true);
    }
}

void MainWindow::runPrompt(bool scan) { m_promptPanel->requestRun(scan); }

void MainWindow::selectLayer(int layer) {
    if (layer < 0) return;
    m_selectedLayer = layer;
    m_navigator->setSelectedLayer(layer);
    for (auto* v : m_views) v->setSelectedLayer(layer);
}

void MainWindow::selectToken(int position) {
    for (auto* v : m_views) {
        if (auto* p = qobject_cast<widgets::PropagationView*>(v)) p->setToken(position);
        else if (auto* l = qobject_cast<widgets::LensView*>(v)) l->setPosition(position);
        else if (auto* g = qobject_cast<widgets::PatchGridView*>(v)) g->setSelectedToken(position);
    }
}

void MainWindow::showAttentionHead(int layer, int head, bool edited) {
    for (auto* v : m_views) {
        auto* attention = qobject_cast<widgets::AttentionView*>(v);
        if (!attention) continue;
        selectLayer(layer);
        attention->setHead(head);
        attention->setShowEdited(edited);
        m_tabs->setCurrentWidget(attention);
        return;
    }
}

void MainWindow::onSnapshot(core::view::SnapshotPtr snapshot) {
    m_navigator->setSnapshot(snapshot);
    const void* pixels = snapshot && snapshot->original ? snapshot->original->pixels.get() : nullptr;
    if (snapshot && (snapshot->tokens != m_layerChosenFor || pixels != m_layerChosenForPixels)) {
        // A new prompt (or image): start at the first super weight's layer, else the largest spike.
        m_layerChosenFor = snapshot->tokens;
        m_layerChosenForPixels = pixels;
        m_selectedLayer = core::view::defaultSelectedLayer(*snapshot);
        // The first prompt after a restart shows the layer the last session showed.
        if (m_restoredLayer >= 0 && m_restoredLayer < snapshot->layers) m_selectedLayer = m_restoredLayer;
        m_restoredLayer = -1;
    }
    for (auto* v : m_views) {
        // Selection first (no redraw without a snapshot), then one redraw with the new data.
        v->blockSignals(true);
        v->setSelectedLayer(m_selectedLayer);
        v->blockSignals(false);
        v->setSnapshot(snapshot);
    }
    m_navigator->setSelectedLayer(m_selectedLayer);
    const double ms = m_sinceEdit.isValid() ? static_cast<double>(m_sinceEdit.nsecsElapsed()) / 1e6 : -1.0;
    m_sinceEdit.invalidate();
    const bool comparing = snapshot && !snapshot->comparison.empty();
    if (snapshot && !comparing && m_session->hasModel() && !m_session->showingCache())
        m_history->record(runRecordOf(*snapshot, m_promptPanel->text(), m_promptPanel->idsMode(), m_session->imageFile()));
    if (snapshot && snapshot->image) m_promptPanel->setThumbnail(snapshot->image->rgb, snapshot->image->width, snapshot->image->height);
    auto editList = [](const std::vector<std::string>& edits) {
        QStringList l;
        for (const auto& e : edits) l << QString::fromStdString(e);
        return l.isEmpty() ? tr("no edits") : l.join(QStringLiteral(", "));
    };
    QString comparison;
    if (comparing && snapshot->secondSideIsModelB) {
        comparison = tr("Model B overlay — %1: 'original' is model A, 'edited' is model B, both with %2. Analysis → Overlay model B (Ctrl+Shift+B) returns.")
                         .arg(QString::fromStdString(snapshot->comparison), editList(snapshot->editTexts));
    } else if (comparing) {
        comparison = tr("Comparing %1 — 'original' is run A: %2; 'edited' is run B: %3. Any edit or run returns to the live view (Ctrl+L).")
                         .arg(QString::fromStdString(snapshot->comparison), editList(snapshot->baselineEditTexts), editList(snapshot->editTexts));
    }
    m_comparisonBanner->setText(comparison);
    m_comparisonBanner->setVisible(comparing);
    m_historyPanel->setComparison(comparison);
    if (snapshot && snapshot->hasEdits() && !comparing) {
        statusBar()->showMessage(tr("%n edit(s) applied: recomputed from block %1 in %2 ms", nullptr, static_cast<int>(snapshot->editTexts.size()))
                                     .arg(std::max(0, snapshot->edited->recomputedFromStage - 1))
                                     .arg(ms >= 0 ? QString::number(ms, 'f', 0) : QStringLiteral("?")),
                                 8000);
    }
    if (snapshot && snapshot->perplexity) {
        m_ablationPanel->setPerplexityText(tr("ppl %1 → %2").arg(snapshot->perplexity->original, 0, 'g', 4).arg(snapshot->perplexity->edited, 0, 'g', 4));
    }
    emit viewsUpdated(ms);
}

void MainWindow::exportView(widgets::PlotView* v) {
    if (!v) return;
    if (!v->hasData()) {
        showError(tr("The %1 view has nothing to export yet: %2").arg(v->title(), v->emptyMessage()));
        return;
    }
    widgets::ExportOptions options = ExportDialog::savedOptions();
    const QString path = QFileDialog::getSaveFileName(this, tr("Export %1 figure").arg(v->title()), v->kind() + QStringLiteral(".pdf"),
                                                      tr("PDF (*.pdf);;SVG (*.svg);;PNG (*.png)"));
    if (path.isEmpty()) return;
    QString studyFile;
    if (m_studies->views().contains(v)) {
        // The study travels beside the figure, so the embedded command can draw it again.
        const QFileInfo f(path);
        studyFile = f.dir().filePath(f.completeBaseName() + QStringLiteral(".study.json"));
        QString error;
        if (!m_studies->saveStudyFile(v->kind(), studyFile, &error)) {
            showError(error);
            return;
        }
    }
    options.provenance = figureProvenance(*v, path, options, studyFile);
    QString error;
    if (!widgets::exportFigure(*v, path, options, &error)) showError(error);
    else statusBar()->showMessage(tr("Exported %1%2").arg(path, options.writeCsv ? tr(" and its CSV") : QString()), 8000);
}

widgets::FigureProvenance MainWindow::figureProvenance(const widgets::PlotView& view, const QString& path,
                                                      const widgets::ExportOptions& options, const QString& studyFile) const {
    widgets::FigureProvenance p;
    if (!studyFile.isEmpty()) {
        widgets::FigureCommand c;
        c.kinds = {view.kind()};
        c.study = QFileInfo(studyFile).absoluteFilePath();
        c.viewState = view.figureState();
        c.options = options;
        c.out = QFileInfo(path).absoluteFilePath();
        p.version = QCoreApplication::applicationVersion();
        if (const LoadedModel* m = m_session->model()) p.modelPath = QFileInfo(m->folder).absoluteFilePath();
        p.command = widgets::figureCommandLine(c);
        return p;
    }
    const LoadedModel* m = m_session->model();
    if (!m) return p;
    widgets::FigureCommand c;
    c.kinds = {view.kind()};
    c.model = QFileInfo(m->folder).absoluteFilePath();
    QStringList ids;
    for (core::TokenId id : m_session->tokens()) ids << QString::number(id);
    const auto& shown = view.snapshot();
    if (shown && shown->image && !shown->image->source.empty()) c.image = QFileInfo(QString::fromStdString(shown->image->source)).absoluteFilePath();
    else if (m_promptPanel->idsMode()) c.ids = ids.join(QLatin1Char(','));
    else c.prompt = m_promptPanel->text();
    c.edits = m_session->edits();
    if (const auto& s = view.snapshot(); s && !s->comparison.empty()) {
        // Two runs of the history: run A's edits draw the "original" side.
        c.edits.clear();
        for (const auto& e : s->editTexts) c.edits << QString::fromStdString(e);
        for (const auto& e : s->baselineEditTexts) c.baselineEdits << QString::fromStdString(e);
    }
    if (const LoadedModel* b = m_session->modelB()) {
        // Model B is open: the Compare view's second model (and the names an importance matrix
        // uses); with the overlay, every view's second side (A and B with the same edits).
        const bool overlay = view.snapshot() && view.snapshot()->secondSideIsModelB;
        c.compareWith = QFileInfo(b->folder).absoluteFilePath();
        c.overlayB = overlay;
        if (overlay) {
            c.edits = m_session->edits();
            c.baselineEdits.clear();
        }
    }
    if (!m_session->imatrixPath().isEmpty() && (view.kind() == QLatin1String("layer") || view.kind() == QLatin1String("compare")))
        c.imatrix = QFileInfo(m_session->imatrixPath()).absoluteFilePath();
    c.layer = view.selectedLayer();
    c.compute = QString::fromLatin1(core::computeDtypeName(m->engine->options().compute));  // a bf16 figure replays in bf16
    c.viewState = view.figureState();
    c.options = options;
    c.out = QFileInfo(path).absoluteFilePath();
    p.version = QCoreApplication::applicationVersion();
    p.modelPath = c.model;
    p.modelFingerprint = QString::fromStdString(m->model->fingerprint());
    p.prompt = c.prompt;
    p.ids = ids.join(QLatin1Char(','));
    p.image = c.image;
    p.edits = c.edits;
    p.command = widgets::figureCommandLine(c);
    return p;
}

void MainWindow::exportAll() {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Export every view into a folder"));
    if (dir.isEmpty()) return;
    QString error;
    const widgets::ExportOptions options = ExportDialog::savedOptions();
    const QStringList written = widgets::exportAllFigures(
        m_views, dir, {widgets::FigureFormat::Pdf, widgets::FigureFormat::Svg, widgets::FigureFormat::Png}, options, &error,
        [this, &options](const widgets::PlotView& v, const QString& path) { return figureProvenance(v, path, options); });
    if (!error.isEmpty()) showError(error);
    statusBar()->showMessage(tr("Exported %n figure(s) to %1", nullptr, static_cast<int>(written.size())).arg(dir), 8000);
}

bool MainWindow::compareRuns(int runA, int runB, QString* error) {
    const RunRecord* a = m_history->byNumber(runA);
    const RunRecord* b = m_history->byNumber(runB);
    if (!a || !b) {
        *error = tr("No run %1 in the history.").arg(a ? runB : runA);
        return false;
    }
    if (!m_session->hasModel() || m_session->model()->folder != m_historyModel) {
        *error = tr("The runs were made with %1: open it to compare them.").arg(m_historyModel);
        return false;
    }
    const auto vocab = m_session->model()->model->config().vocabSize;
    for (core::TokenId id : a->tokens) {
        if (id < 0 || id >= vocab) {
            *error = tr("Run %1 holds token id %2, outside this model's vocabulary (0..%3).").arg(runA).arg(id).arg(vocab - 1);
            return false;
        }
    }
    if (a->tokens != b->tokens || a->image != b->image) {
        *error = tr("Runs %1 and %2 have different prompts: the views are per token, so compare runs of the same prompt "
                    "(restore one and change only the edits).").arg(runA).arg(runB);
        return false;
    }
    m_session->compareRuns(a->tokens, a->edits, b->edits, tr("run %1 vs run %2").arg(runA).arg(runB), a->image);
    return true;
}

void MainWindow::showLive() {
    if (!m_session->hasModel() || !m_session->originalResult()) return;
    if (m_session->snapshot() && m_session->snapshot()->comparison.empty()) return;  // already live
    m_session->setEdits(m_ablations->enabledSpecs());
}

bool MainWindow::restoreRun(int number, QString* error) {
    const RunRecord* r = m_history->byNumber(number);
    if (!r) {
        *error = tr("No run %1 in the history.").arg(number);
        return false;
    }
    if (!r->image.isEmpty()) {
        m_promptPanel->setImage(r->image);
    } else {
        m_promptPanel->setIdsMode(r->idsMode);
        m_promptPanel->setText(r->prompt);
    }
    QList<AblationEntry> entries;
    for (const QString& spec : r->edits) {
        bool kept = false;
        for (AblationEntry e : m_ablations->entries()) {  // keep labels and origins of the same edits
            if (e.spec == spec) {
                e.enabled = true;
                entries << e;
                kept = true;
                break;
            }
        }
        if (!kept) {
            AblationEntry e;
            e.spec = e.label = spec;
            e.enabled = true;
            entries << e;
        }
    }
    // The current list's other entries stay, switched off.
    for (AblationEntry e : m_ablations->entries()) {
        if (r->edits.contains(e.spec)) continue;
        e.enabled = false;
        entries << e;
    }
    m_undo->push(new SetAblationsCommand(m_ablations, entries, tr("Restore run %1").arg(number)));
    if (m_session->tokens() != r->tokens || m_session->imageFile() != r->image) runPrompt(false);
    return true;
}

bool MainWindow::saveExperimentTo(const QString& path, QString* error) {
    Experiment x;
    if (const LoadedModel* m = m_session->model()) x.modelFolder = m->folder;
    x.prompts = m_promptPanel->prompts();
    const QString current = m_promptPanel->text();
    x.currentPrompt = static_cast<int>(x.prompts.indexOf(current));
    if (x.currentPrompt < 0) {
        x.prompts << current;
        x.currentPrompt = static_cast<int>(x.prompts.size()) - 1;
    }
    x.idsMode = m_promptPanel->idsMode();
    x.edits = m_ablations->entries();
    x.hasHistory = true;
    x.history = m_history->runs();
    if (!saveExperiment(path, x, error)) return false;
    addRecentExperiment(path);
    return true;
}

bool MainWindow::loadExperimentFrom(const QString& path, QString* error) {
    auto x = loadExperiment(path, error);
    if (!x) return false;
    if (!x->prompts.isEmpty()) m_promptPanel->setPrompts(x->prompts, x->currentPrompt);
    m_promptPanel->setIdsMode(x->idsMode);
    // The loaded list is one undoable step on top of the current one.
    // The saved history replaces this session's (runs of the saved experiment, to compare again).
    if (x->hasHistory) {
        m_history->setRuns(x->history);
        m_historyModel = x->modelFolder.isEmpty() && m_session->model() ? m_session->model()->folder : x->modelFolder;
    }
    m_undo->push(new SetAblationsCommand(m_ablations, x->edits, tr("Load experiment %1").arg(QFileInfo(path).fileName())));
    addRecentExperiment(path);
    statusBar()->showMessage(tr("Loaded %1").arg(path), 6000);
    return true;
}

void MainWindow::closeEvent(QCloseEvent* event) {
    saveSessionState();
    QSettings s;
    s.setValue(QStringLiteral("window/geometry"), saveGeometry());
    s.setValue(QStringLiteral("window/state"), saveState());
    m_session->cancelAll();
    event->accept();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    if (event->mimeData()->hasUrls()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) { openDropped(event->mimeData()->urls(), event->modifiers()); }

void MainWindow::openDropped(const QList<QUrl>& urls, Qt::KeyboardModifiers modifiers) {
    // A model dropped with Shift held, or onto the Compare view, opens as model B.
    const bool asModelB = (modifiers & Qt::ShiftModifier) || (currentView() && currentView()->kind() == QLatin1String("compare"));
    for (const QUrl& url : urls) {
        const QString path = url.toLocalFile();
        if (QFileInfo(path).isDir() || path.endsWith(QLatin1String(".gguf"))) {
            if (asModelB && m_session->hasModel()) openModelB(path);
            else openModel(path);
            return;
        }
        if (path.endsWith(QLatin1String(".dat"))) {
            openImatrix(path);
            return;
        }
        if (path.endsWith(QLatin1String(".h5")) || path.endsWith(QLatin1String(".hdf5"))) {
            openActivations(path);
            return;
        }
        if (path.endsWith(QLatin1String(".json"))) {
            QString error;
            if (!loadExperimentFrom(path, &error)) showError(error);
            return;
        }
        if (isImageFile(path)) {
            openImage(path);
            return;
        }
    }
    showError(tr("Drop a model folder (config.json + safetensors), a .gguf file (with Shift: as model B), an activation cache (.h5), "
                 "an importance matrix (.dat), an experiment .json or, for a vision model, an image (PNG, JPEG, .npy)"));
}

void MainWindow::addRecent(const QString& folder) {
    QSettings s;
    QStringList recent = s.value(QStringLiteral("recentModels")).toStringList();
    recent.removeAll(folder);
    recent.prepend(folder);
    while (recent.size() > kMaxRecent) recent.removeLast();
    s.setValue(QStringLiteral("recentModels"), recent);
    rebuildRecentMenu();
}

void MainWindow::addRecentExperiment(const QString& path) {
    QSettings s;
    const QString absolute = QFileInfo(path).absoluteFilePath();
    QStringList recent = s.value(QStringLiteral("recentExperiments")).toStringList();
    recent.removeAll(absolute);
    recent.prepend(absolute);
    while (recent.size() > kMaxRecent) recent.removeLast();
    s.setValue(QStringLiteral("recentExperiments"), recent);
    rebuildRecentMenu();
}

QStringList MainWindow::recentExperiments() const { return QSettings().value(QStringLiteral("recentExperiments")).toStringList(); }

void MainWindow::rebuildRecentMenu() {
    m_recentMenu->clear();
    const QStringList recent = QSettings().value(QStringLiteral("recentModels")).toStringList();
    for (const QString& folder : recent) m_recentMenu->addAction(folder, this, [this, folder] { openModel(folder); });
    m_recentMenu->setEnabled(!recent.isEmpty());
    m_recentExperimentsMenu->clear();
    const QStringList experiments = recentExperiments();
    for (const QString& path : experiments) {
        m_recentExperimentsMenu->addAction(path, this, [this, path] {
            QString error;
            if (!loadExperimentFrom(path, &error)) showError(error);
        });
    }
    m_recentExperimentsMenu->setEnabled(!experiments.isEmpty());
}

void MainWindow::showError(const QString& message) {
    // Never modal (the window keeps working; screenshot mode must not block):
    // the status bar and a non-modal dialog, one for the window, that shows
    // the newest error.
    statusBar()->showMessage(tr("Error: %1").arg(message), 15000);
    if (!m_errorDialog) {
        m_errorDialog = new QMessageBox(QMessageBox::Warning, tr("SuperLens"), QString(), QMessageBox::Close, this);
        m_errorDialog->setObjectName(QStringLiteral("errorDialog"));
        m_errorDialog->setWindowModality(Qt::NonModal);
        m_errorDialog->setTextFormat(Qt::PlainText);
    }
    m_errorDialog->setText(message);
    m_errorDialog->show();
    m_errorDialog->raise();
    qWarning("superlens: %s", qPrintable(message));
}

}  // namespace superlens::gui
