// Super-weight scan benchmark: `scan` on a checkpoint (intended: the
// TinyLlama-1.1B shape, hidden 2048, 22 layers, 32 heads, 4 KV heads,
// intermediate 5632, vocab 32000) with a 32-token prompt. Prints the time of
// every scan iteration (iteration 0 = the full first pass, iteration i > 0 =
// the incremental rerun after zeroing super weight i-1, which restarts at
// that weight's layer) and, as the same-run baseline, the same forward pass
// recomputed from scratch (no `previous`), plus peak RSS.
//
// Make a planted TinyLlama-shape checkpoint first (bench/make_checkpoint.py):
//   /usr/bin/python3 bench/make_checkpoint.py --preset tinyllama --dtype bf16 \
//       --plant 2:1000:3000 --out /tmp/tinyllama-planted
// Usage: bench_scan MODEL_DIR [--tokens N] [--repeat N]
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "superlens/core/analysis/super_weights.h"
#include "superlens/core/engine/engine.h"

using namespace superlens::core;

namespace {

double processCpuSeconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double peakRssMiB() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_maxrss) / 1024.0;
}

struct Timing {
    double wall = 1e30;
    double cpu = 1e30;
};

template <class F>
Timing timeIt(F&& f) {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = processCpuSeconds();
    f();
    return {std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), processCpuSeconds() - c0};
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || std::strcmp(argv[1], "--help") == 0) {
        std::fprintf(stderr, "usage: bench_scan MODEL_DIR [--tokens N] [--repeat N]\n"
                             "  make a planted TinyLlama-shape checkpoint with bench/make_checkpoint.py --preset tinyllama --plant 2:1000:3000\n");
        return 2;
    }
    const std::string folder = argv[1];
    int tokensCount = 32, repeat = 3;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--tokens") == 0) tokensCount = std::atoi(argv[i + 1]);
        else if (std::strcmp(argv[i], "--repeat") == 0) repeat = std::atoi(argv[i + 1]);
    }
    auto model = Model::open(folder);
    if (!model) {
        std::fprintf(stderr, "bench_scan: %s\n", model.error().message.c_str());
        return 1;
    }
    const ModelConfig& c = (*model)->config();
    std::printf("model %s: hidden %d, layers %d, heads %d/%d, intermediate %d, vocab %lld, %s\n", folder.c_str(), c.hiddenSize, c.numLayers,
                c.numHeads, c.numKvHeads, c.intermediateSize, static_cast<long long>(c.vocabSize), std::string(dtypeName((*model)->dominantDtype())).c_str());
    // BOS then pseudo-random ids (fixed seed): the prompt of the benchmark.
    std::vector<TokenId> tokens = {1};
    std::mt19937 rng(42);
    std::uniform_int_distribution<int> dist(3, static_cast<int>(std::min<std::int64_t>(c.vocabSize, 32000)) - 1);
    while (static_cast<int>(tokens.size()) < tokensCount) tokens.push_back(dist(rng));

    Engine engine(*model);
    // Warm-up: page in the mmap'ed weights so the first timed pass is not a disk read.
    {
        ForwardRequest warm;
        warm.tokens = tokens;
        auto r = engine.run(warm);
        if (!r) {
            std::fprintf(stderr, "bench_scan: %s\n", r.error().message.c_str());
            return 1;
        }
    }

    std::vector<std::vector<double>> iterWall, scratchWall, iterCpu, scratchCpu;
    std::vector<int> startLayer;
    SuperWeightScan last;
    for (int rep = 0; rep < repeat; ++rep) {
        Result<SuperWeightScan> scan = Error{""};
        const Timing total = timeIt([&] { scan = scanSuperWeights(engine, tokens, {}); });
        if (!scan) {
            std::fprintf(stderr, "bench_scan: %s\n", scan.error().message.c_str());
            return 1;
        }
        const std::size_t n = scan->iterationSeconds.size();
        iterWall.resize(n);
        scratchWall.resize(n);
        iterCpu.resize(n);
        scratchCpu.resize(n);
        startLayer = scan->iterationStartLayer;
        for (std::size_t i = 0; i < n; ++i) iterWall[i].push_back(scan->iterationSeconds[i]);
        // Baseline: the same pass i from scratch (no previous result). Its
        // edits are the first i zeroings; iteration CPU time is taken from a
        // rerun with `previous` so both are measured the same way.
        for (std::size_t i = 0; i < n; ++i) {
            ForwardRequest req;
            req.tokens = tokens;
            req.record = superWeightHooks();
            req.edits.assign(scan->zeroEdits.begin(), scan->zeroEdits.begin() + static_cast<std::ptrdiff_t>(i));
            const Timing fromScratch = timeIt([&] { (void)engine.run(req); });
            scratchWall[i].push_back(fromScratch.wall);
            scratchCpu[i].push_back(fromScratch.cpu);
            if (i > 0) {
                ForwardRequest prevReq = req;
                prevReq.edits.pop_back();
                auto prev = engine.run(prevReq);
                req.previous = *prev;
                const Timing incremental = timeIt([&] { (void)engine.run(req); });
                iterCpu[i].push_back(incremental.cpu);
            } else {
                iterCpu[i].push_back(fromScratch.cpu);
            }
        }
        last = std::move(scan).value();
        std::printf("repeat %d: scan total %.3f s wall, %.3f s CPU, %zu super weight(s), %d forward passes\n", rep + 1, total.wall, total.cpu,
                    last.superWeights.size(), last.forwardPasses);
    }
    for (const auto& sw : last.superWeights) {
        std::printf("  found layers.%d[%lld,%lld] = %g (down_out %.4g at token %lld)\n", sw.layer, static_cast<long long>(sw.row),
                    static_cast<long long>(sw.col), sw.value, sw.downOut, static_cast<long long>(sw.token));
    }
    std::printf("\n%-10s %-12s %-18s %-20s %-8s %-14s %-14s\n", "iteration", "start layer", "scan iter (wall s)", "from scratch (wall s)", "ratio",
                "incr. CPU s", "scratch CPU s");
    for (std::size_t i = 0; i < iterWall.size(); ++i) {
        const double a = median(iterWall[i]), b = median(scratchWall[i]);
        std::printf("%-10zu %-12d %-18.4f %-20.4f %-8.3f %-14.4f %-14.4f\n", i, startLayer[i], a, b, b > 0 ? a / b : 0.0, median(iterCpu[i]),
                    median(scratchCpu[i]));
    }
    std::printf("\n(median of %d repeats; iteration 0 is the full first pass; ratio = scan iteration / from-scratch pass)\n", repeat);

    // Restart cost by layer: zero one down_proj weight of layer k and rerun
    // with the unedited result as `previous` (what a scan iteration does
    // after finding a weight in layer k) against the same run from scratch.
    // Published super weights sit in layers 1-4, so a scan's savings are
    // small there and grow with k.
    ForwardRequest base;
    base.tokens = tokens;
    base.record = superWeightHooks();
    auto baseResult = engine.run(base);
    if (!baseResult) return 1;
    std::printf("\n%-8s %-22s %-22s %-10s\n", "layer k", "incremental CPU s", "from scratch CPU s", "ratio");
    const int L = c.numLayers;
    for (int k : {1, 2, L / 4, L / 2, (3 * L) / 4, L - 1}) {
        auto zero = parseEdit((*model)->layerWeightName(k, LayerWeight::Down) + "[0,0]=0");
        if (!zero) return 1;
        std::vector<double> inc, scratch;
        for (int rep = 0; rep < repeat; ++rep) {
            ForwardRequest req = base;
            req.edits = {*zero};
            scratch.push_back(timeIt([&] { (void)engine.run(req); }).cpu);
            req.previous = *baseResult;
            std::shared_ptr<const ForwardResult> out;
            inc.push_back(timeIt([&] { out = *engine.run(req); }).cpu);
            if (out->recomputedFromStage != k + 1) std::printf("  (unexpected restart stage %d)\n", out->recomputedFromStage);
        }
        const double a = median(inc), b = median(scratch);
        std::printf("%-8d %-22.4f %-22.4f %-10.3f\n", k, a, b, b > 0 ? a / b : 0.0);
    }
    std::printf("peak RSS %.0f MiB\n", peakRssMiB());
    return 0;
}
