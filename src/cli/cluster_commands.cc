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
#include "cluster/cluster_node.h"
#include "cluster/cluster_status_json.h"
#include "cluster/cluster_topics.h"
#include "nexum/http_server.h"

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

  cluster::ClusterOptions options;
  options.bootstrap_servers = args.kafka;
  options.data_dir = args.data;
  options.node_id = args.node_id;
  options.topic_prefix = args.topic_prefix;
  if (args.session_timeout_ms > 0) options.session_timeout = std::chrono::milliseconds(args.session_timeout_ms);
  auto node = cluster::ClusterNode::start(options);
  if (!node) {
    std::fprintf(stderr, "serve --cluster: %s\n", node.error().to_string().c_str());
    return 1;
  }
  const cluster::ClusterStatus first = (*node)->status();
  std::printf("cluster node %s: %d shards, group %s\n", first.node_id.c_str(), first.shard_count, first.group.c_str());
  // GET /cluster and GET /health (doc/cluster.md §5); no other endpoint in cluster mode yet.
  std::unique_ptr<HttpServer> http;
  if (!args.http.empty()) {
    auto address = parse_http_address(args.http);
    if (!address) {
      std::fprintf(stderr, "serve --cluster: --http: %s\n", address.error().message().c_str());
      return 2;
    }
    HttpServerOptions http_options;
    http_options.host = address->first;
    http_options.port = address->second;
    cluster::ClusterNode* n = node->get();
    auto server = HttpServer::start(http_options, [n](const HttpRequest& request) {
      if (request.method != "GET") return HttpResponse::error(405, "cluster mode serves GET /cluster and GET /health");
      if (request.path == "/cluster") return HttpResponse::json(200, cluster::cluster_status_json(n->status()));
      if (request.path == "/health") {
        Status h = n->health();
        return h.ok() ? HttpResponse::json(200, R"({"status":"ok"})") : HttpResponse::error(503, h.to_string());
      }
      return HttpResponse::error(404, "cluster mode serves GET /cluster and GET /health");
    });
    if (!server) {
      std::fprintf(stderr, "serve --cluster: --http: %s\n", server.error().to_string().c_str());
      return 1;
    }
    http = std::move(server).value();
    std::printf("listening on http://%s:%u\n", http_options.host.c_str(), static_cast<unsigned>(http->port()));
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
  if (http) http->stop();
  (*node)->stop();
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
