#include "layer_navigator.h"

#include <cmath>

#include "plot_helpers.h"

namespace superlens::widgets {

LayerNavigator::LayerNavigator(QWidget* parent) : QListWidget(parent) {
    setSelectionMode(QAbstractItemView::SingleSelection);
    setUniformItemSizes(true);
    setAlternatingRowColors(false);
    setToolTip(tr("Layers, coloured by the down_proj output spike (ratio to the layer median).\n"
                  "Up/Down, Page Up/Down, Home/End or a click select a layer."));
    connect(this, &QListWidget::currentRowChanged, this, [this](int row) {
        if (row >= 0) emit layerSelected(row);
    });
}

void LayerNavigator::setSnapshot(SnapshotPtr snapshot) {
    m_snapshot = std::move(snapshot);
    const int keep = currentRow();
    QSignalBlocker block(this);
    clear();
    if (!m_snapshot) return;
    const auto& stats = m_snapshot->originalStats;
    double maxLog = 1.0;
    for (const auto& s : stats) maxLog = std::max(maxLog, std::log10(std::max(1.0, s.downOutRatio())));
    for (std::size_t l = 0; l < stats.size(); ++l) {
        const auto& s = stats[l];
        bool super = false;
        for (const auto& sw : m_snapshot->superWeights) super = super || sw.layer == static_cast<int>(l);
        const double ratio = s.downOutRatio();
        QString text = tr("%1  out %2  (%3×)").arg(l, 3).arg(shortNumber(s.downOut.absValue()), shortNumber(ratio));
        if (m_snapshot->hasEdits()) text += tr("  → %1").arg(shortNumber(m_snapshot->editedStats[l].downOut.absValue()));
        if (super) text += QStringLiteral("  ★");
        auto* item = new QListWidgetItem(text, this);
        // White for an ordinary layer up to saturated orange for the largest spike.
        const double heat = std::clamp(std::log10(std::max(1.0, ratio)) / maxLog, 0.0, 1.0);
        QColor c = QColor::fromHsvF(0.07, 0.85 * heat, 1.0);
        item->setBackground(c);
        item->setForeground(QColor(0x20, 0x20, 0x20));
        item->setToolTip(tr("layer %1\nmax |down_proj output| %2 at token %3, channel %4 (%5× median)\nmax |down_proj input| %6 (%7× median)%8")
                             .arg(l)
                             .arg(shortNumber(s.downOut.absValue()))
                             .arg(s.downOut.token)
                             .arg(s.downOut.channel)
                             .arg(shortNumber(ratio))
                             .arg(shortNumber(s.downIn.absValue()), shortNumber(s.downInRatio()))
                             .arg(super ? tr("\nsuper weight here") : QString()));
        QFont f = item->font();
        f.setFamily(QStringLiteral("DejaVu Sans Mono"));
        f.setBold(super);
        item->setFont(f);
    }
    setCurrentRow(keep >= 0 && keep < count() ? keep : (count() > 0 ? 0 : -1));
}

void LayerNavigator::setSelectedLayer(int layer) {
    if (layer == currentRow() || layer < 0 || layer >= count()) return;
    setCurrentRow(layer);
}

}  // namespace superlens::widgets
