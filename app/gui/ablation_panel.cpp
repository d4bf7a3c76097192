#include "ablation_panel.h"

#include <algorithm>

#include <QComboBox>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QSlider>
#include <QToolButton>
#include <QUndoStack>
#include <QVBoxLayout>

#include "ablation_commands.h"
#include "lens_session.h"
#include "superlens/core/engine/edit_spec.h"

namespace superlens::gui {

namespace {

QString originTag(AblationEntry::Origin o) {
    switch (o) {
        case AblationEntry::Origin::Detected: return QStringLiteral("SW");
        case AblationEntry::Origin::Published: return QStringLiteral("paper");
        case AblationEntry::Origin::User: return QStringLiteral("user");
        case AblationEntry::Origin::Preset: return QStringLiteral("preset");
        case AblationEntry::Origin::Scale: return QStringLiteral("scale");
    }
    return {};
}

}  // namespace

AblationPanel::AblationPanel(AblationSet* set, QUndoStack* undo, LensSession* session, QWidget* parent)
    : QWidget(parent), m_set(set), m_undo(undo), m_session(session) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);

    m_summary = new QLabel(tr("Run a prompt to detect super weights."), this);
    m_summary->setWordWrap(true);
    layout->addWidget(m_summary);

    m_list = new QListWidget(this);
    m_list->setToolTip(tr("Tick an edit to apply it; the views recompute from the first edited layer."));
    m_list->setMinimumHeight(120);
    layout->addWidget(m_list, 1);
    connect(m_list, &QListWidget::itemChanged, this, [this](QListWidgetItem* item) {
        const int row = m_list->row(item);
        if (row >= 0 && row < m_set->entries().size()) setEntryEnabled(row, item->checkState() == Qt::Checked);
    });

    auto* addRow = new QHBoxLayout;
    m_specEdit = new QLineEdit(this);
    m_specEdit->setPlaceholderText(tr("model.layers.2.mlp.down_proj.weight[3968,7003]=0"));
    m_specEdit->setToolTip(tr("An edit in the DESIGN.md syntax: weight element NAME[r,c]=V or *=F,\n"
                              "activation blocks.L.hook_mlp_out[t,c]=V, laser:NAME:rank=ρ, rtn:PATTERN:bits=4:block=128"));
    auto* addButton = new QPushButton(tr("Add"), this);
    auto* removeButton = new QPushButton(tr("Remove"), this);
    removeButton->setToolTip(tr("Remove the selected edit"));
    addRow->addWidget(m_specEdit, 1);
    addRow->addWidget(addButton);
    addRow->addWidget(removeButton);
    layout->addLayout(addRow);
    connect(addButton, &QPushButton::clicked, this, [this] {
        if (addSpec(m_specEdit->text().trimmed(), true)) m_specEdit->clear();
    });
    connect(m_specEdit, &QLineEdit::returnPressed, addButton, &QPushButton::click);
    connect(removeButton, &QPushButton::clicked, this, [this] {
        const int row = m_list->currentRow();
        if (row < 0 || row >= m_set->entries().size()) return;
        auto entries = m_set->entries();
        const QString label = entries[row].label;
        entries.removeAt(row);
        push(entries, tr("Remove %1").arg(label));
    });

    auto* presets = new QGroupBox(tr("Presets"), this);
    auto* grid = new QGridLayout(presets);
    auto* zeroAll = new QPushButton(tr("Zero super weights"), presets);
    zeroAll->setToolTip(tr("Zero every detected super weight (super-weight paper, Table 1)"));
    auto* restore = new QPushButton(tr("Zero + restore act."), presets);
    restore->setToolTip(tr("Zero the super weights but put the super activation back:\n"
                           "blocks.L.hook_mlp_out[t,row] = its original value"));
    auto* outliers = new QPushButton(tr("Zero outliers instead"), presets);
    outliers->setToolTip(tr("Zero the same number of the largest non-super |W| entries of the same matrices (control)"));
    m_nullButton = new QPushButton(tr("Null distribution…"), presets);
    m_nullButton->setToolTip(tr("The control as a distribution: K random weights of the same matrices (and of other layers) changed by the\n"
                                "super weight's amount; shows where zeroing the super weight falls among them (percentile, z)"));
    auto* clear = new QPushButton(tr("Clear all"), presets);
    clear->setToolTip(tr("Switch every edit off"));
    grid->addWidget(zeroAll, 0, 0);
    grid->addWidget(restore, 0, 1);
    grid->addWidget(outliers, 1, 0);
    grid->addWidget(m_nullButton, 1, 1);
    grid->addWidget(clear, 2, 0);
    m_scaleTarget = new QComboBox(presets);
    m_scaleTarget->setToolTip(tr("Super weight to scale"));
    m_scaleSlider = new QSlider(Qt::Horizontal, presets);
    m_scaleSlider->setRange(0, 300);
    m_scaleSlider->setValue(100);
    m_scaleSlider->setPageStep(25);
    m_scaleSlider->setToolTip(tr("Scale the super weight by 0..3 (the paper's sensitivity sweep)"));
    m_scaleLabel = new QLabel(QStringLiteral("×1.00"), presets);
    m_scaleLabel->setMinimumWidth(44);
    grid->addWidget(new QLabel(tr("Scale"), presets), 3, 0);
    grid->addWidget(m_scaleTarget, 3, 1);
    auto* sliderRow = new QHBoxLayout;
    sliderRow->addWidget(m_scaleSlider, 1);
    sliderRow->addWidget(m_scaleLabel);
    grid->addLayout(sliderRow, 4, 0, 1, 2);
    layout->addWidget(presets);
    connect(zeroAll, &QPushButton::clicked, this, &AblationPanel::zeroAllSuperWeights);
    connect(restore, &QPushButton::clicked, this, &AblationPanel::zeroSuperWeightsAndRestoreActivation);
    connect(outliers, &QPushButton::clicked, this, &AblationPanel::zeroLargestOutliers);
    connect(clear, &QPushButton::clicked, this, &AblationPanel::clearAll);
    connect(m_nullButton, &QPushButton::clicked, this, &AblationPanel::nullDistributionRequested);
    connect(m_scaleSlider, &QSlider::valueChanged, this, [this](int v) { setScaleFactor(v / 100.0); });

    auto* undoRow = new QHBoxLayout;
    auto* undoButton = new QToolButton(this);
    undoButton->setDefaultAction(m_undo->createUndoAction(this, tr("Undo")));
    auto* redoButton = new QToolButton(this);
    redoButton->setDefaultAction(m_undo->createRedoAction(this, tr("Redo")));
    undoRow->addWidget(undoButton);
    undoRow->addWidget(redoButton);
    undoRow->addStretch(1);
    layout->addLayout(undoRow);

    auto* pplRow = new QHBoxLayout;
    m_pplLabel = new QLabel(tr("ppl: —"), this);
    m_pplLabel->setToolTip(tr("Perplexity of the held-out text before → after the current edits"));
    auto* pplButton = new QPushButton(tr("Perplexity"), this);
    pplButton->setToolTip(tr("Compute perplexity of the bundled held-out text (first 1024 tokens) before and after the edits;\n"
                             "it then follows every toggle"));
    pplRow->addWidget(m_pplLabel, 1);
    pplRow->addWidget(pplButton);
    layout->addLayout(pplRow);
    connect(pplButton, &QPushButton::clicked, this, &AblationPanel::perplexityRequested);

    // Queued: a checkbox click changes the set from inside the list's own
    // itemChanged signal, and rebuilding deletes that item.
    connect(m_set, &AblationSet::changed, this, &AblationPanel::rebuildList, Qt::QueuedConnection);
    rebuildList();
}

