// superlens-cli: the scriptable front end over superlens_core.
// Exit 0 on success, 1 for bad input (model, text, edit, cache), 2 for bad
// usage; errors are one stderr line; --json prints exactly one document.

#include <algorithm>
#include <exception>
#include <iostream>
#include <new>

#include "cli_common.h"

int main(int argc, char** argv) {
    using namespace superlens::cli;
    CLI::App app{"SuperLens: find, toggle and plot the super weights and massive activations of LLMs", "superlens-cli"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "superlens-cli 0.1.0");
    CliContext ctx;
    auto commands = commandRegistry();
    std::stable_sort(commands.begin(), commands.end(), [](const CommandEntry& a, const CommandEntry& b) { return a.order < b.order; });
    for (const auto& c : commands) c.add(app, ctx);

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::cerr << "superlens-cli: usage error: " << e.what() << "\n(run 'superlens-cli --help' or 'superlens-cli COMMAND --help')" << std::endl;
        return kExitUsage;
    }
    if (!ctx.run) {
        std::cerr << app.help() << std::endl;
        return kExitUsage;
    }
    try {
        return ctx.run();
    } catch (const std::bad_alloc&) {
        return fail("out of memory");
    } catch (const std::exception& e) {
        return fail(std::string("internal error: ") + e.what());
    }
}
