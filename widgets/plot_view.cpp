#include "plot_view.h"

#include <QApplication>
#include <QClipboard>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenu>
#include <QStackedWidget>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include "figure_layout.h"

namespace superlens::widgets {

PlotView::PlotView(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->setSpacing(4);
    m_controls = new QHBoxLayout;
    m_controls->setSpacing(8);
    layout->addLayout(m_controls);
    m_stack = new QStackedWidget(this);
    m_message = new QLabel(m_stack);
    m_message->setAlignment(Qt::AlignCenter);
    m_message->setWordWrap(true);
    m_message->setStyleSheet(QStringLiteral("QLabel { color: #666; font-size: 13pt; }"));
    m_plot = new QCustomPlot(m_stack);
    m_plot->setMinimumSize(320, 220);
    m_mainRect = m_plot->axisRect();
    m_plot->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(m_plot, &QWidget::customContextMenuRequested, this, &PlotView::showContextMenu);
    m_stack->addWidget(m_message);
    m_stack->addWidget(m_plot);
    layout->addWidget(m_stack, 1);
}

PlotView::~PlotView() = default;

void PlotView::setSnapshot(SnapshotPtr snapshot) {
    m_snapshot = std::move(snapshot);
    if (m_snapshot && (m_selectedLayer < 0 || m_selectedLayer >= m_snapshot->layers)) {
        m_selectedLayer = m_snapshot->layers > 0 ? 0 : -1;
    }
    refresh();
}

void PlotView::setSelectedLayer(int layer) {
    if (layer == m_selectedLayer) return;
    m_selectedLayer = layer;
    selectedLayerChanged();
}

void PlotView::setPlotStyle(const PlotStyle& style) {
    m_style = style;
    refresh();
}

QString PlotView::emptyMessage() const { return m_hasData ? QString() : m_message->text(); }

void PlotView::resetPlot() {
    resetFigureLayout(m_plot);  // an export's layout pass must not leak into the next build
    m_plot->clearPlottables();
    m_plot->clearItems();
    // Keep the first axis rect; remove titles, extra rects and colour scales.
    // A view may have nested it in a sub-grid: take it out first.
    QCPLayoutGrid* grid = m_plot->plotLayout();
    if (m_mainRect->layout() && m_mainRect->layout() != grid) m_mainRect->layout()->take(m_mainRect);
    for (int i = grid->elementCount() - 1; i >= 0; --i) {
        QCPLayoutElement* el = grid->elementAt(i);
        if (el && el != m_mainRect) grid->remove(el);
    }
    grid->simplify();
    if (grid->elementCount() == 0 || grid->elementAt(0) != m_mainRect) {
        grid->expandTo(1, 1);
        grid->addElement(0, 0, m_mainRect);
    }
    grid->setRowStretchFactors({1});
    grid->setColumnStretchFactors({1});
    QCPAxisRect* rect = m_mainRect;
    rect->setRangeDrag(Qt::Horizontal | Qt::Vertical);
    rect->setMarginGroup(QCP::msAll, nullptr);
    rect->setAutoMargins(QCP::msAll);
    for (QCPAxis* axis : rect->axes()) {
        axis->setScaleType(QCPAxis::stLinear);
        axis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
        axis->setLabel(QString());
        axis->setRangeReversed(false);
        axis->setTickLabelRotation(0);
        axis->setNumberFormat(QStringLiteral("gb"));
        axis->setNumberPrecision(6);
    }
    m_plot->xAxis2->setVisible(false);
    m_plot->yAxis2->setVisible(false);
    m_plot->legend->setVisible(false);
    m_plot->setInteractions(QCP::Interactions());
}

bool PlotView::applyFigureState(const QString&, const QString&, QString* error) {
    if (error) error->clear();
    return false;
}

void PlotView::refresh() {
    if (!m_snapshot) {
        m_hasData = false;
        m_message->setText(noSnapshotMessage());
        m_stack->setCurrentWidget(m_message);
        return;
    }
    resetPlot();
    QString reason;
    m_hasData = rebuild(&reason);
    if (!m_hasData) {
        m_message->setText(reason);
        m_stack->setCurrentWidget(m_message);
        return;
    }
    applyPlotStyle(m_plot, m_style);
    m_stack->setCurrentWidget(m_plot);
    m_plot->replot();
}

void PlotView::showContextMenu(const QPoint& pos) {
    QMenu menu(this);
    menu.addAction(tr("Export figure…"), this, [this] { emit exportRequested(this); });
    menu.addAction(tr("Copy data as CSV"), this, [this] { QApplication::clipboard()->setText(dataTable().toCsv()); });
    menu.addAction(tr("Reset zoom"), this, [this] { refresh(); });
    menu.exec(m_plot->mapToGlobal(pos));
}

}  // namespace superlens::widgets
