// Fuzz target: the HDF5 activation cache reader (core/src/cache/:
// ActivationCache::open, which validates the root attributes and every run
// against the layout and the model config the file names, then the readers
// of hooks, slices, logits and whole runs). The input goes through a scratch
// file (libhdf5 opens paths). Every input either opens or gives one error
// line naming the file; an opened cache reads every dataset it lists, each
// shaped as listed.

#include <string>

#include "fuzz_common.h"
#include "superlens/core/cache/activation_cache.h"

using namespace superlens::core;
namespace fz = superlens::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static fz::ScratchFile s_file(".h5");
    const auto& path = s_file.write(data, size);
    const std::string prefix = path.string() + ": ";
    auto opened = ActivationCache::open(path);
    if (!opened) {
        fz::checkMessage(opened.error().message, prefix);
        return 0;
    }
    const ActivationCache& cache = **opened;
    (void)cache.modelConfig();
    if (cache.hasVocab()) {
        fz::require(cache.vocabTexts().empty() || cache.vocabTexts().size() == cache.vocabPieces().size(), "vocabulary lists agree");
    }
    for (const CachedRunInfo& run : cache.runs()) {
        fz::require(cache.run(run.index) != nullptr, "a listed run is found by its index");
        for (const CachedHook& hook : run.hooks) {
            auto t = cache.readHook(run.index, hook.name);
            if (!t) {
                fz::checkMessage(t.error().message, prefix);
                continue;
            }
            fz::require(t->shape == hook.shape, "a hook reads with its listed shape");
            auto slice = cache.readHookSlice(run.index, hook.name, 0, 1);
            if (!slice) fz::checkMessage(slice.error().message, prefix);
        }
        if (!run.logitsShape.empty()) {
            auto logits = cache.readLogits(run.index);
            if (!logits) fz::checkMessage(logits.error().message, prefix);
            else fz::require(logits->shape == run.logitsShape, "logits read with their listed shape");
        }
        auto whole = cache.readRun(run.index);
        if (!whole) fz::checkMessage(whole.error().message, prefix);
    }
    return 0;
}
