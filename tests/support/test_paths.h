#pragma once
// Paths of the test fixtures (tests/data) and resources, from compile definitions.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace superlens::test {

inline std::filesystem::path testData() { return SUPERLENS_TEST_DATA; }
inline std::filesystem::path referenceModel(const std::string& name) { return testData() / "reference" / name; }
inline std::filesystem::path resourcesDir() { return SUPERLENS_RESOURCES_DIR; }
inline std::filesystem::path binDir() { return SUPERLENS_BIN_DIR; }
inline std::filesystem::path demoModel() { return resourcesDir() / "models" / "demo"; }

inline nlohmann::json readJson(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return nlohmann::json::parse(ss.str());
}

// refs.json is 2 MB: parse it once per test binary.
inline const nlohmann::json& referenceAnswers() {
    static const nlohmann::json s_refs = readJson(testData() / "reference" / "refs.json");
    return s_refs;
}

inline const char* kReferenceModels[] = {"llama-planted", "mistral-bf16-sharded", "qwen2-f16-tied", "olmo-f32",
                                         "phi3-bf16-two-super-weights", "llama-two-in-one-row-mqa", "llama3-rope-scaled"};

}  // namespace superlens::test
