// RTN benchmark: quantize every linear weight of a model in one
// configuration through the engine's overlay (what `--edit rtn:...` does),
// and report seconds, throughput, the edit cache's bytes and the peak memory,
// against two baselines measured in the same run:
//   decode  - reading every linear weight once as fp32 (a streaming pass over
//             the checkpoint: the floor for any quantizer), and
//   legacy  - the first implementation (whole-matrix fp32 copy, one thread,
//             per-element block lookups), on the same tensors (--legacy).
//
// Usage: bench_quant --model DIR [--edit SPEC] [--threads N] [--legacy]
//   default SPEC: rtn:model.layers.*:bits=4:block=128
// Make the TinyLlama-1.1B-shaped checkpoint (hidden 2048, 22 layers, 32
// heads, 4 KV heads, intermediate 5632, vocab 32000) with
//   /usr/bin/python3 bench/make_checkpoint.py --preset tinyllama --dtype bf16 --out /tmp/tinyllama-bf16
//
// Memory: the checkpoint is memory-mapped, so its pages show up as RssFile;
// anything the quantizer allocates shows up as RssAnon. A second fp32 copy of
// the linear weights would add 4 bytes per weight to RssAnon; the codes add 1.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "compression_bench_util.h"
#include "superlens/core/engine/engine.h"
#include "superlens/core/engine/rtn_quantization.h"

using namespace superlens::core;
using namespace superlens::bench;

namespace {

// The first quantizeRtn (before streaming): kept as the same-run baseline.
std::size_t legacyQuantize(const WeightMatrix& w, int bits, std::int64_t blockOpt) {
    const RowMatrixF values = w.toDense();
    const std::int64_t n = values.size();
    const std::int64_t block = blockOpt > 0 ? std::min(blockOpt, n) : n;
    const std::int64_t blocks = (n + block - 1) / block;
    const float* v = values.data();
    const int levels = (1 << bits) - 1;
    std::vector<std::uint8_t> codes(static_cast<std::size_t>(n));
    std::vector<float> work;
    for (std::int64_t b = 0; b < blocks; ++b) {
        const std::int64_t begin = b * block, end = std::min(n, begin + block);
        work.assign(v + begin, v + end);
        const float lo = *std::min_element(work.begin(), work.end());
        const float hi = *std::max_element(work.begin(), work.end());
        const float scale = hi > lo ? (hi - lo) / static_cast<float>(levels) : 0.0f;
        for (std::int64_t i = begin; i < end; ++i) {
            const float q = scale > 0 ? std::nearbyint((std::clamp(v[i], lo, hi) - lo) / scale) : 0.0f;
            codes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(std::clamp(q, 0.0f, static_cast<float>(levels)));
        }
    }
    return codes.size();
}

}  // namespace

