#pragma once
// Shared plumbing of superlens-cli: the command registry, exit codes, error
// reporting, JSON output, and model opening with full validation.

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "superlens/core/model/model.h"
#include "superlens/core/result.h"

namespace superlens::cli {

// Exit codes of the DESIGN.md contract.
inline constexpr int kExitOk = 0;
inline constexpr int kExitBadInput = 1;
inline constexpr int kExitUsage = 2;

struct CliContext {
    std::function<int()> run;  // set by the chosen subcommand's callback
};

// Prints one line "superlens-cli: error: <message>" to stderr; returns kExitBadInput.
int fail(const std::string& message);
int fail(const core::Error& error);

// Prints exactly one JSON document on stdout.
void printJson(const nlohmann::json& j);

// Opens and fully validates a model folder.
core::Result<std::shared_ptr<const core::Model>> openModel(const std::string& folder);

// Command registration: each command file provides one of these.
void addInfoCommand(CLI::App& app, CliContext& ctx);

}  // namespace superlens::cli
