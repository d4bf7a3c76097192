#pragma once
// View 11, patch grid (vision models): per-token values laid over the image
// the model read, one semi-transparent cell per patch of the patch grid, with
// CLS and the register tokens as separate cells in a column beside it;
// original and edited side by side. The values are the view model's
// (build_view_snapshot.h: patchGridValues): the massive-activation magnitude
// (max |resid_post| at the selected layer, or one channel), the attention a
// token puts on CLS or on the registers (mean over heads or one head), or any
// recorded [T, n] hook's channel. Clicking a cell selects that token in the
// other views (tokenSelected). Text models show a note instead.

#include <QList>
#include <QPair>

#include "../view_model.h"
#include "../plot_view.h"

class QComboBox;
class QSpinBox;
class QCPColorMap;

namespace superlens::widgets {

class PatchGridView : public PlotView {
    Q_OBJECT
public:
    explicit PatchGridView(QWidget* parent = nullptr);
    QString kind() const override { return QStringLiteral("patches"); }
    QString title() const override { return tr("Patch grid"); }
    FigureTable dataTable() const override;
    // figure --quantity massive|attn-cls|attn-registers|hook, --channel C, --head mean|H, --hook NAME.
    QList<QPair<QString, QString>> figureState() const override;
    bool applyFigureState(const QString& key, const QString& value, QString* error) override;

    void setQuantity(PatchQuantity quantity);
    PatchQuantity quantity() const;
    void setChannel(std::int64_t channel);  // -1: max over channels (massive)
    void setHead(int head);                 // -1: mean over heads
    void setHook(const QString& hook);      // for PatchQuantity::HookChannel
    // The request the view draws (the selected layer, quantity, channel, head, hook).
    PatchGridRequest request() const;

    // As drawn: the value of position t (CLS, registers, patches) of the
    // original or edited run; NaN when not drawn.
    double shownValue(bool edited, std::int64_t position) const;
    // The map of a run (null when not drawn) and the position under a widget point of plot() (-1 outside).
    QCPColorMap* colorMap(bool edited) const { return edited ? m_editedMap : m_originalMap; }
    std::int64_t positionAt(const QPoint& pos, bool* edited = nullptr) const;
    // Outlines this position (the token selected in any view).
    void setSelectedToken(std::int64_t position);

signals:
    void tokenSelected(int position);

protected:
    bool rebuild(QString* emptyReason) override;
    QString noSnapshotMessage() const override { return tr("Open a vision model and an image (File → Open image…) to see its patches."); }

private:
    void syncControls();
    void onMouseMove(QMouseEvent* event);
    void onMousePress(QMouseEvent* event);

    QComboBox* m_quantityBox = nullptr;
    QComboBox* m_headBox = nullptr;
    QComboBox* m_hookBox = nullptr;
    QSpinBox* m_channelBox = nullptr;
    QCPColorMap* m_originalMap = nullptr;
    QCPColorMap* m_editedMap = nullptr;
    std::vector<double> m_values[2];  // [edited] per position, as drawn
    std::int64_t m_selectedToken = -1;
    QString m_problem;
};

}  // namespace superlens::widgets
