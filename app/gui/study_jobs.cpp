#include "study_jobs.h"

#include <algorithm>

#include <QCheckBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QMenu>
#include <QPushButton>
#include <QSpinBox>

#include "jobs/job_lane.h"
#include "lens_session.h"
#include "path_conversion.h"
#include "resource_locator.h"
#include "studies/laser_heatmap_view.h"
#include "studies/quant_plot_view.h"
#include "studies/superweight_study_view.h"
#include "superlens/core/analysis/superweight_study_json.h"
#include "superlens/core/tokenizer/token_ids.h"
#include "superlens/core/model/mapped_file.h"
#include "superlens/core/analysis/bundled_resources.h"
#include "superlens/core/analysis/super_weights.h"
#include "superlens/core/system/output_file.h"

namespace superlens::gui {

namespace {

// Everything a sweep measures with, kept alive for the worker (the study
// inputs point into it).
struct MeasureData {
    std::vector<core::ZeroShotTask> tasks;
    std::vector<core::AnswerTask> answers;
    std::vector<core::EditSpec> edits;
    core::CompressionStudyInputs inputs;
};

core::Result<std::unique_ptr<MeasureData>> prepareMeasures(const LoadedModel& loaded, const StudyMeasureSettings& s,
                                                           const std::vector<std::string>& baseSpecs) {
    auto d = std::make_unique<MeasureData>();
    const core::Tokenizer* tok = loaded.tokenizer.get();
    if (!tok) return core::Error{"this model has no tokenizer: run the study with superlens-cli study ... --text-ids FILE and open its JSON"};
    const std::filesystem::path path = toPath(s.textFile);
    auto text = core::readRegularFile(path, core::kMaxTextBytes);
    if (!text) return text.error();
    std::vector<core::TokenId> ids = tok->encode(*text, true);
    if (s.maxTokens > 0 && static_cast<int>(ids.size()) > s.maxTokens) ids.resize(static_cast<std::size_t>(s.maxTokens));
    if (ids.size() < 2) return core::Error{path.string() + ": the study text has fewer than two tokens"};
    d->inputs.textTokens = std::move(ids);
    d->inputs.tokenizer = tok;
    d->inputs.perplexity.context = std::max(2, s.context);
    // A bidirectional encoder is measured on masked tokens; it cannot score continuations.
    if (s.zeroShot && loaded.model->config().causal) {
        auto t = core::parseZeroShotTasks(std::string(core::bundledZeroShotTasksText()), "bundled tasks");
        if (!t) return t.error();
        d->tasks = std::move(t).value();
        d->inputs.tasks = &d->tasks;
    }
    if (!s.answersFile.isEmpty()) {
        auto a = core::loadAnswerTasks(toPath(s.answersFile).string());
        if (!a) return a.error();
        d->answers = std::move(a).value();
        d->inputs.answers = &d->answers;
    }
    auto edits = core::parseEdits(baseSpecs, *loaded.model);
    if (!edits) return core::Error{"current edits: " + edits.error().message};
    d->edits = std::move(edits).value();
    return d;
}

std::vector<std::string> stdStrings(const QStringList& list) {
    std::vector<std::string> out;
    for (const QString& s : list) out.push_back(s.toStdString());
    return out;
}

QString joinNumbers(const auto& list) {
    QStringList parts;
    for (const auto& v : list) parts << QString::number(v);
    return parts.join(QLatin1Char(','));
}

QString readFile(const QString& path, QString* error) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("%1: cannot open (%2)").arg(path, f.errorString());
        return {};
    }
    return QString::fromUtf8(f.readAll());
}

// The measure rows every sweep dialog has.
struct MeasureFields {
    QLineEdit* text;
    QSpinBox* maxTokens;
    QSpinBox* context;
    QCheckBox* zeroShot;
    QLineEdit* answers;

