#pragma once
// The view model the widgets draw lives in core (superlens/core/view/: Qt-free,
// tested without a QApplication). The drawing code names its types unqualified.

#include "superlens/core/view/build_view_snapshot.h"
#include "superlens/core/view/view_snapshot.h"

namespace superlens::widgets {

using core::view::HeldOutLoss;
using core::view::ImageLayout;
using core::view::PatchGridRequest;
using core::view::PatchQuantity;
using core::view::PerplexityComparison;
using core::view::SnapshotPtr;
using core::view::TokenProbability;
using core::view::TrackedChannel;
using core::view::ViewSnapshot;
using core::view::defaultSelectedLayer;
using core::view::imageTokenLabel;
using core::view::patchGridValues;
using core::view::patchQuantityFromName;
using core::view::patchQuantityName;
using core::view::kHeldOutLossTokens;
using core::view::tokenLabel;

}  // namespace superlens::widgets