int main(int argc, char** argv) {
    std::string modelDir, spec = "rtn:model.layers.*:bits=4:block=128";
    int threads = 0;
    bool legacy = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
        if (a == "--model") modelDir = next();
        else if (a == "--edit") spec = next();
        else if (a == "--threads") threads = std::stoi(next());
        else if (a == "--legacy") legacy = true;
        else modelDir.clear(), i = argc;
    }
    if (modelDir.empty()) {
        std::fprintf(stderr,
                     "usage: bench_quant --model DIR [--edit SPEC] [--threads N] [--legacy]\n"
                     "make a TinyLlama-shaped model with: /usr/bin/python3 bench/make_checkpoint.py --preset tinyllama --dtype bf16 --out DIR\n");
        return 2;
    }
    if (threads > 0) {
        // The engine uses the process-wide pool; its size follows the hardware
        // unless the environment restricts the CPUs (taskset -c 0,1).
        std::fprintf(stderr, "note: --threads is informational; run under `taskset -c 0-%d` to restrict cores\n", threads - 1);
    }
    auto model = Model::open(modelDir);
    if (!model) {
        std::fprintf(stderr, "%s\n", model.error().message.c_str());
        return 1;
    }
    auto edits = parseEdits({spec}, **model);
    if (!edits) {
        std::fprintf(stderr, "%s\n", edits.error().message.c_str());
        return 1;
    }
    const auto names = editedTensors(edits->front(), **model);
    std::int64_t elements = 0;
    for (const auto& n : names) elements += (*model)->tensor(n)->elementCount();
    const double fp32MiB = static_cast<double>(elements) * 4 / 1048576.0;
    std::printf("model %s: %zu linear tensors, %.1fM weights (%s); an fp32 copy would be %.0f MiB\n", modelDir.c_str(), names.size(),
                static_cast<double>(elements) / 1e6, std::string(dtypeName((*model)->dominantDtype())).c_str(), fp32MiB);
    std::printf("edit %s, %d worker thread(s)\n", spec.c_str(), defaultThreadPool().size());

    Engine engine(*model);
    // Baseline 1: one streaming read of every linear weight (page cache warm-up too).
    double decodeSeconds = 0;
    {
        const double t0 = now();
        std::vector<float> buf;
        double checksum = 0;
        for (const auto& n : names) {
            const WeightPtr w = engine.storedWeight(n);
            const std::int64_t tile = std::max<std::int64_t>(1, (std::int64_t{1} << 20) / w->cols());
            buf.resize(static_cast<std::size_t>(tile * w->cols()));
            for (std::int64_t r = 0; r < w->rows(); r += tile) {
                const std::int64_t r1 = std::min(w->rows(), r + tile);
                w->decodeRows(r, r1, buf.data());
                checksum += buf[0];
            }
        }
        const double s = now() - t0;
        decodeSeconds = s;
        std::printf("%-30s %7.2f s  %6.2f Gweights/s  (checksum %.3g)\n", "decode all (1 thread)", s, static_cast<double>(elements) / s / 1e9,
                    checksum);
    }

    AnonPeakSampler sampler;
    const double anonBefore = statusMiB("RssAnon");
    sampler.reset();
    const double t0 = now(), c0 = cpuSeconds();
    for (const auto& n : names) {
        auto w = engine.effectiveWeight(n, *edits);
        if (!w) {
            std::fprintf(stderr, "%s\n", w.error().message.c_str());
            return 1;
        }
    }
    const double seconds = now() - t0, cpu = cpuSeconds() - c0;
    const double anonPeak = sampler.stop();
    const double cacheMiB = static_cast<double>(engine.editCacheBytes()) / 1048576.0;
    std::printf("%-30s %7.2f s wall %7.2f s cpu  %6.2f Gweights/s\n", "quantize all (engine overlay)", seconds, cpu,
                static_cast<double>(elements) / seconds / 1e9);
    std::printf("edit cache %.0f MiB (%.3f bytes/weight; budget %.0f MiB)\n", cacheMiB, cacheMiB * 1048576.0 / static_cast<double>(elements),
                static_cast<double>(engine.options().editCacheBytes) / 1048576.0);
    std::printf("anonymous RSS: before %.0f MiB, peak %.0f MiB (+%.0f MiB; an fp32 copy would add %.0f MiB); file-backed RSS %.0f MiB\n",
                anonBefore, anonPeak, anonPeak - anonBefore, fp32MiB, statusMiB("RssFile"));
    std::printf("process peak RSS (VmHWM, includes mapped checkpoint pages) %.0f MiB\n", statusMiB("VmHWM"));
    // Budget for everything but the codes: per-thread chunk buffers, block
    // statistics and allocator slack -- 5% of an fp32 copy of the quantized
    // weights (at least 64 MiB); a second fp32 copy would be 20x this.
    const double extra = anonPeak - anonBefore - cacheMiB, budget = std::max(64.0, 0.05 * fp32MiB);
    std::printf("peak extra anonymous memory beyond the cached codes: %.0f MiB (budget %.0f MiB = 5%% of an fp32 copy): %s\n", extra, budget,
                extra <= budget ? "within budget, no second fp32 copy" : "OVER BUDGET");
    std::printf("ratio quantize / decode-only baseline: %.2fx wall\n", seconds / decodeSeconds);

    if (legacy) {
        const double t1 = now(), c1 = cpuSeconds();
        std::size_t total = 0;
        for (const auto& n : names) total += legacyQuantize(*engine.storedWeight(n), edits->front().bits, edits->front().block);
        const double ls = now() - t1, lc = cpuSeconds() - c1;
        std::printf("%-30s %7.2f s wall %7.2f s cpu  %6.2f Gweights/s  -> ratio legacy / streaming %.1fx wall, %.1fx cpu\n",
                    "legacy quantizer (1 thread)", ls, lc, static_cast<double>(total) / ls / 1e9, ls / seconds, lc / cpu);
    }
    return 0;
}