    MeasureFields(QDialog* dialog, QFormLayout* form, const StudyMeasureSettings& s) {
        auto fileRow = [&](QLineEdit* edit, const QString& title, const QString& filter) {
            auto* row = new QHBoxLayout;
            auto* browse = new QPushButton(QObject::tr("Browse…"), dialog);
            row->addWidget(edit, 1);
            row->addWidget(browse);
            QObject::connect(browse, &QPushButton::clicked, dialog, [dialog, edit, title, filter] {
                const QString p = QFileDialog::getOpenFileName(dialog, title, edit->text(), filter);
                if (!p.isEmpty()) edit->setText(p);
            });
            return row;
        };
        text = new QLineEdit(s.textFile.isEmpty() ? heldOutTextFile() : s.textFile, dialog);
        form->addRow(QObject::tr("Perplexity text"), fileRow(text, QObject::tr("Perplexity text"), QObject::tr("Text (*.txt);;All files (*)")));
        maxTokens = new QSpinBox(dialog);
        maxTokens->setRange(2, 1 << 20);
        maxTokens->setValue(s.maxTokens);
        maxTokens->setToolTip(QObject::tr("Use the text's first N tokens (every configuration runs them all)"));
        form->addRow(QObject::tr("Text tokens"), maxTokens);
        context = new QSpinBox(dialog);
        context->setRange(2, 1 << 16);
        context->setValue(s.context);
        form->addRow(QObject::tr("Window (tokens)"), context);
        zeroShot = new QCheckBox(QObject::tr("bundled multiple-choice set"), dialog);
        zeroShot->setChecked(s.zeroShot);
        form->addRow(QObject::tr("Zero-shot accuracy"), zeroShot);
        answers = new QLineEdit(s.answersFile, dialog);
        answers->setPlaceholderText(QObject::tr("optional JSONL {\"context\", \"answer\"}"));
        form->addRow(QObject::tr("Answer set"), fileRow(answers, QObject::tr("Answer set"), QObject::tr("JSONL (*.jsonl *.json);;All files (*)")));
    }
    void read(StudyMeasureSettings* s) const {
        s->textFile = text->text().trimmed();
        s->maxTokens = maxTokens->value();
        s->context = context->value();
        s->zeroShot = zeroShot->isChecked();
        s->answersFile = answers->text().trimmed();
    }
};

QDialogButtonBox* addButtons(QDialog* dialog, QFormLayout* form) {
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, dialog);
    buttons->button(QDialogButtonBox::Ok)->setText(QObject::tr("Run"));
    QObject::connect(buttons, &QDialogButtonBox::accepted, dialog, &QDialog::accept);
    QObject::connect(buttons, &QDialogButtonBox::rejected, dialog, &QDialog::reject);
    form->addRow(buttons);
    return buttons;
}

}  // namespace

