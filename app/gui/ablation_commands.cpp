#include "ablation_commands.h"

namespace superlens::gui {

SetAblationsCommand::SetAblationsCommand(AblationSet* set, QList<AblationEntry> after, const QString& text, int mergeId)
    : QUndoCommand(text), m_set(set), m_before(set->entries()), m_after(std::move(after)), m_mergeId(mergeId) {}

void SetAblationsCommand::redo() { m_set->setEntries(m_after); }
void SetAblationsCommand::undo() { m_set->setEntries(m_before); }

bool SetAblationsCommand::mergeWith(const QUndoCommand* other) {
    if (other->id() != m_mergeId || m_mergeId < 0) return false;
    m_after = static_cast<const SetAblationsCommand*>(other)->m_after;
    setText(other->text());
    return true;
}

}  // namespace superlens::gui
