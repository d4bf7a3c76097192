// Fuzz target: the edit spec parser (core/src/engine/edit_spec.cpp). The first
// byte chooses the entry point: even, parseEdit() on the rest as one spec;
// odd, loadEditsFile() on the rest written to a scratch file. A spec that
// parses must give back an equal spec from its canonical text (the contract
// in edit_spec.h); a refused one gives one error line.

#include <string>

#include "fuzz_common.h"
#include "superlens/core/engine/edit_spec.h"

using namespace superlens::core;
namespace fz = superlens::fuzz;

namespace {

void checkRoundTrip(const EditSpec& spec) {
    const std::string canonical = spec.text();
    auto again = parseEdit(canonical);
    if (!again) fz::fail("canonical text does not parse: " + fz::visible(canonical) + " -> " + fz::visible(again.error().message));
    if (!(*again == spec) || again->text() != canonical) fz::fail("canonical text changes on a second parse: " + fz::visible(canonical));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    if ((data[0] & 1) == 0) {
        const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
        auto spec = parseEdit(text);
        if (!spec) {
            fz::checkMessage(spec.error().message, "");
            return 0;
        }
        checkRoundTrip(*spec);
        return 0;
    }
    static fz::ScratchFile s_file(".edits.json");
    const auto& path = s_file.write(data + 1, size - 1);
    auto specs = loadEditsFile(path);
    if (!specs) {
        fz::checkMessage(specs.error().message, path.string() + ": ");
        return 0;
    }
    for (const EditSpec& spec : *specs) checkRoundTrip(spec);
    return 0;
}