bool editLaserSweepSettings(QWidget* parent, const core::Model* model, LaserSweepSettings* settings) {
    QDialog dialog(parent);
    dialog.setWindowTitle(QObject::tr("LASER sweep"));
    auto* form = new QFormLayout(&dialog);
    QStringList allTypes;
    if (model) {
        for (const auto& t : core::laserMatrixTypes(*model)) allTypes << QString::fromStdString(t);
    }
    auto* types = new QLineEdit((settings->types.isEmpty() ? allTypes : settings->types).join(QLatin1Char(',')), &dialog);
    types->setToolTip(QObject::tr("Matrix types, comma separated (this model: %1)").arg(allTypes.join(QStringLiteral(", "))));
    form->addRow(QObject::tr("Matrix types"), types);
    auto* layers = new QLineEdit(joinNumbers(settings->layers), &dialog);
    layers->setPlaceholderText(QObject::tr("all layers (or e.g. 0,2-5)"));
    form->addRow(QObject::tr("Layers"), layers);
    auto* rhos = new QLineEdit(joinNumbers(settings->rhos), &dialog);
    rhos->setToolTip(QObject::tr("Fractions of the maximal rank kept, in (0, 1]"));
    form->addRow(QObject::tr("ρ values"), rhos);
    MeasureFields measure(&dialog, form, settings->measure);
    addButtons(&dialog, form);
    while (dialog.exec() == QDialog::Accepted) {
        // The lists are read by core's rules, as the CLI's --types/--layers/--rhos.
        LaserSweepSettings s = *settings;
        s.types.clear();
        for (const auto& t : core::splitListItems(types->text().toStdString())) s.types << QString::fromStdString(t);
        if (s.types == allTypes) s.types.clear();
        s.layers.clear();
        core::Result<std::vector<int>> layerList = std::vector<int>{};
        if (!layers->text().trimmed().isEmpty()) layerList = core::parseLayerList(layers->text().toStdString(), model ? model->config().numLayers : 0, "Layers");
        auto rhoList = core::parseRhoList(rhos->text().toStdString(), "ρ values");
        if (!layerList || !rhoList) {
            const std::string problem = !layerList ? layerList.error().message : rhoList.error().message;
            dialog.setWindowTitle(QObject::tr("LASER sweep — %1").arg(QString::fromStdString(problem)));
            continue;
        }
        for (int l : *layerList) s.layers << l;
        s.rhos.clear();
        for (double r : *rhoList) s.rhos << r;
        measure.read(&s.measure);
        *settings = s;
        return true;
    }
    return false;
}

bool editQuantSweepSettings(QWidget* parent, QuantSweepSettings* settings) {
    QDialog dialog(parent);
    dialog.setWindowTitle(QObject::tr("Quantization sweep (super-weight paper, Fig. 7)"));
    auto* form = new QFormLayout(&dialog);
    auto* bits = new QSpinBox(&dialog);
    bits->setRange(2, 8);
    bits->setValue(settings->bits);
    form->addRow(QObject::tr("Weight bits"), bits);
    QStringList blockText;
    for (qint64 b : settings->blocks) blockText << QString::fromStdString(core::blockLabel(b));
    auto* blocks = new QLineEdit(blockText.join(QLatin1Char(',')), &dialog);
    blocks->setToolTip(QObject::tr("Block sizes in elements, or 'tensor'"));
    form->addRow(QObject::tr("Block sizes"), blocks);
    auto* keep = new QCheckBox(QObject::tr("also RTN keeping the super weights (the paper's \"ours\")"), &dialog);
    keep->setChecked(settings->keepSuper);
    form->addRow(QObject::tr("keep_super"), keep);
    auto* zclip = new QDoubleSpinBox(&dialog);
    zclip->setRange(0, 100);
    zclip->setSpecialValueText(QObject::tr("off"));
    zclip->setValue(settings->zclip);
    form->addRow(QObject::tr("Clip at ± Z σ"), zclip);
    auto* actBits = new QSpinBox(&dialog);
    actBits->setRange(0, 16);
    actBits->setSpecialValueText(QObject::tr("off"));
    actBits->setValue(settings->actBits);
    actBits->setToolTip(QObject::tr("Also quantize the residual stream (per token and per tensor), with and without the super activation"));
    form->addRow(QObject::tr("Activation bits"), actBits);
    MeasureFields measure(&dialog, form, settings->measure);
    addButtons(&dialog, form);
    while (dialog.exec() == QDialog::Accepted) {
        QuantSweepSettings s = *settings;
        // Block sizes by core's rule, as the CLI's --blocks.
        const auto blockList = core::parseBlockSizes(blocks->text().toStdString(), "Block sizes", false);
        if (!blockList || actBits->value() == 1) {
            dialog.setWindowTitle(QObject::tr("Quantization sweep — %1")
                                      .arg(!blockList ? QString::fromStdString(blockList.error().message) : QObject::tr("activation bits: off, or 2 and more")));
            continue;
        }
        s.blocks.clear();
        for (std::int64_t b : *blockList) s.blocks << b;
        s.bits = bits->value();
        s.keepSuper = keep->isChecked();
        s.zclip = zclip->value();
        s.actBits = actBits->value();
        measure.read(&s.measure);
        *settings = s;
        return true;
    }
    return false;
}

