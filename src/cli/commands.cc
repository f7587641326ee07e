#include "cli/commands.h"

namespace nexum::cli {
namespace {
int g_exit_code = 0;  // Written by the single subcommand that runs on the main thread.
}  // namespace

int exit_code() { return g_exit_code; }
void set_exit_code(int code) { g_exit_code = code; }

void register_commands(CLI::App& app) {
  (void)app;
}

}  // namespace nexum::cli