std::vector<core::SuperWeight> AblationPanel::superWeights() const { return m_session->superWeights(); }

QString AblationPanel::zeroSpec(int layer, std::int64_t row, std::int64_t col, int expert) const {
    const LoadedModel* m = m_session->model();
    core::SuperWeight w;
    w.layer = layer;
    w.expert = expert;
    const std::string name = m ? w.tensorName(*m->model) : std::string();
    return QString::fromStdString(core::weightSetText(name, row, col, 0.0));
}

QString AblationPanel::downLabel() const {
    // The family's own name of the down projection ("mlp.down_proj", "mlp.c_proj", ...),
    // and a reminder when its stored coordinates are [in, out].
    const LoadedModel* m = m_session->model();
    if (!m) return QStringLiteral("down_proj");
    std::string name = m->model->downProjectionName(0);
    const auto mlp = name.rfind("mlp.");
    if (mlp != std::string::npos) name = name.substr(mlp);
    if (name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0) name.resize(name.size() - 7);
    QString label = QString::fromStdString(name);
    if (m->model->downOutputAxis() == 1) label += tr(" [in, out]");
    return label;
}

void AblationPanel::refreshSuperWeights() {
    QList<AblationEntry> entries;
    const auto sws = superWeights();
    for (const auto& sw : sws) {
        AblationEntry e;
        e.spec = zeroSpec(sw.layer, sw.row, sw.col, sw.expert);
        const QString where = sw.expert >= 0 ? tr("expert %1 down").arg(sw.expert) : downLabel();
        e.label = tr("L%1 %2 [%3, %4] = 0   (w = %5)").arg(sw.layer).arg(where).arg(sw.row).arg(sw.col).arg(sw.value, 0, 'g', 4);
        e.origin = AblationEntry::Origin::Detected;
        entries << e;
    }
    const LoadedModel* m = m_session->model();
    if (m && m->published && m->published->model) {
        for (const auto& c : m->published->model->superWeights) {
            const QString spec = zeroSpec(c.layer, c.row, c.col);
            bool known = false;
            for (const auto& e : entries) known = known || e.spec == spec;
            if (known) continue;
            AblationEntry e;
            e.spec = spec;
            e.label = tr("L%1 %2 [%3, %4] = 0   (published, %5)")
                          .arg(c.layer)
                          .arg(downLabel())
                          .arg(c.row)
                          .arg(c.col)
                          .arg(QString::fromStdString(m->published->model->name));
            e.origin = AblationEntry::Origin::Published;
            entries << e;
        }
    }
    // Keep the user's own entries; the detected set replaces the old one.
    for (const auto& e : m_set->entries()) {
        if (e.origin == AblationEntry::Origin::User) entries << e;
    }
    m_undo->clear();
    m_set->setEntries(entries);
    {
        QSignalBlocker block(m_scaleTarget);
        m_scaleTarget->clear();
        for (const auto& sw : sws) m_scaleTarget->addItem(tr("L%1 [%2, %3]").arg(sw.layer).arg(sw.row).arg(sw.col));
    }
    {
        QSignalBlocker block(m_scaleSlider);
        m_scaleSlider->setValue(100);
        m_scaleLabel->setText(QStringLiteral("×1.00"));
    }
    if (!m_session->scanned()) {
        m_summary->setText(tr("Run a prompt to detect super weights."));
    } else if (sws.empty()) {
        m_summary->setText(tr("No super weight found for this prompt. Add coordinates by hand or click a cell in the Layer view."));
    } else {
        m_summary->setText(tr("%n super weight(s) detected. Tick one to zero it.", nullptr, static_cast<int>(sws.size())));
    }
}

