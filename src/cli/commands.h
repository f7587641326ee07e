// Subcommand registration for the nexum program. Each capability adds its
// own `register_*` function in its own file and calls it from commands.cc.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace nexum::cli {

void register_commands(CLI::App& app);

// `nexum kafka-mock`: src/cli/kafka_mock_command.cc.
void register_kafka_mock_command(CLI::App& app);

// `nexum log|read|verify`: src/cli/store_commands.cc.
void register_store_commands(CLI::App& app);

// `nexum bench append|replay|...`: src/cli/bench_command.cc.
void register_bench_command(CLI::App& app);

// `nexum serve`: src/cli/serve_command.cc.
void register_serve_command(CLI::App& app);

// `nexum serve --cluster ...`: one node of a cluster (src/cli/cluster_commands.cc).
struct ClusterServeArgs {
  std::string kafka;
  std::string data;
  std::string node_id;
  std::string topic_prefix;
  std::string http;              // empty: no HTTP; else host:port of GET /cluster, /health, /streams/{stream}
  std::string advertise_http;    // the address other nodes name for this one; empty: the bound one
  int session_timeout_ms = 0;    // 0: the default
  int transfer_deadline_ms = 0;  // 0: the default (cross-shard transfers, doc/cluster.md §8)
};
int run_cluster_serve(const ClusterServeArgs& args);

// `nexum cluster create-topics`: src/cli/cluster_commands.cc.
void register_cluster_commands(CLI::App& app);

// `nexum project`: global read models over a cluster's changelog (src/cli/project_command.cc).
void register_project_command(CLI::App& app);

// `nexum sagas`: src/cli/saga_commands.cc.
void register_saga_commands(CLI::App& app);

// `nexum demo`: src/cli/demo_command.cc.
void register_demo_command(CLI::App& app);

// `nexum projections|replay|query`: src/cli/projection_commands.cc.
void register_projection_commands(CLI::App& app);

// `nexum dlq list|show|redrive`: src/cli/dlq_command.cc.
void register_dlq_command(CLI::App& app);

// `nexum status`: src/cli/status_command.cc.
void register_status_command(CLI::App& app);

// The exit code the chosen subcommand set (0 when none ran).
int exit_code();
void set_exit_code(int code);

}  // namespace nexum::cli
