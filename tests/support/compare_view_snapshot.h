#pragma once
// The Compare view's test snapshot: a snapshot of model A's run with
// core::compareModels of A against B on its tokens (ViewSnapshot::
// modelComparison), as the GUI's File → Compare with model… gives it. The
// widget tests compare a model with itself (every relative error 0, the
// super weights equal); tests/gui/test_gui_compare.cpp checks real numbers.

#include <memory>
#include <string>

#include <QtGlobal>

#include "superlens/core/analysis/model_compare.h"
#include "superlens/core/view/view_snapshot.h"

namespace superlens::test {

inline core::view::SnapshotPtr withModelComparison(const core::view::SnapshotPtr& snapshot, const std::shared_ptr<const core::Model>& a,
                                                const std::shared_ptr<const core::Model>& b, const std::string& nameB) {
    auto c = core::compareModels(a, b, snapshot->tokens);
    if (!c) qFatal("%s", c.error().message.c_str());
    auto s = std::make_shared<core::view::ViewSnapshot>(*snapshot);
    s->modelComparison = std::make_shared<const core::ModelComparison>(std::move(c).value());
    s->modelBName = nameB;
    return s;
}

}  // namespace superlens::test
