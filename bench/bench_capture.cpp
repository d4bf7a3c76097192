// bench_capture: cost of writing an activation capture to HDF5, against the
// forward pass measured in the same run (issue 7).
//
//   bench_capture MODEL [--tokens 128] [--repeat 3] [--dir DIR] [--quick (uncompressed settings only)]
//
// Reports, for the default capture hook set (HookSelection::captureDefault):
// MB written, compression ratio, write time and throughput for each
// compression setting, the share of the capture's time spent writing, and the
// capture's total time over the forward pass alone (target: <= 15% over for
// the default setting: uncompressed, fsync only when replacing a file). Runs
// are interleaved (forward, recorded forward, writes) and medians reported, so
// a busy machine skews numerator and denominator alike.
//
// The TinyLlama-1.1B shape (hidden 2048, 22 layers, 32 heads, 4 KV heads,
// intermediate 5632, vocab 32000), random weights:
//   /usr/bin/python3 bench/make_checkpoint.py --preset tinyllama --dtype bf16 --out /tmp/tinyllama-bf16
//   build/bin/bench_capture /tmp/tinyllama-bf16 --tokens 128

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "bench_common.h"
#include "superlens/core/cache/activation_cache.h"
#include "superlens/core/engine/engine.h"

using namespace superlens;
using namespace superlens::core;
namespace fs = std::filesystem;