bool editSuperWeightStudySettings(QWidget* parent, SuperWeightStudySettings* settings) {
    QDialog dialog(parent);
    dialog.setWindowTitle(QObject::tr("Super-weight study (intervals, null control, joint ablation)"));
    auto* form = new QFormLayout(&dialog);
    StudyMeasureSettings m;
    m.textFile = settings->textFile;
    m.maxTokens = settings->maxTokens;
    m.context = settings->context;
    m.zeroShot = settings->zeroShot;
    MeasureFields measure(&dialog, form, m);
    measure.answers->setEnabled(false);
    measure.answers->setPlaceholderText(QObject::tr("(not used by this study)"));
    auto* ids = new QLineEdit(settings->idsFile, &dialog);
    ids->setPlaceholderText(QObject::tr("optional: token ids instead of the text (models without a tokenizer)"));
    form->addRow(QObject::tr("Text token ids"), ids);
    auto* bos = new QCheckBox(QObject::tr("every window starts with BOS (as --bos-windows)"), &dialog);
    bos->setChecked(settings->bosWindows);
    form->addRow(QObject::tr("BOS windows"), bos);
    auto* stop = new QCheckBox(QObject::tr("bundled English stopwords"), &dialog);
    stop->setChecked(settings->stopwords);
    form->addRow(QObject::tr("Stopword mass"), stop);
    auto* outliers = new QSpinBox(&dialog);
    outliers->setRange(0, 1000000);
    outliers->setSpecialValueText(QObject::tr("as many as the super weights"));
    outliers->setValue(settings->outliers);
    form->addRow(QObject::tr("Control outliers per matrix"), outliers);
    auto* level = new QDoubleSpinBox(&dialog);
    level->setRange(0.5, 0.999);
    level->setDecimals(3);
    level->setSingleStep(0.01);
    level->setValue(settings->ciLevel);
    form->addRow(QObject::tr("Interval level"), level);
    auto* resamples = new QSpinBox(&dialog);
    resamples->setRange(0, 1000000);
    resamples->setSpecialValueText(QObject::tr("no intervals"));
    resamples->setValue(settings->resamples);
    form->addRow(QObject::tr("Bootstrap resamples"), resamples);
    auto* nullCount = new QSpinBox(&dialog);
    nullCount->setRange(0, 100000);
    nullCount->setSpecialValueText(QObject::tr("off"));
    nullCount->setValue(settings->nullCount);
    nullCount->setToolTip(QObject::tr("K random weights (same matrix, and other layers) changed by the super weight's amount; one pass over the text each"));
    form->addRow(QObject::tr("Null control draws (K)"), nullCount);
    auto* joint = new QCheckBox(QObject::tr("each super weight alone, all but one, all, every pair"), &dialog);
    joint->setChecked(settings->joint);
    form->addRow(QObject::tr("Joint ablation"), joint);
    addButtons(&dialog, form);
    if (dialog.exec() != QDialog::Accepted) return false;
    measure.read(&m);
    settings->textFile = m.textFile;
    settings->maxTokens = m.maxTokens;
    settings->context = m.context;
    settings->zeroShot = m.zeroShot;
    settings->idsFile = ids->text().trimmed();
    settings->stopwords = stop->isChecked();
    settings->bosWindows = bos->isChecked();
    settings->outliers = outliers->value();
    settings->ciLevel = level->value();
    settings->resamples = resamples->value();
    settings->nullCount = nullCount->value();
    settings->joint = joint->isChecked();
    return true;
}

