#pragma once
// Helpers shared by the compression study views (LASER heatmap,
// quantization plot): readable names of measures and series, and the
// placeholder snapshot that lets a PlotView draw without a forward pass.

#include <QString>

#include "../view_model.h"

namespace superlens::widgets {

// "ppl" -> "perplexity", "accuracy" -> "zero-shot accuracy", ...
QString studyMetricLabel(const QString& metric);
// "rtn_keep_super" -> "RTN, super weights kept", ...
QString quantSeriesLabel(const QString& series);
// Study views draw study results, not a forward pass: PlotView draws only
// once it has a snapshot, so they hand it this empty one.
SnapshotPtr studyPlaceholderSnapshot();

}  // namespace superlens::widgets