namespace {

// CPU seconds (bench::cpuSeconds) include the kernel's copies into the page
// cache; not the disk's own writeback time.
using bench::cpuSeconds;
using bench::median;

struct Setting {
    const char* name;
    const char* compression;
    CacheSync sync;
};

struct Sample {
    std::vector<double> seconds;
    std::vector<double> cpu;
    std::uint64_t fileBytes = 0;
    std::uint64_t rawBytes = 0;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench_capture MODEL [--tokens N] [--repeat R] [--dir DIR]\n");
        return 2;
    }
    const std::string modelDir = argv[1];
    int tokens = 128, repeat = 3;
    bool quick = false;
    fs::path dir = fs::temp_directory_path();
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--tokens") tokens = std::atoi(argv[i + 1]);
        else if (a == "--repeat") repeat = std::atoi(argv[i + 1]);
        else if (a == "--dir") dir = argv[i + 1];
    }
    for (int i = 2; i < argc; ++i) quick = quick || std::string(argv[i]) == "--quick";
    auto model = Model::open(modelDir);
    if (!model) {
        std::fprintf(stderr, "bench_capture: %s\n", model.error().message.c_str());
        return 1;
    }
    const ModelConfig& cfg = (*model)->config();
    std::printf("model %s: hidden %d, layers %d, heads %d/%d, intermediate %d, vocab %lld, %s\n", modelDir.c_str(), cfg.hiddenSize,
                cfg.numLayers, cfg.numHeads, cfg.numKvHeads, cfg.intermediateSize, static_cast<long long>(cfg.vocabSize),
                std::string(dtypeName((*model)->dominantDtype())).c_str());
    Engine engine(*model);
    ForwardRequest plain;
    plain.tokens.push_back(1);
    for (int i = 1; i < tokens; ++i) plain.tokens.push_back(static_cast<TokenId>(3 + (i * 7919) % (cfg.vocabSize - 3)));
    ForwardRequest recorded = plain;
    recorded.record = HookSelection::captureDefault();

    const fs::path work = dir / ("bench-capture-" + std::to_string(::getpid()));
    fs::create_directories(work);
    const CacheModelInfo info = CacheModelInfo::fromModel(**model);

    // Warm-up: page in the weights.
    if (auto r = engine.run(plain); !r) {
        std::fprintf(stderr, "bench_capture: %s\n", r.error().message.c_str());
        return 1;
    }
    // A new file: the default sync mode (replace) does not fsync it; "always"
    // shows what fsync costs on this disk (an append pays it by default).
    const Setting settings[] = {{"none (default)", "none", CacheSync::WhenReplacing},
                                {"none, fsync", "none", CacheSync::Always},
                                {"gzip1", "gzip1", CacheSync::WhenReplacing},
                                {"shuffle-gzip1", "shuffle-gzip1", CacheSync::WhenReplacing}};
    std::vector<double> forward, forwardRecorded, fromResult, forwardCpu;
    std::vector<Sample> samples(std::size(settings));
    std::vector<double> readAll, readLayer;
    for (int rep = 0; rep < repeat; ++rep) {
        double t0 = bench::now();
        double c0 = cpuSeconds();
        auto a = engine.run(plain);
        forward.push_back(bench::now() - t0);
        forwardCpu.push_back(cpuSeconds() - c0);
        t0 = bench::now();
        auto b = engine.run(recorded);
        forwardRecorded.push_back(bench::now() - t0);
        if (!a || !b) {
            std::fprintf(stderr, "bench_capture: forward failed\n");
            return 1;
        }
        t0 = bench::now();
        const CaptureRun run = CaptureRun::fromResult(**b, "", nullptr, recorded.record.patternList());
        fromResult.push_back(bench::now() - t0);
        for (std::size_t s = 0; s < (quick ? 2 : std::size(settings)); ++s) {
            const fs::path file = work / (std::string("capture-") + std::to_string(s) + ".h5");
            fs::remove(file);
            CacheWriteOptions opts;
            opts.compression = CacheCompression::parse(settings[s].compression).value();
            opts.sync = settings[s].sync;
            t0 = bench::now();
            c0 = cpuSeconds();
            auto w = ActivationCacheWriter::open(file, info, opts);
            if (!w) {
                std::fprintf(stderr, "bench_capture: %s\n", w.error().message.c_str());
                return 1;
            }
            if (auto n = (*w)->appendRun(run); !n) {
                std::fprintf(stderr, "bench_capture: %s\n", n.error().message.c_str());
                return 1;
            }
            auto c = (*w)->commit();
            if (!c) {
                std::fprintf(stderr, "bench_capture: %s\n", c.error().message.c_str());
                return 1;
            }
            samples[s].seconds.push_back(bench::now() - t0);
            samples[s].cpu.push_back(cpuSeconds() - c0);
            samples[s].fileBytes = c->fileBytes;
            samples[s].rawBytes = c->rawBytes;
        }
        // Reading back the default file: everything, and one layer's three main hooks.
        t0 = bench::now();
        auto cache = ActivationCache::open(work / "capture-0.h5");
        if (!cache) return 1;
        for (const auto& h : (*cache)->run(0)->hooks) {
            if (!(*cache)->readHook(0, h.name)) return 1;
        }
        readAll.push_back(bench::now() - t0);
        t0 = bench::now();
        for (const char* h : {"blocks.2.mlp.hook_post", "blocks.2.hook_mlp_out", "blocks.2.hook_resid_post"}) {
            if (!(*cache)->readHook(0, h)) return 1;
        }
        readLayer.push_back(bench::now() - t0);
    }

    const double fwd = median(forward), fwdRec = median(forwardRecorded), conv = median(fromResult);
    std::printf("\n%d tokens, %zu hooks (captureDefault), %d repeats, medians; files in %s\n", tokens,
                recorded.record.resolve(hookLayoutOf(cfg)).size(), repeat, work.c_str());
    std::printf("forward alone              %8.3f s  (%.2f CPU s)\n", fwd, median(forwardCpu));
    std::printf("forward recording hooks    %8.3f s  (+%.1f%%: the engine's copies, not the cache)\n", fwdRec, 100.0 * (fwdRec / fwd - 1));
    std::printf("CaptureRun::fromResult     %8.3f s\n\n", conv);
    std::printf("%-16s %9s %9s %7s %9s %7s %9s %13s %14s %16s\n", "setting", "raw MB", "file MB", "ratio", "write s", "CPU s", "MB/s",
                "write share", "write/forward", "capture/forward");
    for (std::size_t s = 0; s < (quick ? 2 : std::size(settings)); ++s) {
        const double w = median(samples[s].seconds);
        const double raw = static_cast<double>(samples[s].rawBytes) / 1e6, file = static_cast<double>(samples[s].fileBytes) / 1e6;
        const double total = fwdRec + conv + w;
        std::printf("%-16s %9.1f %9.1f %7.3f %9.3f %7.3f %9.0f %12.1f%% %13.1f%% %15.1f%%\n", settings[s].name, raw, file, raw / file, w,
                    median(samples[s].cpu), raw / w, 100.0 * w / total, 100.0 * w / fwd, 100.0 * (total / fwd - 1));
    }
    std::printf("\nwrite share = write / (recorded forward + conversion + write); write/forward = write / forward alone\n"
                "(target <= 15%% for the default); capture/forward = (recorded forward + conversion + write) / forward alone - 1,\n"
                "which also contains the engine's recording cost and run-to-run noise\n");
    std::printf("read back: open + all hooks %.3f s (%.0f MB/s); one layer's 3 hooks %.4f s\n", median(readAll),
                static_cast<double>(samples[0].rawBytes) / 1e6 / median(readAll), median(readLayer));
    std::printf("peak RSS %.0f MB\n", bench::peakRssMb());
    std::error_code ec;
    fs::remove_all(work, ec);
    return 0;
}
