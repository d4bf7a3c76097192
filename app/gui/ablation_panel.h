#pragma once
// The Ablations dock: detected (and published) super weights with a
// checkbox each, user coordinates typed in the edit syntax or picked in the
// layer heatmap, presets (zero all super weights; zero them and restore the
// super activation; zero as many of the largest non-super outliers, with the
// null distribution of random same-size changes beside it; scale a super
// weight 0..3x), undo/redo and perplexity before/after.

#include <vector>

#include <QWidget>

#include "ablation_set.h"
#include "superlens/core/analysis/super_weights.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QListWidgetItem;
class QPushButton;
class QSlider;
class QUndoStack;

namespace superlens::gui {

class LensSession;

class AblationPanel : public QWidget {
    Q_OBJECT
public:
    AblationPanel(AblationSet* set, QUndoStack* undo, LensSession* session, QWidget* parent = nullptr);

    // Rebuilds the detected / published entries after a scan (user entries stay).
    void refreshSuperWeights();
    // A coordinate picked in a view: added unchecked (tick it to apply).
    void addCandidate(const QString& spec, const QString& description);
    // Applies the edit now (added ticked when new), or unticks it when it is applied; undoable.
    void toggleEdit(const QString& spec, const QString& description);
    // Adds a typed spec (validated by the edit run; errors show in the status bar).
    bool addSpec(const QString& spec, bool enabled);

    void setEntryEnabled(int row, bool enabled);
    void zeroAllSuperWeights();
    void zeroSuperWeightsAndRestoreActivation();
    void zeroLargestOutliers();
    void clearAll();
    void setScaleFactor(double factor);

    QListWidget* list() const { return m_list; }
    QSlider* scaleSlider() const { return m_scaleSlider; }
    QPushButton* nullDistributionButton() const { return m_nullButton; }
    void setPerplexityText(const QString& text);

signals:
    void statusMessage(const QString& message);
    void perplexityRequested();
    // "Null distribution…" beside "Zero outliers instead": run the super-weight
    // study's null control (K random same-size changes) and show its distribution.
    void nullDistributionRequested();

private:
    void rebuildList();
    void push(QList<AblationEntry> after, const QString& text, int mergeId = -1);
    std::vector<core::SuperWeight> superWeights() const;
    // expert >= 0: in that routed expert's down projection (mixture of experts).
    QString zeroSpec(int layer, std::int64_t row, std::int64_t col, int expert = -1) const;
    // Short name of the down projection for labels ("mlp.c_proj [in, out]").
    QString downLabel() const;

    AblationSet* m_set;
    QUndoStack* m_undo;
    LensSession* m_session;
    QListWidget* m_list = nullptr;
    QLineEdit* m_specEdit = nullptr;
    QComboBox* m_scaleTarget = nullptr;
    QSlider* m_scaleSlider = nullptr;
    QLabel* m_scaleLabel = nullptr;
    QLabel* m_pplLabel = nullptr;
    QLabel* m_summary = nullptr;
    QPushButton* m_nullButton = nullptr;
};

}  // namespace superlens::gui
