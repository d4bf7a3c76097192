#pragma once
// Non-finite weights (NaN, +-Inf) in a checkpoint. A model holding them runs
// to NaN logits; instead of plotting that, the engine names the tensors.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "superlens/core/result.h"

namespace superlens::core {

class Model;

struct NonFiniteTensor {
    std::string name;             // checkpoint tensor name (Hugging Face names for GGUF files)
    std::int64_t nan = 0;         // elements that are NaN
    std::int64_t inf = 0;         // elements that are +-Inf
    std::int64_t firstRow = -1;   // first non-finite element, as stored (row, column)
    std::int64_t firstCol = -1;
};

// Every tensor the forward pass reads that holds a NaN or an Inf, in the
// model's tensor order. Reads every such tensor once (seconds on a 7B model):
// call it when something went wrong, not on every run.
std::vector<NonFiniteTensor> findNonFiniteWeights(const Model& model);

// "model.layers.1.mlp.down_proj.weight holds 3 NaN and 1 Inf (first at [4, 7])"
// for the first `limit` tensors, "; and N more tensors" after them.
std::string describeNonFinite(const std::vector<NonFiniteTensor>& tensors, std::size_t limit = 3);

// The engine's check on what it computed: when any of the n values is NaN or
// Inf, an error that says so and names the non-finite weights that caused it
// (or, when every weight is finite, that the activations overflowed float32).
Status checkFiniteOutput(const Model& model, const float* values, std::size_t n, const std::string& what);

}  // namespace superlens::core