void AblationPanel::rebuildList() {
    QSignalBlocker block(m_list);
    const int current = m_list->currentRow();
    m_list->clear();
    for (const auto& e : m_set->entries()) {
        auto* item = new QListWidgetItem(QStringLiteral("[%1] %2").arg(originTag(e.origin), e.label), m_list);
        item->setFlags(Qt::ItemIsEnabled | Qt::ItemIsSelectable | Qt::ItemIsUserCheckable);
        item->setCheckState(e.enabled ? Qt::Checked : Qt::Unchecked);
        item->setToolTip(e.spec);
    }
    if (current >= 0 && current < m_list->count()) m_list->setCurrentRow(current);
}

void AblationPanel::push(QList<AblationEntry> after, const QString& text, int mergeId) {
    if (after == m_set->entries()) return;
    m_undo->push(new SetAblationsCommand(m_set, std::move(after), text, mergeId));
}

void AblationPanel::setEntryEnabled(int row, bool enabled) {
    auto entries = m_set->entries();
    if (row < 0 || row >= entries.size() || entries[row].enabled == enabled) return;
    entries[row].enabled = enabled;
    push(entries, (enabled ? tr("Apply %1") : tr("Remove %1")).arg(entries[row].label));
}

bool AblationPanel::addSpec(const QString& spec, bool enabled) {
    if (spec.isEmpty()) return false;
    auto parsed = core::parseEdit(spec.toStdString());
    if (!parsed) {
        emit statusMessage(QString::fromStdString(parsed.error().message));
        return false;
    }
    if (const LoadedModel* m = m_session->model()) {
        // Positions of the current run: a vision model's image tokens have no ids.
        const auto original = m_session->originalResult();
        auto valid = core::validateEdit(*parsed, *m->model, std::max<std::int64_t>(original ? original->positions : 0, static_cast<std::int64_t>(m_session->tokens().size())));
        if (!valid) {
            emit statusMessage(QString::fromStdString(valid.error().message));
            return false;
        }
    }
    const QString canonical = QString::fromStdString(parsed->text());
    auto entries = m_set->entries();
    const int existing = m_set->indexOfSpec(canonical);
    if (existing >= 0) {
        if (enabled) setEntryEnabled(existing, true);
        return true;
    }
    AblationEntry e;
    e.spec = canonical;
    e.label = canonical;
    e.origin = AblationEntry::Origin::User;
    e.enabled = enabled;
    entries << e;
    push(entries, tr("Add %1").arg(canonical));
    return true;
}