namespace {

// The study's inputs as `study superweight` makes them from --text / --text-ids
// (the text encoded with BOS, cut to maxTokens), kept alive for the worker.
struct SuperWeightData {
    core::StudyTasks tasks;
    std::vector<core::EditSpec> edits;
    core::SuperWeightStudyInputs inputs;
    core::SuperWeightStudyOptions options;
};

core::Result<std::unique_ptr<SuperWeightData>> prepareSuperWeight(const LoadedModel& loaded, const SuperWeightStudySettings& s,
                                                                  const std::vector<std::string>& baseSpecs) {
    auto d = std::make_unique<SuperWeightData>();
    const core::Model& model = *loaded.model;
    const core::Tokenizer* tok = loaded.tokenizer.get();
    std::vector<core::TokenId> ids;
    if (!s.idsFile.isEmpty()) {
        const std::filesystem::path path = toPath(s.idsFile);
        auto text = core::readRegularFile(path, core::kMaxTextBytes);
        if (!text) return text.error();
        auto parsed = core::parseTokenIds(*text, model.config().vocabSize, path.string());
        if (!parsed) return parsed.error();
        ids = std::move(parsed).value();
    } else {
        if (!tok) return core::Error{"this model has no tokenizer: give the study text as token ids (Text token ids)"};
        const std::filesystem::path path = toPath(s.textFile.isEmpty() ? heldOutTextFile() : s.textFile);
        auto text = core::readRegularFile(path, core::kMaxTextBytes);
        if (!text) return text.error();
        ids = tok->encode(*text, !s.bosWindows);
        if (s.maxTokens > 0 && static_cast<int>(ids.size()) > s.maxTokens) ids.resize(static_cast<std::size_t>(s.maxTokens));
        if (s.bosWindows) {
            auto windows = core::bosWindows(ids, tok, core::windowLength(s.context, model.config()), 0, path.string(), "the window");
            if (!windows) return windows.error();
            ids = std::move(windows).value();
        }
    }
    if (!s.idsFile.isEmpty() && s.maxTokens > 0 && static_cast<int>(ids.size()) > s.maxTokens) ids.resize(static_cast<std::size_t>(s.maxTokens));
    if (ids.size() < 2) return core::Error{"the study text has fewer than two tokens"};
    d->inputs.textTokens = std::move(ids);
    d->inputs.tokenizer = tok;
    if (s.stopwords && tok) d->inputs.stopwordIds = loaded.stopwordIds;
    auto tasks = core::studyZeroShotTasks("", !s.zeroShot || !tok, tok, model.folder().string(), model.config().causal);
    if (!tasks) return tasks.error();
    d->tasks = std::move(tasks).value();
    if (!d->tasks.tasks.empty()) d->inputs.tasks = &d->tasks.tasks;
    auto edits = core::parseEdits(baseSpecs, model);
    if (!edits) return core::Error{"current edits: " + edits.error().message};
    d->edits = std::move(edits).value();
    d->options.perplexity.context = core::windowLength(s.context, model.config());
    d->options.outlierCount = s.outliers;
    d->options.bootstrap.level = s.ciLevel;
    d->options.bootstrap.resamples = s.resamples;
    d->options.nullCount = s.nullCount;
    d->options.joint = s.joint;
    SL_TRY(core::validate(d->options.bootstrap));
    return d;
}

}  // namespace

