#include "superlens/core/analysis/bundled_resources.h"

namespace superlens::core {
namespace resources {
// Defined in the generated analysis_resources.cpp (see sources.cmake).
extern const std::string_view kDefaultPrompts;
extern const std::string_view kEnglishStopwords;
extern const std::string_view kZeroShotTasks;
extern const std::string_view kPublishedCoordinates;
}  // namespace resources

std::string_view bundledDefaultPromptsText() { return resources::kDefaultPrompts; }
std::string_view bundledEnglishStopwordsText() { return resources::kEnglishStopwords; }
std::string_view bundledZeroShotTasksText() { return resources::kZeroShotTasks; }
std::string_view bundledPublishedCoordinatesText() { return resources::kPublishedCoordinates; }

std::vector<PromptLine> parsePromptLines(std::string_view text) {
    std::vector<PromptLine> out;
    int number = 0;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        ++number;
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
        if (line.empty() || line.front() == '#') continue;
        out.push_back({number, std::string(line)});
    }
    return out;
}

std::vector<std::string> bundledDefaultPrompts() {
    std::vector<std::string> out;
    for (auto& p : parsePromptLines(resources::kDefaultPrompts)) out.push_back(std::move(p.text));
    return out;
}

}  // namespace superlens::core
