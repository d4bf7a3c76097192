#pragma once
// View 8, attention sinks: per layer x head, the attention mass on the first
// token (or on the first token and the other massive-activation carriers),
// original and edited side by side (ViewSnapshot::originalSinks /
// editedSinks, core/analysis/attention_sinks.h). Heads that lose their sink
// under the edits (core::lostSinks) are outlined on both maps. Clicking a
// cell asks for that head's pattern in the Attention view.

#include <QList>
#include <QPair>

#include "../plot_view.h"

class QComboBox;
class QCPColorMap;

namespace superlens::widgets {

class SinksView : public PlotView {
    Q_OBJECT
public:
    explicit SinksView(QWidget* parent = nullptr);
    QString kind() const override { return QStringLiteral("sinks"); }
    QString title() const override { return tr("Sinks"); }
    FigureTable dataTable() const override;
    QList<QPair<QString, QString>> figureState() const override;
    bool applyFigureState(const QString& key, const QString& value, QString* error) override;

    // false: mass on the first token; true: on every carrier.
    void setCarriers(bool all);
    // As drawn (NaN when that map is not shown).
    double shownMass(bool edited, int layer, int head) const;
    // The outlined heads (layer, head), largest drop first.
    QList<QPair<int, int>> highlightedHeads() const { return m_lost; }
    // The original or edited map (null when not drawn).
    QCPColorMap* colorMap(bool edited) const { return edited ? m_editedMap : m_originalMap; }
    // The map and cell under a widget position of plot(): false outside.
    bool cellAt(const QPoint& pos, int* layer, int* head, bool* edited) const;

protected:
    bool rebuild(QString* emptyReason) override;
    QString noSnapshotMessage() const override { return tr("Run the prompt to see which heads sink their attention onto the first token."); }

private:
    void onMouseMove(QMouseEvent* event);
    void onMousePress(QMouseEvent* event);

    QComboBox* m_massBox = nullptr;
    QCPColorMap* m_originalMap = nullptr;
    QCPColorMap* m_editedMap = nullptr;
    QList<QPair<int, int>> m_lost;
};

}  // namespace superlens::widgets
