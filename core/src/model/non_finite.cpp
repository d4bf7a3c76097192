#include "superlens/core/model/non_finite.h"

#include <cmath>
#include <vector>

#include "superlens/core/model/gguf.h"
#include "superlens/core/model/gguf_quant.h"
#include "superlens/core/model/model.h"

namespace superlens::core {
namespace {

void countRow(const float* v, std::int64_t n, std::int64_t row, NonFiniteTensor& t) {
    for (std::int64_t c = 0; c < n; ++c) {
        if (std::isfinite(v[c])) continue;
        if (std::isnan(v[c])) ++t.nan;
        else ++t.inf;
        if (t.firstRow < 0) {
            t.firstRow = row;
            t.firstCol = c;
        }
    }
}

NonFiniteTensor scanTensor(const std::string& name, const TensorView& v) {
    NonFiniteTensor t;
    t.name = name;
    const std::int64_t rows = v.shape.size() < 2 ? 1 : v.rows();
    const std::int64_t cols = v.shape.size() < 2 ? v.elementCount() : v.elementCount() / rows;
    std::vector<float> row(static_cast<std::size_t>(cols));
    for (std::int64_t r = 0; r < rows; ++r) {
        if (v.gguf && v.quantized) {
            // Whole stored rows of ggml blocks (at() would decode a block per element).
            dequantizeRow(v.gguf->type, v.gguf->row(r), row.data(), cols);
            countRow(row.data(), cols, r, t);
            continue;
        }
        for (std::int64_t c = 0; c < cols; ++c) row[static_cast<std::size_t>(c)] = v.at(r * cols + c);
        countRow(row.data(), cols, r, t);
    }
    return t;
}

}  // namespace

std::vector<NonFiniteTensor> findNonFiniteWeights(const Model& model) {
    std::vector<NonFiniteTensor> out;
    for (const std::string& name : model.tensorNames()) {
        if (!model.tensorRole(name)) continue;  // buffers and other towers are never read
        const TensorView* v = model.tensor(name);
        if (!v) continue;
        NonFiniteTensor t = scanTensor(name, *v);
        if (t.nan + t.inf > 0) out.push_back(std::move(t));
    }
    return out;
}

std::string describeNonFinite(const std::vector<NonFiniteTensor>& tensors, std::size_t limit) {
    std::string s;
    for (std::size_t i = 0; i < tensors.size() && i < limit; ++i) {
        const NonFiniteTensor& t = tensors[i];
        if (!s.empty()) s += "; ";
        s += t.name + " holds " + std::to_string(t.nan) + " NaN and " + std::to_string(t.inf) + " Inf (first at [" + std::to_string(t.firstRow) +
             ", " + std::to_string(t.firstCol) + "])";
    }
    if (tensors.size() > limit) s += "; and " + std::to_string(tensors.size() - limit) + " more tensors";
    return s;
}

Status checkFiniteOutput(const Model& model, const float* values, std::size_t n, const std::string& what) {
    std::size_t bad = 0;
    for (std::size_t i = 0; i < n; ++i) bad += std::isfinite(values[i]) ? 0 : 1;
    if (bad == 0) return {};
    const std::string head = std::to_string(bad) + " of " + std::to_string(n) + " " + what + " are NaN or Inf: ";
    const auto tensors = findNonFiniteWeights(model);
    if (tensors.empty()) return Error{head + "every weight is finite, so an activation overflowed float32 (a scale edit too large?)"};
    return Error{head + "the checkpoint has non-finite weights: " + describeNonFinite(tensors)};
}

}  // namespace superlens::core
