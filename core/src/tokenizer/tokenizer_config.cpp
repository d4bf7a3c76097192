#include "tokenizer/tokenizer_config.h"
#include "superlens/core/model/mapped_file.h"

#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer_json_reader.h"

namespace superlens::core {

namespace {

// Tokens appear as "<s>" or, in newer files, {"content": "<s>", ...}.
std::optional<std::string> tokenName(const nlohmann::json& root, const char* key) {
    const auto it = root.find(key);
    if (it == root.end()) return std::nullopt;
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object()) {
        const auto content = it->find("content");
        if (content != it->end() && content->is_string()) return content->get<std::string>();
    }
    return std::nullopt;
}

std::optional<bool> flag(const nlohmann::json& root, const char* key) {
    const auto it = root.find(key);
    if (it == root.end() || !it->is_boolean()) return std::nullopt;
    return it->get<bool>();
}

}  // namespace

Result<TokenizerConfig> readTokenizerConfig(const std::filesystem::path& file) {
    TokenizerConfig config;
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) return config;
    auto bytes = readRegularFile(file, kMaxConfigBytes);
    if (!bytes) return bytes.error();
    const nlohmann::json root = nlohmann::json::parse(bytes.value(), nullptr, false);
    if (root.is_discarded()) return Error{file.string() + ": invalid JSON"};
    if (!root.is_object()) return Error{file.string() + ": top level is not a JSON object"};
    config.addBosToken = flag(root, "add_bos_token");
    config.addEosToken = flag(root, "add_eos_token");
    config.bosToken = tokenName(root, "bos_token");
    config.eosToken = tokenName(root, "eos_token");
    return config;
}

}  // namespace superlens::core
