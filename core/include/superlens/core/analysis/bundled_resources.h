#pragma once
// Small run-time resources compiled into superlens_core, so the CLI and GUI
// find them wherever the binary is installed (DESIGN.md): the default scan
// prompts, the English stopword list, the zero-shot example set and the
// table of published super-weight coordinates. Generated at configure time
// from resources/ (core/src/analysis/sources.cmake).

#include <string>
#include <string_view>
#include <vector>

namespace superlens::core {

// resources/prompts/default_prompts.txt: one prompt per line ("" when absent at build time).
std::string_view bundledDefaultPromptsText();
// Non-empty, trimmed lines of the default prompt file.
std::vector<std::string> bundledDefaultPrompts();
// resources/stopwords/english.txt: one word per line, '#' comments.
std::string_view bundledEnglishStopwordsText();
// resources/tasks/bible_mc.jsonl: the bundled zero-shot example set.
std::string_view bundledZeroShotTasksText();
// resources/published/super_weights.json: the published coordinates table.
std::string_view bundledPublishedCoordinatesText();

}  // namespace superlens::core
