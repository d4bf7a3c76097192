// Fuzz target: the experiments file (core/src/engine/experiment_file.cpp), the
// one parser behind the GUI's experiments and every front end's --edits FILE.
// A refused input gives one error line starting with the file name; an
// accepted one is written back and parsed again to an equal experiment, and
// that text is a fixed point of the writer (the contract in experiment_file.h).

#include <string>

#include "fuzz_common.h"
#include "superlens/core/engine/experiment_file.h"

using namespace superlens::core;
namespace fz = superlens::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto x = parseExperiment(text, "fuzz.json");
    if (!x) {
        fz::checkMessage(x.error().message, "fuzz.json: ");
        return 0;
    }
    const std::string written = experimentJson(*x);
    auto again = parseExperiment(written, "written.json");
    if (!again) fz::fail("the writer's text does not parse: " + fz::visible(again.error().message));
    if (!(*again == *x)) fz::fail("an experiment changes when written and read back");
    if (experimentJson(*again) != written) fz::fail("the writer's text is not a fixed point");
    return 0;
}
