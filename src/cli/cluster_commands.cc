// `nexum serve --cluster` (one node of a cluster, until SIGINT/SIGTERM) and
// `nexum cluster create-topics`. doc/cluster.md.
#include <signal.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cluster/cluster_topics.h"
#include "nexum/service.h"

namespace nexum::cli {

int run_cluster_serve(const ClusterServeArgs& args) {
  if (args.kafka.empty()) {
    std::fprintf(stderr, "serve --cluster: --kafka BOOTSTRAP is required\n");
    return 2;
  }
  if (args.data.empty()) {
    std::fprintf(stderr, "serve --cluster: --data DIR is required\n");
    return 2;
  }
  if (args.node_id.empty()) {
    std::fprintf(stderr, "serve --cluster: --node-id N is required\n");
    return 2;
  }
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // The composition root builds the node (service::System in cluster mode)
  // and NexumService its admin API (doc/cluster.md §5).
  ServiceOptions options;
  options.data_dir = args.data;
  options.cluster.enabled = true;
  options.cluster.bootstrap_servers = args.kafka;
  options.cluster.node_id = args.node_id;
  options.cluster.topic_prefix = args.topic_prefix;
  options.cluster.advertised_http = args.advertise_http;
  if (args.session_timeout_ms > 0) options.cluster.session_timeout = std::chrono::milliseconds(args.session_timeout_ms);
  if (args.transfer_deadline_ms < 0) {
    std::fprintf(stderr, "serve --cluster: --transfer-deadline-ms: must be positive, got %d\n",
                 args.transfer_deadline_ms);
    return 2;
  }
  if (args.transfer_deadline_ms > 0) {
    options.cluster.transfer_deadline = std::chrono::milliseconds(args.transfer_deadline_ms);
  }
  options.serve_http = !args.http.empty();
  if (options.serve_http) {
    auto address = parse_http_address(args.http);
    if (!address) {
      std::fprintf(stderr, "serve --cluster: --http: %s\n", address.error().message().c_str());
      return 2;
    }
    options.http.host = address->first;
    options.http.port = address->second;
  }
  auto node = NexumService::start(options);
  if (!node) {
    std::fprintf(stderr, "serve --cluster: %s\n", node.error().to_string().c_str());
    return 1;
  }
  std::printf("cluster node %s: group %snexum.cluster\n", args.node_id.c_str(), args.topic_prefix.c_str());
  if (options.serve_http) {
    std::printf("listening on http://%s:%u\n", options.http.host.c_str(), static_cast<unsigned>((*node)->http_port()));
  }
  std::fflush(stdout);

  int exit_code = 0;
  while (true) {
    const timespec tick{0, 200 * 1000 * 1000};
    const int sig = sigtimedwait(&stop_signals, nullptr, &tick);
    if (sig > 0) {
      spdlog::info("nexum serve --cluster: signal {}, handing the shards over", sig);
      break;
    }
    Status health = (*node)->health();
    if (!health.ok()) {
      std::fprintf(stderr, "serve --cluster: %s\n", health.to_string().c_str());
      exit_code = 3;
      break;
    }
  }
  Status stopped = (*node)->stop();
  if (!stopped.ok()) spdlog::warn("nexum serve --cluster: stopping: {}", stopped.to_string());
  return exit_code;
}

void register_cluster_commands(CLI::App& app) {
  CLI::App* cluster = app.add_subcommand("cluster", "Cluster mode on Kafka (doc/cluster.md)");
  cluster->require_subcommand(1);
  auto create = std::make_shared<cluster::CreateTopicsOptions>();
  CLI::App* sub = cluster->add_subcommand(
      "create-topics", "Create the command topics and the changelog with one partition per shard, and the DLQ");
  sub->add_option("--kafka", create->bootstrap_servers, "Kafka bootstrap servers host:port[,host:port]")->required();
  sub->add_option("--shards", create->shards,
                  "Partitions per command topic and changelog (fixed for the cluster's life)")
      ->check(CLI::Range(1, 10000));
  sub->add_option("--replication", create->replication, "Replication factor (default 3; min.insync.replicas 2)")
      ->check(CLI::Range(1, 32));
  sub->add_option("--topic-prefix", create->topic_prefix, "Prefix of every topic name (default none)");
  sub->callback([create] {
    Status s = cluster::create_cluster_topics(*create);
    if (!s.ok()) {
      std::fprintf(stderr, "cluster create-topics: %s\n", s.to_string().c_str());
      set_exit_code(1);
      return;
    }
    std::printf("topics ready: %d shards\n", create->shards);
  });
}

}  // namespace nexum::cli
