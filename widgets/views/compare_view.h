#pragma once
// The Compare view (issue 19): two models of the same shapes side by side, as
// `superlens-cli compare A B` reports them (core::compareModels, carried in
// ViewSnapshot::modelComparison; this view only draws it): per-layer relative
// error ||B - A|| / ||A|| as bars per tensor kind with the pooled error of the
// layer, every super weight's value in A and in B with B's quantization step
// and the error in steps, the super activation in both, and KL(P_A || P_B),
// perplexity of both and top-1 agreement in the title.
// GUI: File → Compare with model…; figure: `superlens-cli figure compare A
// --compare-with B`.

#include "../plot_view.h"

namespace superlens::widgets {

class CompareView : public PlotView {
    Q_OBJECT
public:
    explicit CompareView(QWidget* parent = nullptr);
    QString kind() const override { return QStringLiteral("compare"); }
    QString title() const override { return tr("Compare"); }
    FigureTable dataTable() const override;

    // The tensor kinds drawn as bar series, in legend order.
    const QStringList& kinds() const { return m_kinds; }
    QString summaryText() const { return m_summary; }

protected:
    bool rebuild(QString* emptyReason) override;
    QString noSnapshotMessage() const override {
        return tr("Open a second model of the same shapes to compare it with this one: File → Compare with model… "
                  "(or drop a folder or .gguf file here with Shift held).");
    }

private:
    void onMousePress(QMouseEvent* event);
    void onMouseMove(QMouseEvent* event);

    QStringList m_kinds;
    QString m_summary;
    QCPAxisRect* m_swRect = nullptr;
};

}  // namespace superlens::widgets
