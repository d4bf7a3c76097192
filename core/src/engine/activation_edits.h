#pragma once
// Applying activation edits (set / scale / mean / RTN) to hook values in place.

#include <cstdint>

#include "kernels.h"
#include "superlens/core/engine/edit_spec.h"

namespace superlens::core {

// values: [n, cols] rows are absolute positions p0 .. p0+n-1.
template <class S>
void applyActivationEdit(const EditSpec& edit, kernels::Mat<S>& values, std::int64_t p0);

// Attention pattern of one head: [n, keys], query rows are positions p0 ...
template <class S>
void applyPatternEdit(const EditSpec& edit, int head, kernels::Mat<S>& pattern, std::int64_t p0);

}  // namespace superlens::core