StudyJobs::StudyJobs(LensSession* session, QWidget* dialogParent, QObject* parent)
    : QObject(parent), m_session(session), m_dialogParent(dialogParent) {
    m_lane = new JobLane(QStringLiteral("study"), this);
    m_laserView = new widgets::LaserHeatmapView(dialogParent);
    m_quantView = new widgets::QuantPlotView(dialogParent);
    m_superWeightView = new widgets::SuperWeightStudyView(dialogParent);
    connect(m_lane, &JobLane::started, this, &StudyJobs::jobStarted);
    connect(m_lane, &JobLane::progress, this, &StudyJobs::jobProgress);
    connect(m_lane, &JobLane::finished, this, [this](const QString& label, bool ok, const QString& message) {
        emit jobFinished(label, ok, message);
        if (!ok && message != QLatin1String(core::kCancelledMessage)) emit errorOccurred(label + QStringLiteral(": ") + message);
    });
    connect(m_lane, &JobLane::cancelled, this, [this](const QString& label) {
        emit statusMessage(tr("%1 cancelled").arg(label));
        emit jobFinished(label, false, QString::fromLatin1(core::kCancelledMessage));
    });
}

StudyJobs::~StudyJobs() {
    m_lane->cancel();
    m_lane->waitForIdle();
}

QList<widgets::PlotView*> StudyJobs::views() const { return {m_laserView, m_quantView, m_superWeightView}; }

void StudyJobs::populateMenu(QMenu* menu) {
    menu->addAction(tr("&LASER sweep…"), this, [this] {
        const LoadedModel* m = m_session->model();
        if (!m) {
            emit errorOccurred(tr("Open a model first: the LASER sweep runs on it."));
            return;
        }
        if (editLaserSweepSettings(m_dialogParent, m->model.get(), &m_laserSettings)) runLaser(m_laserSettings);
    });
    menu->addAction(tr("&Quantization sweep (Fig. 7)…"), this, [this] {
        if (!m_session->model()) {
            emit errorOccurred(tr("Open a model first: the quantization sweep runs on it."));
            return;
        }
        if (editQuantSweepSettings(m_dialogParent, &m_quantSettings)) runQuant(m_quantSettings);
    });
    menu->addAction(tr("&Super-weight study (intervals, null, joint)…"), this, [this] { askAndRunSuperWeight(); });
    menu->addAction(tr("&Cancel study"), this, &StudyJobs::cancel);
    menu->addSeparator();
    menu->addAction(tr("&Open study JSON…"), this, [this] {
        const QString path = QFileDialog::getOpenFileName(m_dialogParent, tr("Open a study (superlens-cli study laser|quant|superweight --json)"), QString(),
                                                          tr("Study JSON (*.json)"));
        QString error;
        if (!path.isEmpty() && !openStudyFile(path, &error)) emit errorOccurred(error);
    });
    for (const QString& kind : {QStringLiteral("laser"), QStringLiteral("quant"), QStringLiteral("superweight")}) {
        const QString text = kind == QLatin1String("laser") ? tr("Save &LASER study JSON…")
                             : kind == QLatin1String("quant") ? tr("Save &quantization study JSON…")
                                                              : tr("Save s&uper-weight study JSON…");
        menu->addAction(text, this, [this, kind] {
            const QString path = QFileDialog::getSaveFileName(m_dialogParent, tr("Save the study"), kind + QStringLiteral(".json"), tr("Study JSON (*.json)"));
            QString error;
            if (!path.isEmpty() && !saveStudyFile(kind, path, &error)) emit errorOccurred(error);
        });
    }
}

std::shared_ptr<const LoadedModel> StudyJobs::modelForStudy(const QString& what) {
    if (!m_session->hasModel()) {
        emit errorOccurred(tr("Open a model first: the %1 runs on it.").arg(what));
        return nullptr;
    }
    // A copy holds the model, tokenizer and engine alive for the worker.
    return std::make_shared<const LoadedModel>(*m_session->model());
}

