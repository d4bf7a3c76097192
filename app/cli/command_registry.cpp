#include "command_registry.h"

namespace superlens::cli {

std::vector<CommandEntry>& commandRegistry() {
    static std::vector<CommandEntry> s_entries;
    return s_entries;
}

}  // namespace superlens::cli
