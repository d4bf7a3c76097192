#pragma once
// View 7, logit lens: every layer's residual read through the model's own
// final norm and unembedding (ViewSnapshot::originalLens / editedLens, from
// core/analysis/logit_lens.h). Top: layers x positions heatmaps of the top-1
// token's probability, original and edited side by side, each cell labelled
// with its top-1 token. Middle: at the chosen position, per layer, the
// probability of each run's own final prediction and the entropy, original
// vs edited. Bottom: the top-k tokens with probabilities per layer, original
// beside edited.

#include <QVector>

#include "../plot_view.h"

class QComboBox;
class QCPAxisRect;
class QCPColorMap;
class QCPGraph;

namespace superlens::widgets {

class LensView : public PlotView {
    Q_OBJECT
public:
    explicit LensView(QWidget* parent = nullptr);
    QString kind() const override { return QStringLiteral("lens"); }
    QString title() const override { return tr("Lens"); }
    FigureTable dataTable() const override;
    QList<QPair<QString, QString>> figureState() const override;
    bool applyFigureState(const QString& key, const QString& value, QString* error) override;

    // The position the layer rows describe (-1 = the last).
    void setPosition(int position);
    int position() const;

    // As drawn: heatmap cell (layer -1 .. L-1, position) of the original or
    // edited map (NaN when that map is not shown).
    double heatmapValue(bool edited, int layer, int position) const;
    // As drawn: per layer (-1 first) the probability of that run's final prediction at the position.
    QVector<double> finalProbabilityCurve(bool edited) const;
    QVector<double> entropyCurve(bool edited) const;
    // The top-k line drawn for a layer ("" when not drawn).
    QString topLine(bool edited, int layer) const;

protected:
    bool rebuild(QString* emptyReason) override;
    QString noSnapshotMessage() const override { return tr("Run the prompt to see at which layer the prediction forms (logit lens)."); }

private:
    void onMouseMove(QMouseEvent* event);
    QString topText(const ViewSnapshot& s, const core::LensLayer& row, int count) const;

    QComboBox* m_positionBox = nullptr;
    QCPColorMap* m_originalMap = nullptr;
    QCPColorMap* m_editedMap = nullptr;
    QCPAxisRect* m_curveRect = nullptr;
    QCPGraph* m_originalFinal = nullptr;
    QCPGraph* m_editedFinal = nullptr;
    QCPGraph* m_originalEntropy = nullptr;
    QCPGraph* m_editedEntropy = nullptr;
    QVector<QString> m_originalLines, m_editedLines;
    int m_shownPosition = 0;
};

}  // namespace superlens::widgets
