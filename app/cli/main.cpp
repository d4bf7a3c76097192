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
        // One line, naming what was wrong. An unknown first word is named as
        // such (CLI11 alone would only say that a subcommand is required).
        std::string what = e.what();
        if (argc > 1 && argv[1][0] != '-') {
            bool known = false;
            std::string names;
            for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
                names += (names.empty() ? "" : ", ") + sub->get_name();
                known = known || sub->get_name() == argv[1];
            }
            if (!known) what = "unknown command '" + std::string(argv[1]) + "' (commands: " + names + ")";
        }
        std::cerr << "superlens-cli: usage error: " << superlens::core::oneLine(what) << " (run 'superlens-cli --help' or 'superlens-cli COMMAND --help')"
                  << std::endl;
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