void AblationPanel::addCandidate(const QString& spec, const QString& description) {
    if (m_set->indexOfSpec(spec) >= 0) {
        emit statusMessage(tr("%1 is already in the ablation list").arg(description));
        return;
    }
    auto entries = m_set->entries();
    AblationEntry e;
    e.spec = spec;
    e.label = description + QStringLiteral(" = 0");
    e.origin = AblationEntry::Origin::User;
    entries << e;
    push(entries, tr("Add candidate %1").arg(description));
    emit statusMessage(tr("Added %1 to the ablation list: tick it to apply").arg(description));
}

void AblationPanel::toggleEdit(const QString& spec, const QString& description) {
    auto entries = m_set->entries();
    const int i = m_set->indexOfSpec(spec);
    bool enabled = true;
    if (i >= 0) {
        enabled = !entries[i].enabled;
        entries[i].enabled = enabled;
    } else {
        AblationEntry e;
        e.spec = spec;
        e.label = description;
        e.origin = AblationEntry::Origin::User;
        e.enabled = true;
        entries << e;
    }
    push(entries, enabled ? tr("Apply %1").arg(description) : tr("Remove %1").arg(description));
}

void AblationPanel::zeroAllSuperWeights() {
    auto entries = m_set->entries();
    bool any = false;
    for (auto& e : entries) {
        const bool sw = e.origin == AblationEntry::Origin::Detected;
        any = any || sw;
        if (sw) e.enabled = true;
        else if (e.origin == AblationEntry::Origin::Preset) e.enabled = false;
    }
    if (!any) {
        emit statusMessage(tr("No detected super weight to zero: run a prompt (with Scan) first"));
        return;
    }
    push(entries, tr("Zero all super weights"));
}

