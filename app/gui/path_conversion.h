#pragma once
// std::filesystem::path <-> QString at the Qt edge (UTF-8 on Linux).

#include <filesystem>

#include <QString>

namespace superlens::gui {

inline std::filesystem::path toPath(const QString& s) { return std::filesystem::path(s.toStdU16String()); }
inline QString toQString(const std::filesystem::path& p) { return QString::fromStdU16String(p.u16string()); }

}  // namespace superlens::gui
