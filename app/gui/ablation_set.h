#pragma once
// The list of ablations the user sees: each entry an edit spec (DESIGN.md
// syntax) with a label, an origin and an on/off state. The enabled specs, in
// order, are the edits the views show. Changed only through the undo stack
// (ablation_commands.h) so every toggle can be undone.

#include <QList>
#include <QObject>
#include <QString>
#include <QStringList>

namespace superlens::gui {

struct AblationEntry {
    enum class Origin { Detected, Published, User, Preset, Scale };
    QString spec;
    QString label;
    Origin origin = Origin::User;
    bool enabled = false;
    bool operator==(const AblationEntry&) const = default;
};

QString originName(AblationEntry::Origin origin);
bool originFromName(const QString& name, AblationEntry::Origin* origin);

class AblationSet : public QObject {
    Q_OBJECT
public:
    using QObject::QObject;

    const QList<AblationEntry>& entries() const { return m_entries; }
    void setEntries(QList<AblationEntry> entries);
    QStringList enabledSpecs() const;
    int indexOfSpec(const QString& spec) const;

signals:
    void changed();

private:
    QList<AblationEntry> m_entries;
};

}  // namespace superlens::gui
