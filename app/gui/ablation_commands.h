#pragma once
// Undoable changes of the ablation list. Every change (toggle, add, remove,
// preset, scale) replaces the whole list, so one command class covers all;
// consecutive scale-slider moves merge into one undo step.

#include <QUndoCommand>

#include "ablation_set.h"

namespace superlens::gui {

class SetAblationsCommand : public QUndoCommand {
public:
    // mergeId >= 0: consecutive commands with the same id merge (slider drags).
    SetAblationsCommand(AblationSet* set, QList<AblationEntry> after, const QString& text, int mergeId = -1);

    void redo() override;
    void undo() override;
    int id() const override { return m_mergeId; }
    bool mergeWith(const QUndoCommand* other) override;

private:
    AblationSet* m_set;
    QList<AblationEntry> m_before;
    QList<AblationEntry> m_after;
    int m_mergeId;
};

inline constexpr int kScaleSliderMergeId = 1;

}  // namespace superlens::gui
