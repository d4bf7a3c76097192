#include "superlens/core/analysis/stopwords.h"
#include "superlens/core/model/mapped_file.h"

#include <set>

#include "superlens/core/analysis/bundled_resources.h"

namespace superlens::core {

std::vector<std::string> parseWordList(std::string_view text) {
    std::vector<std::string> words;
    std::set<std::string> seen;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.remove_suffix(1);
        while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front()))) line.remove_prefix(1);
        if (line.empty() || line.front() == '#') continue;
        std::string w(line);
        if (seen.insert(w).second) words.push_back(std::move(w));
    }
    return words;
}

std::vector<std::string> englishStopwords() { return parseWordList(bundledEnglishStopwordsText()); }

Result<std::vector<std::string>> loadWordList(const std::string& path) {
    auto text = readRegularFile(path, kMaxConfigBytes);
    if (!text) return text.error();
    auto words = parseWordList(*text);
    if (words.empty()) return Error{path + ": the word list has no words (one word per line, '#' comments)"};
    return words;
}

}  // namespace superlens::core