void AblationPanel::zeroSuperWeightsAndRestoreActivation() {
    const auto sws = superWeights();
    if (sws.empty()) {
        emit statusMessage(tr("No detected super weight: run a prompt (with Scan) first"));
        return;
    }
    QList<AblationEntry> entries;
    for (auto e : m_set->entries()) {
        if (e.origin == AblationEntry::Origin::Preset) continue;
        if (e.origin == AblationEntry::Origin::Detected) e.enabled = true;
        entries << e;
    }
    // Super-weight paper, Sec. 3.2: zeroing the weight but restoring the super
    // activation recovers most of the quality: the weight acts through it.
    for (const auto& sw : sws) {
        AblationEntry e;
        // The expert's own output when the weight is inside a routed expert (before its routing weight).
        const QString hook = sw.expert >= 0 ? QStringLiteral("blocks.%1.mlp.experts.%2.hook_out").arg(sw.layer).arg(sw.expert)
                                            : QStringLiteral("blocks.%1.hook_mlp_out").arg(sw.layer);
        e.spec = QString::fromStdString(core::activationSetText(hook.toStdString(), sw.token, sw.outputChannel(), sw.downOut));
        e.label = tr("restore super activation L%1 token %2 ch %3 = %4").arg(sw.layer).arg(sw.token).arg(sw.outputChannel()).arg(sw.downOut, 0, 'g', 5);
        e.origin = AblationEntry::Origin::Preset;
        e.enabled = true;
        entries << e;
    }
    push(entries, tr("Zero super weights, restore super activation"));
}

void AblationPanel::zeroLargestOutliers() {
    m_session->findOutlierEdits([this](QStringList specs) {
        QList<AblationEntry> entries;
        for (auto e : m_set->entries()) {
            if (e.origin == AblationEntry::Origin::Preset) continue;
            if (e.origin == AblationEntry::Origin::Detected) e.enabled = false;
            entries << e;
        }
        for (const QString& spec : specs) {
            AblationEntry e;
            e.spec = spec;
            e.label = tr("outlier %1").arg(spec.mid(spec.indexOf(QLatin1String("layers."))));
            e.origin = AblationEntry::Origin::Preset;
            e.enabled = true;
            entries << e;
        }
        push(entries, tr("Zero %n largest non-super outlier(s)", nullptr, static_cast<int>(specs.size())));
    });
}

void AblationPanel::clearAll() {
    QList<AblationEntry> entries;
    for (auto e : m_set->entries()) {
        if (e.origin == AblationEntry::Origin::Preset || e.origin == AblationEntry::Origin::Scale) continue;
        e.enabled = false;
        entries << e;
    }
    {
        QSignalBlocker block(m_scaleSlider);
        m_scaleSlider->setValue(100);
        m_scaleLabel->setText(QStringLiteral("×1.00"));
    }
    push(entries, tr("Clear all edits"));
}

void AblationPanel::setScaleFactor(double factor) {
    const auto sws = superWeights();
    const int target = m_scaleTarget->currentIndex();
    m_scaleLabel->setText(QStringLiteral("×%1").arg(factor, 0, 'f', 2));
    if (target < 0 || target >= static_cast<int>(sws.size())) {
        emit statusMessage(tr("No detected super weight to scale"));
        return;
    }
    if (m_scaleSlider->value() != static_cast<int>(std::lround(factor * 100))) {
        QSignalBlocker block(m_scaleSlider);
        m_scaleSlider->setValue(static_cast<int>(std::lround(factor * 100)));
    }
    const auto& sw = sws[static_cast<std::size_t>(target)];
    QList<AblationEntry> entries;
    for (const auto& e : m_set->entries()) {
        if (e.origin != AblationEntry::Origin::Scale) entries << e;
    }
    if (std::fabs(factor - 1.0) > 1e-9) {
        AblationEntry e;
        const LoadedModel* m = m_session->model();
        e.spec = QString::fromStdString(core::weightScaleText(m ? sw.tensorName(*m->model) : std::string(), sw.row, sw.col, factor));
        e.label = tr("scale L%1 [%2, %3] ×%4").arg(sw.layer).arg(sw.row).arg(sw.col).arg(factor, 0, 'f', 2);
        e.origin = AblationEntry::Origin::Scale;
        e.enabled = true;
        entries << e;
    }
    push(entries, tr("Scale super weight ×%1").arg(factor, 0, 'f', 2), kScaleSliderMergeId);
}

void AblationPanel::setPerplexityText(const QString& text) { m_pplLabel->setText(text); }

}  // namespace superlens::gui
