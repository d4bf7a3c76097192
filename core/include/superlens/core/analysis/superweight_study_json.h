#pragma once
// The super-weight study (superweight_study.h) as a file: the document
// `superlens-cli study superweight --json` prints, read back into a
// core::SuperWeightStudy, and the document the GUI saves (the same keys:
// "study": "superweight", "super_weights", "outliers", "conditions",
// "joint", "ci"). The GUI's study views and `superlens-cli figure superweight
// --study FILE` draw what these read, so a figure shows exactly the numbers
// the CLI printed (issue 23).
//
// What is read: per super weight layer/row/col (value, token, down_out,
// output_axis when present); per condition key, label, edits, ppl, nll,
// tokens, windows, ppl_ratio, the zero-shot and stopword objects, every
// "*_ci" interval ([lo, hi] or null), the null controls ("null",
// "null_elsewhere"); the joint ablation; the bootstrap options ("ci").
// Per-window and per-token data are not in the document and stay empty.
//
// Errors (one line): the file name and the field that is missing or
// malformed; sizes are checked (a joint matrix must be n x n for n items).
//
// Thread-safety: pure functions.

#include <string>

#include "superlens/core/analysis/superweight_study.h"

namespace superlens::core {

// True when the text is a JSON object that is a super-weight study: its
// "study" field is "superweight", or it has no "study" field but a
// "conditions" list (the CLI's output before the field was added).
bool isSuperWeightStudyJson(const std::string& json);

Result<SuperWeightStudy> parseSuperWeightStudyJson(const std::string& json, const std::string& name);

// The document the GUI saves: parseSuperWeightStudyJson reads it back to the same study.
std::string superWeightStudyJson(const SuperWeightStudy& study);

}  // namespace superlens::core