bool StudyJobs::runLaser(const LaserSweepSettings& settings) {
    auto loaded = modelForStudy(tr("LASER sweep"));
    if (!loaded) return false;
    const std::vector<std::string> base = stdStrings(m_session->edits());
    core::LaserStudyOptions options;
    options.types = stdStrings(settings.types);
    options.layers.assign(settings.layers.begin(), settings.layers.end());
    options.rhos.assign(settings.rhos.begin(), settings.rhos.end());
    const StudyMeasureSettings measure = settings.measure;
    using Out = std::shared_ptr<const core::LaserStudy>;
    m_lane->start<Out>(
        tr("LASER sweep"),
        [loaded, base, options, measure](const core::RunControl& control) -> core::Result<Out> {
            auto data = prepareMeasures(*loaded, measure, base);
            if (!data) return data.error();
            auto study = core::studyLaser(*loaded->engine, (*data)->inputs, (*data)->edits, options, control);
            if (!study) return study.error();
            return Out(std::make_shared<const core::LaserStudy>(std::move(study).value()));
        },
        [this](core::Result<Out>& r) {
            if (r) showLaser(*r);
        });
    return true;
}

bool StudyJobs::runQuant(const QuantSweepSettings& settings) {
    auto loaded = modelForStudy(tr("quantization sweep"));
    if (!loaded) return false;
    const std::vector<std::string> base = stdStrings(m_session->edits());
    core::QuantStudyOptions options;
    options.bits = settings.bits;
    options.blocks.assign(settings.blocks.begin(), settings.blocks.end());
    if (settings.zclip > 0) options.zclip = settings.zclip;
    options.actBits = settings.actBits;
    // keep_super: the session's scan when it found super weights, else a scan of the study text's head (as the CLI does).
    std::vector<core::SuperWeightCoord> known;
    for (const auto& sw : m_session->superWeights()) known.push_back(sw.coord());
    const bool keep = settings.keepSuper;
    const StudyMeasureSettings measure = settings.measure;
    using Out = std::shared_ptr<const core::QuantStudy>;
    m_lane->start<Out>(
        tr("Quantization sweep"),
        [loaded, base, options, measure, known, keep](const core::RunControl& control) mutable -> core::Result<Out> {
            auto data = prepareMeasures(*loaded, measure, base);
            if (!data) return data.error();
            if (keep) {
                options.superWeights = known;
                if (known.empty()) {
                    auto scan = core::scanSuperWeights(*loaded->engine, core::scanInputHead((*data)->inputs.textTokens), (*data)->edits, {}, control);
                    if (!scan) return scan.error();
                    for (const auto& sw : scan->superWeights) options.superWeights.push_back(sw.coord());
                }
            }
            auto study = core::studyQuant(*loaded->engine, (*data)->inputs, (*data)->edits, options, control);
            if (!study) return study.error();
            return Out(std::make_shared<const core::QuantStudy>(std::move(study).value()));
        },
        [this](core::Result<Out>& r) {
            if (r) showQuant(*r);
        });
    return true;
}

void StudyJobs::askAndRunSuperWeight(int nullCount) {
    if (!m_session->model()) {
        emit errorOccurred(tr("Open a model first: the super-weight study runs on it."));
        return;
    }
    if (nullCount > 0 && m_superWeightSettings.nullCount == 0) m_superWeightSettings.nullCount = nullCount;
    if (editSuperWeightStudySettings(m_dialogParent, &m_superWeightSettings)) {
        runSuperWeight(m_superWeightSettings, nullCount > 0 && m_superWeightSettings.nullCount > 0 ? QStringLiteral("null") : QStringLiteral("conditions"));
    }
}

bool StudyJobs::runSuperWeight(const SuperWeightStudySettings& settings, const QString& show) {
    auto loaded = modelForStudy(tr("super-weight study"));
    if (!loaded) return false;
    const std::vector<std::string> base = stdStrings(m_session->edits());
    // The study scans the text's head for the super weights, as `study superweight` does.
    using Out = std::shared_ptr<const core::SuperWeightStudy>;
    m_lane->start<Out>(
        tr("Super-weight study"),
        [loaded, base, settings](const core::RunControl& control) -> core::Result<Out> {
            auto data = prepareSuperWeight(*loaded, settings, base);
            if (!data) return data.error();
            auto study = core::studySuperWeight(*loaded->engine, (*data)->inputs, (*data)->edits, (*data)->options, control);
            if (!study) return study.error();
            return Out(std::make_shared<const core::SuperWeightStudy>(std::move(study).value()));
        },
        [this, show](core::Result<Out>& r) {
            if (r) showSuperWeight(*r, show);
        });
    return true;
}

