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
// A prompts file (--prompts FILE, the bundled default prompts): one prompt
// per line, surrounding blanks and the line ending trimmed, blank lines and
// lines starting with '#' skipped, repeats kept. Each with its 1-based line.
struct PromptLine {
    int line = 0;
    std::string text;
};
std::vector<PromptLine> parsePromptLines(std::string_view text);
// The default prompt file's prompts (parsePromptLines).
std::vector<std::string> bundledDefaultPrompts();
// resources/stopwords/english.txt: one word per line, '#' comments.
std::string_view bundledEnglishStopwordsText();
// resources/tasks/bible_mc.jsonl: the bundled zero-shot example set.
std::string_view bundledZeroShotTasksText();
// resources/published/super_weights.json: the published coordinates table.
std::string_view bundledPublishedCoordinatesText();

}  // namespace superlens::core
