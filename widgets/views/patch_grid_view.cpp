#include "patch_grid_view.h"

#include <cmath>
#include <cstring>
#include <limits>

#include <QComboBox>
#include <QHBoxLayout>
#include <QImage>
#include <QLabel>
#include <QPixmap>
#include <QSpinBox>
#include <QToolTip>
#include <qcustomplot.h>

#include "../plot_helpers.h"
#include "../view_registry.h"

namespace superlens::widgets {

namespace {

// The heat over the picture lets it show through; CLS and register cells have no picture under them.
constexpr unsigned char kPatchAlpha = 160;
// Hooks of one layer the view offers (recorded by viewHooks(), [T, n] each).
const char* const kHooks[] = {"hook_resid_post", "hook_mlp_out", "mlp.hook_post"};

QString quantityText(PatchQuantity q) {
    switch (q) {
        case PatchQuantity::MassivePeak: return QObject::tr("massive |resid_post|");
        case PatchQuantity::AttentionToCls: return QObject::tr("attention to CLS");
        case PatchQuantity::AttentionToRegisters: return QObject::tr("attention to registers");
        case PatchQuantity::HookChannel: return QObject::tr("hook channel");
    }
    return {};
}

}  // namespace

PatchGridView::PatchGridView(QWidget* parent) : PlotView(parent) {
    m_quantityBox = new QComboBox(this);
    for (PatchQuantity q : {PatchQuantity::MassivePeak, PatchQuantity::AttentionToCls, PatchQuantity::AttentionToRegisters, PatchQuantity::HookChannel}) {
        m_quantityBox->addItem(quantityText(q), static_cast<int>(q));
    }
    m_quantityBox->setToolTip(tr("What each cell shows: the residual's largest |value| (massive activations), the attention a token puts on CLS "
                                 "or on the registers, or one channel of a hook"));
    m_channelBox = new QSpinBox(this);
    m_channelBox->setRange(-1, 0);
    m_channelBox->setValue(-1);
    m_channelBox->setSpecialValueText(tr("max"));
    m_channelBox->setToolTip(tr("Channel (massive: 'max' = the largest |value| over channels)"));
    m_headBox = new QComboBox(this);
    m_headBox->addItem(tr("mean of heads"));
    m_headBox->setToolTip(tr("Attention: one head or the mean over heads"));
    m_hookBox = new QComboBox(this);
    for (const char* h : kHooks) m_hookBox->addItem(QString::fromLatin1(h));
    m_hookBox->setToolTip(tr("The hook of the selected layer whose channel is shown"));
    controls()->addWidget(m_quantityBox);
    controls()->addWidget(new QLabel(tr("Channel"), this));
    controls()->addWidget(m_channelBox);
    controls()->addWidget(m_headBox);
    controls()->addWidget(m_hookBox);
    controls()->addStretch(1);
    connect(m_quantityBox, &QComboBox::currentIndexChanged, this, [this] {
        // A hook channel needs a channel: start at 0.
        if (quantity() == PatchQuantity::HookChannel && m_channelBox->value() < 0) m_channelBox->setValue(0);
        refresh();
    });
    connect(m_channelBox, &QSpinBox::valueChanged, this, [this] { refresh(); });
    connect(m_headBox, &QComboBox::currentIndexChanged, this, [this] { refresh(); });
    connect(m_hookBox, &QComboBox::currentIndexChanged, this, [this] { refresh(); });
    connect(plot(), &QCustomPlot::mouseMove, this, &PatchGridView::onMouseMove);
    connect(plot(), &QCustomPlot::mousePress, this, &PatchGridView::onMousePress);
    syncControls();
}

void PatchGridView::setQuantity(PatchQuantity q) { m_quantityBox->setCurrentIndex(m_quantityBox->findData(static_cast<int>(q))); }
PatchQuantity PatchGridView::quantity() const { return static_cast<PatchQuantity>(m_quantityBox->currentData().toInt()); }
void PatchGridView::setChannel(std::int64_t channel) {
    if (channel >= m_channelBox->maximum()) m_channelBox->setMaximum(static_cast<int>(channel));
    m_channelBox->setValue(static_cast<int>(channel));
}
void PatchGridView::setHead(int head) {
    while (m_headBox->count() < head + 2) m_headBox->addItem(tr("head %1").arg(m_headBox->count() - 1));
    m_headBox->setCurrentIndex(head + 1);
}
void PatchGridView::setHook(const QString& hook) { m_hookBox->setCurrentIndex(m_hookBox->findText(hook)); }

void PatchGridView::setSelectedToken(std::int64_t position) {
    if (position == m_selectedToken) return;
    m_selectedToken = position;
    if (snapshot() && snapshot()->image) refresh();
}

PatchGridRequest PatchGridView::request() const {
    PatchGridRequest r;
    r.quantity = quantity();
    r.layer = std::max(0, selectedLayer());
    r.channel = m_channelBox->value();
    r.head = m_headBox->currentIndex() - 1;
    r.hook = "blocks." + std::to_string(r.layer) + "." + m_hookBox->currentText().toStdString();
    return r;
}

void PatchGridView::syncControls() {
    // Called from rebuild: changing the range must not redraw again.
    QSignalBlocker block(m_channelBox);
    const PatchQuantity q = quantity();
    const bool attention = q == PatchQuantity::AttentionToCls || q == PatchQuantity::AttentionToRegisters;
    m_channelBox->setEnabled(!attention);
    m_channelBox->setMinimum(q == PatchQuantity::HookChannel ? 0 : -1);
    m_headBox->setEnabled(attention);
    m_hookBox->setEnabled(q == PatchQuantity::HookChannel);
}

QList<QPair<QString, QString>> PatchGridView::figureState() const {
    QList<QPair<QString, QString>> state;
    const PatchQuantity q = quantity();
    state.append({QStringLiteral("quantity"), QString::fromLatin1(patchQuantityName(q))});
    if (q == PatchQuantity::AttentionToCls || q == PatchQuantity::AttentionToRegisters) {
        const int head = m_headBox->currentIndex() - 1;
        state.append({QStringLiteral("head"), head < 0 ? QStringLiteral("mean") : QString::number(head)});
    } else {
        if (q == PatchQuantity::HookChannel) state.append({QStringLiteral("hook"), m_hookBox->currentText()});
        if (m_channelBox->value() >= 0) state.append({QStringLiteral("channel"), QString::number(m_channelBox->value())});
    }
    return state;
}

bool PatchGridView::applyFigureState(const QString& key, const QString& value, QString* error) {
    error->clear();
    const ViewSnapshot* s = snapshot().get();
    if (key == QLatin1String("quantity")) {
        const auto q = patchQuantityFromName(value.toStdString());
        if (!q) {
            *error = tr("--quantity %1: expected massive, attn-cls, attn-registers or hook").arg(value);
            return false;
        }
        if (*q == PatchQuantity::AttentionToRegisters && s && s->image && s->image->registers == 0) {
            *error = tr("--quantity attn-registers: this model has no register tokens");
            return false;
        }
        setQuantity(*q);
        return true;
    }
    if (key == QLatin1String("channel")) {
        bool ok = false;
        const long long c = value.toLongLong(&ok);
        const int width = s ? std::max(s->hidden, s->intermediate) : 0;
        if (!ok || c < 0 || (s && c >= width)) {
            *error = tr("--channel %1: expected a channel 0..%2").arg(value).arg(width - 1);
            return false;
        }
        setChannel(c);
        return true;
    }
    if (key == QLatin1String("head")) {
        int head = -1;
        if (!parseHeadState(value, s ? s->heads : 0, &head, error)) return false;
        setHead(head);
        return true;
    }
    if (key == QLatin1String("hook")) {
        if (m_hookBox->findText(value) < 0) {
            *error = tr("--hook %1: expected hook_resid_post, hook_mlp_out or mlp.hook_post (of the --layer)").arg(value);
            return false;
        }
        setHook(value);
        return true;
    }
    return false;
}

double PatchGridView::shownValue(bool edited, std::int64_t position) const {
    const auto& v = m_values[edited ? 1 : 0];
    if (position < 0 || position >= static_cast<std::int64_t>(v.size())) return std::numeric_limits<double>::quiet_NaN();
    return v[static_cast<std::size_t>(position)];
}

bool PatchGridView::rebuild(QString* emptyReason) {
    m_originalMap = m_editedMap = nullptr;
    m_values[0].clear();
    m_values[1].clear();
    syncControls();
    const ViewSnapshot& s = *snapshot();
    if (!s.image) {
        *emptyReason = tr("The patch grid shows a vision model's image tokens; this model reads text.");
        return false;
    }
    const ImageLayout& img = *s.image;
    if (m_headBox->count() != s.heads + 1) {
        QSignalBlocker block(m_headBox);
        const int keep = m_headBox->currentIndex();
        m_headBox->clear();
        m_headBox->addItem(tr("mean of heads"));
        for (int h = 0; h < s.heads; ++h) m_headBox->addItem(tr("head %1").arg(h));
        m_headBox->setCurrentIndex(keep >= 0 && keep <= s.heads ? keep : 0);
    }
    {
        QSignalBlocker block(m_channelBox);
        m_channelBox->setMaximum(std::max(s.hidden, s.intermediate) - 1);
    }
    if (selectedLayer() < 0) {
        *emptyReason = tr("Select a layer in the layer navigator.");
        return false;
    }
    const PatchGridRequest req = request();
    const bool edits = s.hasEdits();
    for (int e = 0; e < (edits ? 2 : 1); ++e) {
        auto v = patchGridValues(e ? *s.edited : *s.original, img.registers, req);
        if (!v) {
            *emptyReason = QString::fromStdString(v.error().message);
            return false;
        }
        m_values[e] = std::move(v).value();
    }
    if (!edits) m_values[1] = m_values[0];

    const PatchQuantity q = req.quantity;
    const bool logScale = q == PatchQuantity::MassivePeak;
    const bool signedValues = q == PatchQuantity::HookChannel;
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (int e = 0; e < 2; ++e) {
        for (double x : m_values[e]) {
            if (logScale && !(x > 0)) continue;
            lo = std::min(lo, x);
            hi = std::max(hi, x);
        }
    }
    if (!(lo <= hi)) lo = hi = 1.0;
    QCPRange range(lo, hi);
    if (signedValues) {
        const double m = std::max({std::fabs(lo), std::fabs(hi), 1e-12});
        range = QCPRange(-m, m);
    } else if (!logScale) {
        range = QCPRange(0.0, std::max(hi, 1e-12));
    } else if (hi <= lo * 1.0001) {
        range = QCPRange(lo / 2, hi * 2);
    }
    // Viridis for magnitudes and probabilities (readable in grey, its top is not white like an empty cell); polar for signed values.
    QCPColorGradient gradient = signedValues ? QCPColorGradient(QCPColorGradient::gpPolar) : viridisGradient();
    gradient.setNanHandling(QCPColorGradient::nhTransparent);  // the gap between the grid and the CLS / register column

    QCustomPlot* p = plot();
    const PlotStyle& st = plotStyle();
    QString what;
    switch (q) {
        case PatchQuantity::MassivePeak:
            what = req.channel < 0 ? tr("max |resid_post| per token, layer %1").arg(req.layer) : tr("|resid_post| channel %1, layer %2").arg(req.channel).arg(req.layer);
            break;
        case PatchQuantity::AttentionToCls:
        case PatchQuantity::AttentionToRegisters:
            what = tr("%1, layer %2, %3").arg(quantityText(q)).arg(req.layer).arg(m_headBox->currentText());
            break;
        case PatchQuantity::HookChannel: what = tr("%1 channel %2").arg(QString::fromStdString(req.hook)).arg(req.channel); break;
    }
    addTitle(p, what);

    const MapPanels panels = addMapPanels(p, p->plotLayout()->rowCount() - 1, edits, gradient,
                                          q == PatchQuantity::MassivePeak ? tr("|activation|")
                                          : q == PatchQuantity::HookChannel ? tr("value")
                                                                            : tr("attention probability"));
    QCPAxisRect* mainRect = panels.original;
    QCPAxisRect* editedRect = panels.edited;
    QCPColorScale* scale = panels.scale;
    scale->setDataScaleType(logScale ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    if (logScale) scale->axis()->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    scale->setDataRange(range);

    // Cells in patch units: patches at (col, row), a gap column, then CLS and
    // the registers stacked in column gridCols + 1 from the top.
    const int gc = std::max(1, img.gridCols), gr = std::max(1, img.gridRows);
    const int specials = 1 + img.registers;
    const int cols = gc + 2, rows = std::max(gr, specials);
    QImage picture(img.width, img.height, QImage::Format_RGB888);
    for (int y = 0; y < img.height; ++y) {
        std::memcpy(picture.scanLine(y), img.rgb.data() + static_cast<std::size_t>(y) * static_cast<std::size_t>(img.width) * 3,
                    static_cast<std::size_t>(img.width) * 3);
    }
    // In grey under the heat, so the picture's colours are not read as values (the Prompt dock's thumbnail has them).
    const QPixmap pixmap = QPixmap::fromImage(picture.convertToFormat(QImage::Format_Grayscale8));
    const double patch = img.patchSize > 0 ? img.patchSize : 1.0;
    QStringList rowLabels, colLabels, specialLabels;
    for (int r = 0; r < rows; ++r) rowLabels << (r < gr ? QString::number(r) : QString());
    for (int c = 0; c < cols; ++c) colLabels << (c < gc ? QString::number(c) : QString());
    for (int i = 0; i < rows; ++i) specialLabels << (i < specials ? QString::fromStdString(s.tokenLabels[static_cast<std::size_t>(i)]) : QString());

    auto makeMap = [&](QCPAxisRect* rect, const std::vector<double>& values, const QString& label) {
        QCPAxis* x = rect->axis(QCPAxis::atBottom);
        QCPAxis* y = rect->axis(QCPAxis::atLeft);
        QCPAxis* y2 = rect->axis(QCPAxis::atRight);
        y2->setVisible(true);
        auto* image = new QCPItemPixmap(p);
        image->setClipAxisRect(rect);
        image->topLeft->setAxes(x, y);
        image->bottomRight->setAxes(x, y);
        image->topLeft->setCoords(-0.5, -0.5);
        image->bottomRight->setCoords(-0.5 + img.width / patch, -0.5 + img.height / patch);
        image->setPixmap(pixmap);
        image->setScaled(true, Qt::IgnoreAspectRatio, Qt::FastTransformation);
        image->setLayer(QStringLiteral("background"));
        auto* map = new QCPColorMap(x, y);
        map->data()->setSize(cols, rows);
        map->data()->setRange(QCPRange(0, cols - 1), QCPRange(0, rows - 1));
        const double nan = std::numeric_limits<double>::quiet_NaN();
        for (int c = 0; c < cols; ++c) {
            for (int r = 0; r < rows; ++r) map->data()->setCell(c, r, nan);
        }
        map->data()->fillAlpha(kPatchAlpha);
        for (std::int64_t t = 0; t < static_cast<std::int64_t>(values.size()); ++t) {
            int c = 0, r = 0;
            if (t < specials) {
                c = gc + 1;
                r = static_cast<int>(t);
            } else {
                const std::int64_t k = t - specials;
                c = static_cast<int>(k % gc);
                r = static_cast<int>(k / gc);
            }
            map->data()->setCell(c, r, values[static_cast<std::size_t>(t)]);
            if (t < specials) map->data()->setAlpha(c, r, 255);
        }
        map->setColorScale(scale);
        map->setGradient(gradient);
        map->setDataScaleType(logScale ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
        map->setDataRange(range);
        map->setInterpolate(false);
        setTextTicks(x, colLabels, 32);
        setTextTicks(y, rowLabels, 32);
        setTextTicks(y2, specialLabels, 32);
        x->setRange(-0.5, cols - 0.5);
        y->setRange(-0.5, rows - 0.5);
        y->setRangeReversed(true);
        y2->setRange(-0.5, rows - 0.5);
        y2->setRangeReversed(true);
        x->setLabel(label);
        y->setLabel(tr("patch row"));
        if (m_selectedToken >= 0 && m_selectedToken < static_cast<std::int64_t>(values.size())) {
            const std::int64_t t = m_selectedToken;
            const double cx = t < specials ? gc + 1 : static_cast<double>((t - specials) % gc);
            const double cy = t < specials ? static_cast<double>(t) : static_cast<double>((t - specials) / gc);
            auto* box = new QCPItemRect(p);
            box->setClipAxisRect(rect);
            box->topLeft->setAxes(x, y);
            box->bottomRight->setAxes(x, y);
            box->topLeft->setCoords(cx - 0.48, cy - 0.48);
            box->bottomRight->setCoords(cx + 0.48, cy + 0.48);
            box->setPen(QPen(st.highlight, 2.0));
            box->setBrush(Qt::NoBrush);
        }
        return map;
    };
    // Side by side the axis titles name the run (short: the two sit next to each other in a narrow column).
    m_originalMap = makeMap(mainRect, m_values[0], edits ? tr("original") : tr("patch column"));
    if (editedRect) m_editedMap = makeMap(editedRect, m_values[1], tr("edited"));
    return true;
}

std::int64_t PatchGridView::positionAt(const QPoint& pos, bool* edited) const {
    if (!hasData() || !snapshot() || !snapshot()->image) return -1;
    const ImageLayout& img = *snapshot()->image;
    const int gc = std::max(1, img.gridCols), gr = std::max(1, img.gridRows);
    const int specials = 1 + img.registers;
    for (QCPColorMap* map : {m_originalMap, m_editedMap}) {
        if (!map || !map->keyAxis()->axisRect()->rect().contains(pos)) continue;
        const int c = static_cast<int>(std::lround(map->keyAxis()->pixelToCoord(pos.x())));
        const int r = static_cast<int>(std::lround(map->valueAxis()->pixelToCoord(pos.y())));
        if (edited) *edited = map == m_editedMap;
        if (c == gc + 1 && r >= 0 && r < specials) return r;
        if (c >= 0 && c < gc && r >= 0 && r < gr) return specials + static_cast<std::int64_t>(r) * gc + c;
        return -1;
    }
    return -1;
}

void PatchGridView::onMousePress(QMouseEvent* event) {
    if (event->button() != Qt::LeftButton) return;
    const std::int64_t t = positionAt(event->position().toPoint());
    if (t < 0) return;
    setSelectedToken(t);
    emit tokenSelected(static_cast<int>(t));
    emit statusMessage(tr("Token %1 %2 selected").arg(t).arg(QString::fromStdString(snapshot()->tokenLabels[static_cast<std::size_t>(t)])));
}

void PatchGridView::onMouseMove(QMouseEvent* event) {
    bool edited = false;
    const std::int64_t t = positionAt(event->position().toPoint(), &edited);
    if (t < 0) return;
    const ViewSnapshot& s = *snapshot();
    QString text = tr("%1 (position %2)\noriginal %3").arg(QString::fromStdString(s.tokenLabels[static_cast<std::size_t>(t)])).arg(t).arg(shortNumber(shownValue(false, t)));
    if (s.hasEdits()) text += tr("\nedited %1").arg(shortNumber(shownValue(true, t)));
    text += tr("\nclick: select this token in the other views");
    QToolTip::showText(event->globalPosition().toPoint(), text, plot());
}

FigureTable PatchGridView::dataTable() const {
    FigureTable t;
    t.title = title();
    t.columns = {QStringLiteral("position"), QStringLiteral("token"), QStringLiteral("kind"), QStringLiteral("row"), QStringLiteral("col"),
                 QStringLiteral("quantity"), QStringLiteral("layer"), QStringLiteral("original"), QStringLiteral("edited")};
    if (!hasData() || !snapshot() || !snapshot()->image) return t;
    const ViewSnapshot& s = *snapshot();
    const ImageLayout& img = *s.image;
    const QString q = QString::fromLatin1(patchQuantityName(quantity()));
    for (std::size_t i = 0; i < m_values[0].size(); ++i) {
        const auto pos = static_cast<std::int64_t>(i);
        const bool special = pos <= img.registers;
        const std::int64_t k = pos - 1 - img.registers;
        const QString kind = pos == 0 ? QStringLiteral("cls") : special ? QStringLiteral("register") : QStringLiteral("patch");
        t.addRow({QString::number(pos), QString::fromStdString(s.tokenLabels[i]), kind, special ? QString() : QString::number(k / std::max(1, img.gridCols)),
                  special ? QString() : QString::number(k % std::max(1, img.gridCols)), q, QString::number(std::max(0, selectedLayer())),
                  csvNumber(m_values[0][i]), csvNumber(m_values[1][i])});
    }
    return t;
}

}  // namespace superlens::widgets

SUPERLENS_REGISTER_VIEW(patch_grid_view, superlens::widgets::PatchGridView, "patches", 110)