void StudyJobs::cancel() { m_lane->cancel(); }

bool StudyJobs::isRunning() const { return m_lane->isRunning(); }

void StudyJobs::showLaser(std::shared_ptr<const core::LaserStudy> study) {
    m_laserView->setStudy(std::move(study));
    emit statusMessage(tr("LASER study: %n cell(s)", nullptr, static_cast<int>(m_laserView->study()->cells.size())));
    emit studyShown(QStringLiteral("laser"));
}

void StudyJobs::showQuant(std::shared_ptr<const core::QuantStudy> study) {
    m_quantView->setStudy(std::move(study));
    emit statusMessage(tr("Quantization study: %n point(s)", nullptr, static_cast<int>(m_quantView->study()->points.size())));
    emit studyShown(QStringLiteral("quant"));
}

void StudyJobs::showSuperWeight(std::shared_ptr<const core::SuperWeightStudy> study, const QString& show) {
    m_superWeightView->setStudy(std::move(study));
    m_superWeightView->setShow(show);
    emit statusMessage(tr("Super-weight study: %n super weight(s)", nullptr, static_cast<int>(m_superWeightView->study()->superWeights.size())));
    emit studyShown(QStringLiteral("superweight"));
}

bool StudyJobs::openStudyFile(const QString& path, QString* error, QString* kind) {
    const QString text = readFile(path, error);
    if (text.isEmpty()) {
        if (error->isEmpty()) *error = QStringLiteral("%1: empty file").arg(path);
        return false;
    }
    const std::string json = text.toStdString(), name = path.toStdString();
    if (core::isSuperWeightStudyJson(json)) {
        auto s = core::parseSuperWeightStudyJson(json, name);
        if (!s) {
            *error = QString::fromStdString(s.error().message);
            return false;
        }
        if (kind) *kind = QStringLiteral("superweight");
        showSuperWeight(std::make_shared<const core::SuperWeightStudy>(std::move(s).value()), QStringLiteral("conditions"));
        return true;
    }
    auto k = core::compressionStudyKind(json, name);
    if (!k) {
        *error = QString::fromStdString(k.error().message);
        return false;
    }
    if (kind) *kind = QString::fromStdString(*k);
    if (*k == "laser") {
        auto s = core::parseLaserStudyJson(json, name);
        if (!s) {
            *error = QString::fromStdString(s.error().message);
            return false;
        }
        showLaser(std::make_shared<const core::LaserStudy>(std::move(s).value()));
    } else {
        auto s = core::parseQuantStudyJson(json, name);
        if (!s) {
            *error = QString::fromStdString(s.error().message);
            return false;
        }
        showQuant(std::make_shared<const core::QuantStudy>(std::move(s).value()));
    }
    return true;
}

bool StudyJobs::saveStudyFile(const QString& kind, const QString& path, QString* error) const {
    std::string json;
    if (kind == QLatin1String("laser") && m_laserView->study()) json = m_laserView->study()->toJson();
    else if (kind == QLatin1String("quant") && m_quantView->study()) json = m_quantView->study()->toJson();
    else if (kind == QLatin1String("superweight") && m_superWeightView->study()) json = core::superWeightStudyJson(*m_superWeightView->study());
    if (json.empty()) {
        *error = tr("There is no %1 study to save yet.").arg(kind);
        return false;
    }
    if (auto ok = core::writeFileAtomically(toPath(path), json + "\n", "the study"); !ok) {
        *error = QString::fromStdString(ok.error().message);
        return false;
    }
    return true;
}

}  // namespace superlens::gui
