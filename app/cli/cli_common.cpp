#include "cli_common.h"

#include <cstdio>
#include <iostream>

namespace superlens::cli {

int fail(const std::string& message) {
    std::fflush(stdout);
    std::cerr << "superlens-cli: error: " << message << std::endl;
    return kExitBadInput;
}

int fail(const core::Error& error) { return fail(error.message); }

void printJson(const nlohmann::json& j) {
    // Replace invalid UTF-8 (e.g. a partial byte-level token) instead of throwing.
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
}

core::Result<std::shared_ptr<const core::Model>> openModel(const std::string& folder) {
    return core::Model::open(folder);
}

}  // namespace superlens::cli
