#include "logits_view.h"

#include <QToolTip>
#include <qcustomplot.h>

#include "../plot_helpers.h"
#include "../view_registry.h"

namespace superlens::widgets {

LogitsView::LogitsView(QWidget* parent) : PlotView(parent) {
    connect(plot(), &QCustomPlot::mouseMove, this, &LogitsView::onMouseMove);
}

bool LogitsView::rebuild(QString* emptyReason) {
    m_originalBars = m_editedBars = m_moverBars = nullptr;
    m_moverRect = nullptr;
    const ViewSnapshot& s = *snapshot();
    if (s.topNext.empty()) {
        *emptyReason = s.image ? QString::fromStdString(s.nextTokenUnavailable) : tr("This run produced no logits.");
        return false;
    }
    const PlotStyle& st = plotStyle();
    QCustomPlot* p = plot();

    // Summary line: stopword mass, its shift, perplexity.
    QStringList parts;
    if (s.stopwordsAvailable) {
        if (s.hasEdits()) {
            parts << tr("stopword mass %1 → %2 (×%3)").arg(shortNumber(s.stopwordMassOriginal), shortNumber(s.stopwordMassEdited), shortNumber(s.stopwordRatio()));
        } else {
            parts << tr("stopword mass %1").arg(shortNumber(s.stopwordMassOriginal));
        }
    }
    if (s.perplexity) {
        parts << (s.hasEdits() || s.perplexity->edited != s.perplexity->original
                      ? tr("ppl %1 → %2").arg(shortNumber(s.perplexity->original), shortNumber(s.perplexity->edited))
                      : tr("ppl %1").arg(shortNumber(s.perplexity->original)));
    }
    m_summary = parts.join(QStringLiteral("   ·   "));
    if (!m_summary.isEmpty()) addTitle(p, m_summary);

    QCPAxisRect* rect = p->axisRect();
    const int K = static_cast<int>(s.topNext.size());
    QStringList labels;
    double hi = 0;
    for (const auto& tp : s.topNext) {
        labels << QString::fromStdString(tp.label);
        hi = std::max({hi, tp.original, s.hasEdits() ? tp.edited : 0.0});
    }
    auto* group = new QCPBarsGroup(p);
    // Edited bars: a light tint with a full-colour outline, apart from the
    // solid original bars in greyscale too.
    auto makeBars = [&](const QString& name, const QColor& color, bool edited) {
        auto* bars = new QCPBars(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
        bars->setName(name);
        bars->setWidth(s.hasEdits() ? 0.38 : 0.7);
        bars->setPen(QPen(edited ? color : color.darker(130), edited ? 0.9 : 0.5));
        bars->setBrush(edited ? tint(color, 0.3) : color);
        bars->setBarsGroup(group);
        return bars;
    };
    m_originalBars = makeBars(QString::fromStdString(s.sideName(false)), st.original, false);
    for (int i = 0; i < K; ++i) m_originalBars->addData(i, s.topNext[static_cast<std::size_t>(i)].original);
    if (s.hasEdits()) {
        m_editedBars = makeBars(QString::fromStdString(s.sideName(true)), st.edited, true);
        for (int i = 0; i < K; ++i) m_editedBars->addData(i, s.topNext[static_cast<std::size_t>(i)].edited);
    }
    QCPAxis* x = rect->axis(QCPAxis::atBottom);
    setTextTicks(x, labels, 30);
    x->setTickLabelRotation(K > 6 ? 50 : 0);
    x->setRange(-0.6, K - 0.4);
    rect->axis(QCPAxis::atLeft)->setRange(0, std::max(1e-6, hi * 1.12));
    rect->axis(QCPAxis::atLeft)->setLabel(s.causal ? tr("P(next token)") : tr("P(token)"));  // encoders: the masked position's
    if (!s.causal && s.logitsPosition >= 0 && s.logitsPosition < s.tokenCount()) {
        // Encoders: the masked-language-model prediction at that position (the first <mask>).
        x->setLabel(tr("MLM prediction at position %1 %2").arg(s.logitsPosition).arg(QString::fromStdString(s.tokenLabels[static_cast<std::size_t>(s.logitsPosition)])));
    } else {
        x->setLabel(tr("next token after %1").arg(s.tokenLabels.empty() ? QString() : QString::fromStdString(s.tokenLabels.back())));
    }
    p->legend->setVisible(true);
    rect->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);

    // Movers: mean probability change over all positions (edited - original).
    if (s.hasEdits() && !s.movers.empty()) {
        // The two panels share one row of the plot layout (a nested grid), so
        // the summary title above them spans the whole width.
        m_moverRect = new QCPAxisRect(p);
        const int row = p->plotLayout()->rowCount() - 1;
        auto* panels = new QCPLayoutGrid;
        p->plotLayout()->take(rect);
        p->plotLayout()->addElement(row, 0, panels);
        panels->addElement(0, 0, rect);
        panels->addElement(0, 1, m_moverRect);
        panels->setColumnStretchFactors({1.3, 1.0});
        panels->setColumnSpacing(0);
        QCPAxis* my = m_moverRect->axis(QCPAxis::atLeft);
        QCPAxis* mx = m_moverRect->axis(QCPAxis::atBottom);
        m_moverBars = new QCPBars(my, mx);  // horizontal bars: key axis is the left axis
        m_moverBars->setName(tr("Δ mean P"));
        m_moverBars->removeFromLegend();
        m_moverBars->setWidth(0.7);
        QStringList moverLabels;
        double span = 0;
        for (int i = 0; i < static_cast<int>(s.movers.size()); ++i) {
            const auto& m = s.movers[static_cast<std::size_t>(i)];
            m_moverBars->addData(i, m.edited - m.original);
            moverLabels << QString::fromStdString(m.label);
            span = std::max(span, std::fabs(m.edited - m.original));
        }
        m_moverBars->setBrush(st.highlight);
        m_moverBars->setPen(QPen(st.highlight.darker(130), 0.5));
        setTextTicks(my, moverLabels);
        my->setRange(-0.6, static_cast<double>(s.movers.size()) - 0.4);
        my->setRangeReversed(true);
        mx->setRange(-span * 1.15 - 1e-9, span * 1.15 + 1e-9);
        mx->setLabel(tr("Δ mean P (edited − original)"));
        mx->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
        mx->ticker()->setTickCount(3);
        auto* mg = new QCPMarginGroup(p);
        rect->setMarginGroup(QCP::msTop | QCP::msBottom, mg);
        m_moverRect->setMarginGroup(QCP::msTop | QCP::msBottom, mg);
    }
    return true;
}

void LogitsView::onMouseMove(QMouseEvent* event) {
    if (!snapshot() || !hasData()) return;
    const ViewSnapshot& s = *snapshot();
    if (!plot()->axisRect()->rect().contains(event->position().toPoint())) return;
    const int i = nearestIndexAt(plot()->axisRect()->axis(QCPAxis::atBottom), event->position().x(), static_cast<int>(s.topNext.size()));
    if (i < 0) return;
    const auto& tp = s.topNext[static_cast<std::size_t>(i)];
    QString text = tr("%1 (id %2)\noriginal P %3").arg(QString::fromStdString(tp.label)).arg(tp.id).arg(shortNumber(tp.original));
    if (s.hasEdits()) text += tr("\nedited P %1").arg(shortNumber(tp.edited));
    QToolTip::showText(event->globalPosition().toPoint(), text, plot());
}

FigureTable LogitsView::dataTable() const {
    FigureTable t;
    t.title = title();
    t.columns = {QStringLiteral("series"), QStringLiteral("rank"), QStringLiteral("token_id"), QStringLiteral("token"),
                 QStringLiteral("p_original"), QStringLiteral("p_edited")};
    if (!snapshot()) return t;
    const ViewSnapshot& s = *snapshot();
    for (std::size_t i = 0; i < s.topNext.size(); ++i) {
        const auto& tp = s.topNext[i];
        t.addRow({QStringLiteral("next_token"), QString::number(i), QString::number(tp.id), QString::fromStdString(tp.label), csvNumber(tp.original),
                  csvNumber(tp.edited)});
    }
    for (std::size_t i = 0; i < s.movers.size(); ++i) {
        const auto& m = s.movers[i];
        t.addRow({QStringLiteral("mover_mean"), QString::number(i), QString::number(m.id), QString::fromStdString(m.label), csvNumber(m.original),
                  csvNumber(m.edited)});
    }
    if (s.stopwordsAvailable) {
        t.addRow({QStringLiteral("stopword_mass"), QString(), QString(), QString(), csvNumber(s.stopwordMassOriginal), csvNumber(s.stopwordMassEdited)});
    }
    if (s.perplexity) {
        t.addRow({QStringLiteral("perplexity"), QString(), QString::number(s.perplexity->tokens), QString::fromStdString(s.perplexity->textName),
                  csvNumber(s.perplexity->original), csvNumber(s.perplexity->edited)});
    }
    return t;
}

}  // namespace superlens::widgets

SUPERLENS_REGISTER_VIEW(logits_view, superlens::widgets::LogitsView, "logits", 50)
