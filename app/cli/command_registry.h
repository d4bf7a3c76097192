#pragma once
// Self-registering subcommands: a cmd_<name>.cpp file defines a static
// CommandRegistration, and main() adds every registered command in `order`.

#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace superlens::cli {

struct CliContext;

struct CommandEntry {
    int order;  // position in --help (DESIGN.md order)
    std::function<void(CLI::App& app, CliContext& ctx)> add;
};

std::vector<CommandEntry>& commandRegistry();

struct CommandRegistration {
    CommandRegistration(int order, std::function<void(CLI::App&, CliContext&)> add) {
        commandRegistry().push_back({order, std::move(add)});
    }
};

}  // namespace superlens::cli
