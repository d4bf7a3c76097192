// Model-open benchmark: time to open and fully validate a checkpoint folder
// and the RSS it costs (weights must stay untouched on disk, mmap only).
//
//   bench_open MODEL [--repeat N]

#include <cstdio>
#include <string>

#include "bench_common.h"
#include "superlens/core/model/model.h"

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench_open MODEL [--repeat N]\n");
        return 2;
    }
    int repeat = 5;
    if (argc >= 4 && std::string(argv[2]) == "--repeat") repeat = std::stoi(argv[3]);
    const double rssBefore = superlens::bench::peakRssMb();
    double best = 1e300;
    std::uint64_t bytes = 0;
    for (int i = 0; i < repeat; ++i) {
        const double t0 = superlens::bench::now();
        auto m = superlens::core::Model::open(argv[1]);
        const double dt = superlens::bench::now() - t0;
        if (!m) {
            std::fprintf(stderr, "%s\n", m.error().message.c_str());
            return 1;
        }
        bytes = (*m)->checkpointBytes();
        best = std::min(best, dt);
    }
    std::printf("open %s: %.4f s (best of %d), checkpoint %.2f GB, peak RSS %.1f MB (%.1f MB before open)\n", argv[1], best, repeat,
                static_cast<double>(bytes) / 1e9, superlens::bench::peakRssMb(), rssBefore);
    return 0;
}
