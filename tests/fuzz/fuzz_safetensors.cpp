// Fuzz target: one .safetensors file (core/src/model/safetensors.cpp,
// SafetensorsFile::open). The parser opens paths only, so each input is
// written to a scratch file on tmpfs first. Every input either opens, with
// every tensor's bytes inside the file, or gives one error line naming the file.

#include "fuzz_common.h"
#include "superlens/core/model/safetensors.h"

using namespace superlens::core;
namespace fz = superlens::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static fz::ScratchFile s_file(".safetensors");
    const auto& path = s_file.write(data, size);
    auto opened = SafetensorsFile::open(path);
    if (!opened) {
        fz::checkMessage(opened.error().message, path.string() + ": ");
        return 0;
    }
    const SafetensorsFile& f = **opened;
    const std::byte* base = reinterpret_cast<const std::byte*>(f.headerBytes().data()) - 8;
    for (const auto& [name, t] : f.tensors()) {
        fz::require(t.begin <= t.end, "tensor range ordered");
        const std::byte* p = f.data(t);
        fz::require(p >= base && static_cast<std::uint64_t>(p - base) + (t.end - t.begin) <= f.fileSize(), "tensor inside the file");
        if (t.end > t.begin) {
            // Touch the first and last byte: a range past the mapping faults here.
            volatile std::byte first = p[0];
            volatile std::byte last = p[t.end - t.begin - 1];
            (void)first;
            (void)last;
        }
        (void)t.elementCount();
    }
    return 0;
}
