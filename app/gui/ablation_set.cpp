#include "ablation_set.h"

namespace superlens::gui {

QString originName(AblationEntry::Origin origin) {
    switch (origin) {
        case AblationEntry::Origin::Detected: return QStringLiteral("detected");
        case AblationEntry::Origin::Published: return QStringLiteral("published");
        case AblationEntry::Origin::User: return QStringLiteral("user");
        case AblationEntry::Origin::Preset: return QStringLiteral("preset");
        case AblationEntry::Origin::Scale: return QStringLiteral("scale");
    }
    return QStringLiteral("user");
}

bool originFromName(const QString& name, AblationEntry::Origin* origin) {
    for (auto o : {AblationEntry::Origin::Detected, AblationEntry::Origin::Published, AblationEntry::Origin::User, AblationEntry::Origin::Preset,
                   AblationEntry::Origin::Scale}) {
        if (originName(o) == name) {
            *origin = o;
            return true;
        }
    }
    return false;
}

void AblationSet::setEntries(QList<AblationEntry> entries) {
    if (entries == m_entries) return;
    m_entries = std::move(entries);
    emit changed();
}

QStringList AblationSet::enabledSpecs() const {
    QStringList specs;
    for (const auto& e : m_entries) {
        if (e.enabled) specs << e.spec;
    }
    return specs;
}

int AblationSet::indexOfSpec(const QString& spec) const {
    for (int i = 0; i < m_entries.size(); ++i) {
        if (m_entries[i].spec == spec) return i;
    }
    return -1;
}

}  // namespace superlens::gui
