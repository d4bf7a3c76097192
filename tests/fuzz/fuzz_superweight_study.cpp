// Fuzz target: the super-weight study document (core/src/analysis/
// superweight_study_json.cpp, parseSuperWeightStudyJson), what the GUI's
// Studies ▸ Open study JSON… and `superlens-cli figure superweight --study`
// read. Every input either parses into a study whose joint matrices are
// n x n for its n items, or gives one error line starting "study.json: ";
// a parsed study written back (superWeightStudyJson) parses again to the
// same document.

#include <string>

#include "fuzz_common.h"
#include "superlens/core/analysis/superweight_study_json.h"

using namespace superlens::core;
namespace fz = superlens::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    (void)isSuperWeightStudyJson(text);
    auto parsed = parseSuperWeightStudyJson(text, "study.json");
    if (!parsed) {
        fz::checkMessage(parsed.error().message, "study.json: ");
        return 0;
    }
    const SuperWeightStudy& s = *parsed;
    fz::require(!s.conditions.empty(), "a study has conditions");
    if (s.joint) {
        const std::size_t n = s.joint->n();
        fz::require(s.joint->pairEffect.size() == n * n && s.joint->interaction.size() == n * n && s.joint->interactionCi.size() == n * n,
                    "joint matrices are n x n");
        fz::require(s.joint->singleEffect.size() == n && s.joint->singleCi.size() == n && s.joint->leaveOneOutCi.size() == n, "joint lists have n entries");
    }
    for (const StudyCondition& c : s.conditions) {
        for (const NullControl& nc : c.nulls) fz::require(static_cast<std::size_t>(nc.k) == nc.ppl.values.size(), "null k = draws");
    }
    // Written back and read again: the same document (after one normalisation of numbers).
    const std::string once = superWeightStudyJson(s);
    auto again = parseSuperWeightStudyJson(once, "study.json");
    fz::require(again.ok(), "a written study parses again");
    const std::string twice = superWeightStudyJson(*again);
    auto third = parseSuperWeightStudyJson(twice, "study.json");
    fz::require(third.ok() && superWeightStudyJson(*third) == twice, "writing a study is stable");
    return 0;
}
