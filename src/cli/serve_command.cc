// nexum serve: the store, outbox relay, command handler, projections, the
// loan saga and the HTTP admin API in one process (NexumService), until
// SIGINT/SIGTERM. Endpoints and config keys: doc/http_api.md.
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "nexum/service.h"

namespace nexum::cli {
namespace {

struct ServeArgs {
  std::string data;
  std::string http;
  std::string bus;
  std::string kafka;
  std::string token_file;
  std::string config;
  std::string client_id;
  bool dev = false;
  bool insecure_no_auth = false;
  // --cluster: one node of a cluster instead (doc/cluster.md).
  bool cluster = false;
  ClusterServeArgs cluster_args;
};

// Only these addresses keep the HTTP API on this machine.
bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

int run_serve(const ServeArgs& args) {
  if (args.cluster) {
    ClusterServeArgs c = args.cluster_args;
    c.kafka = args.kafka;
    c.data = args.data;
    c.http = args.http;
    return run_cluster_serve(c);
  }
  // Block the stop signals before any thread starts (threads inherit the
  // mask); this thread waits for one synchronously.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  ServiceOptions options;
  if (!args.config.empty()) {
    Status s = load_service_config(args.config, options);
    if (!s.ok()) {
      std::fprintf(stderr, "serve: %s\n", s.to_string().c_str());
      return 2;
    }
  }
  // Flags override the file.
  if (!args.data.empty()) options.data_dir = args.data;
  if (!args.http.empty()) {
    auto hp = parse_http_address(args.http);
    if (!hp) {
      std::fprintf(stderr, "serve: --http: %s\n", hp.error().message().c_str());
      return 2;
    }
    options.http.host = hp->first;
    options.http.port = hp->second;
  }
  if (!args.bus.empty()) options.bus.type = *parse_bus_type(args.bus);
  if (!args.kafka.empty()) options.bus.bootstrap_servers = args.kafka;
  if (!args.client_id.empty()) options.bus.client_id = args.client_id;
  if (!args.token_file.empty()) {
    Result<std::string> token = read_token_file(args.token_file);
    if (!token) {
      std::fprintf(stderr, "serve: --token-file: %s\n", token.error().to_string().c_str());
      return 2;
    }
    options.token = *token;
  }
  if (args.dev) options.dev_mode = true;
  // Without a token every mutating endpoint (/commands, /kafka/config) is
  // open to whoever reaches the address: only loopback may go without one.
  if (options.token.empty() && !is_loopback(options.http.host)) {
    if (!args.insecure_no_auth) {
      std::fprintf(stderr,
                   "serve: refusing to listen on %s without a token: anyone who reaches it could post commands "
                   "and reconfigure Kafka. Give --token-file FILE, listen on 127.0.0.1, or pass --insecure-no-auth "
                   "to accept that\n",
                   options.http.host.c_str());
      return 2;
    }
    spdlog::warn(
        "INSECURE: listening on {} with no token (--insecure-no-auth): every mutating endpoint is open to "
        "anyone who reaches this address",
        options.http.host);
  }
  if (options.data_dir.empty()) {
    std::fprintf(stderr, "serve: --data (or \"data\" in --config) is required\n");
    return 2;
  }
  if (options.bus.type == BusType::kKafka && options.bus.bootstrap_servers.empty()) {
    std::fprintf(stderr, "serve: --bus kafka needs --kafka BOOTSTRAP (or \"kafka\" in --config)\n");
    return 2;
  }

  Result<std::unique_ptr<NexumService>> service = NexumService::start(options);
  if (!service) {
    std::fprintf(stderr, "serve: %s\n", service.error().to_string().c_str());
    return 1;
  }
  // One line on stdout that scripts can wait for: the bound address.
  std::printf("listening on http://%s:%u\n", options.http.host.c_str(), static_cast<unsigned>((*service)->http_port()));
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("nexum serve: signal {}, shutting down", signal_number);
  Status s = (*service)->stop();
  if (!s.ok()) {
    std::fprintf(stderr, "serve: shutdown: %s\n", s.to_string().c_str());
    return 1;
  }
  return 0;
}

}  // namespace

void register_serve_command(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* sub = app.add_subcommand(
      "serve", "Run the store, relay, command handler, projections, sagas and the HTTP admin API until SIGINT/SIGTERM");
  sub->add_option("--data", args->data, "Store directory (created when missing)");
  sub->add_option("--http", args->http, "HTTP address host:port (default 127.0.0.1:8080; port 0 picks one)");
  sub->add_option("--bus", args->bus, "Event bus: memory, log or kafka (default memory)")
      ->check(CLI::IsMember({"memory", "log", "kafka"}));
  sub->add_option("--kafka", args->kafka, "Kafka bootstrap servers host:port[,host:port] (with --bus kafka)");
  sub->add_option("--client-id", args->client_id, "Kafka client.id (default nexum)");
  sub->add_option("--token-file", args->token_file, "File holding the bearer token mutating endpoints require");
  sub->add_option("--config", args->config, "JSON config file (keys: doc/http_api.md); flags override it");
  sub->add_flag("--dev", args->dev, "Development mode: POST /kafka/publish-test without a token");
  sub->add_flag("--insecure-no-auth", args->insecure_no_auth,
                "Listen beyond loopback without a token (every mutating endpoint open; logged as a warning)");
  sub->add_flag("--cluster", args->cluster,
                "Run as one node of a cluster on Kafka (--kafka, --data, --node-id; doc/cluster.md)");
  sub->add_option("--node-id", args->cluster_args.node_id, "With --cluster: this node's id");
  sub->add_option("--topic-prefix", args->cluster_args.topic_prefix,
                  "With --cluster: prefix of every topic and the group");
  sub->add_option("--advertise-http", args->cluster_args.advertise_http,
                  "With --cluster: the host:port other nodes name for this one (default: the --http address)");
  sub->add_option("--session-timeout-ms", args->cluster_args.session_timeout_ms,
                  "With --cluster: consumer-group session timeout (default 10000)");
  sub->add_option("--transfer-deadline-ms", args->cluster_args.transfer_deadline_ms,
                  "With --cluster: a cross-shard transfer's credit decided later than this after its debit is "
                  "refused and the money refunded (default 60000; doc/cluster.md §8)");
  sub->callback([args] { set_exit_code(run_serve(*args)); });
}

}  // namespace nexum::cli
