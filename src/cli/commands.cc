#include "cli/commands.h"

namespace nexum::cli {
namespace {
int g_exit_code = 0;  // Written by the single subcommand that runs on the main thread.
}  // namespace

int exit_code() { return g_exit_code; }
void set_exit_code(int code) { g_exit_code = code; }

void register_commands(CLI::App& app) {
  register_store_commands(app);
  register_bench_command(app);
  register_kafka_mock_command(app);
  register_demo_command(app);
  register_saga_commands(app);
  register_serve_command(app);
  register_cluster_commands(app);
  register_project_command(app);
  register_projection_commands(app);
  register_dlq_command(app);
  register_status_command(app);
}

}  // namespace nexum::cli
