#pragma once
// Finds run-time resources without assuming the build directory is inside
// the checkout. The resources folder is the first that exists of:
//   1. $SUPERLENS_RESOURCES
//   2. <directory of the executable>/../share/superlens/resources  (installed)
//   3. the source tree's resources/ compiled in (SUPERLENS_RESOURCES_DIR)
// Small resources (prompts, stopwords, published coordinates) are compiled
// into superlens_core; icons are in the Qt resource file.

#include <QString>
#include <QStringList>

namespace superlens::gui {

// Candidate resource folders in search order (existing or not).
QStringList resourceSearchPath();
// The first existing resources folder, or an empty string.
QString resourcesDir();
// The bundled demo model folder (resources/models/demo), or empty when not found.
QString demoModelDir();
// The held-out text used for perplexity, or empty.
QString heldOutTextFile();

}  // namespace superlens::gui
