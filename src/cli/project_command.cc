// `nexum project`: the global read models — the built-in projections over
// the changelog of every shard of a cluster, into a read-model store of
// their own, queryable with `nexum query --data DIR` and, with --http, over
// HTTP. doc/cluster.md §9.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cluster/global_read_models.h"
#include "http/admin_api.h"
#include "nexum/http_server.h"

namespace nexum::cli {
namespace {

struct ProjectArgs {
  std::string kafka;
  std::string data;
  std::string topic_prefix;
  std::string http;  // empty: no HTTP
  bool until_caught_up = false;
  int timeout_s = 600;  // --until-caught-up: give up after this
};

int run_project(const ProjectArgs& args) {
  // Block the stop signals before librdkafka starts its threads.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  cluster::GlobalReadModelsOptions options;
  options.bootstrap_servers = args.kafka;
  options.topic_prefix = args.topic_prefix;
  options.data_dir = args.data;
  auto models = cluster::GlobalReadModels::open(options);
  if (!models) {
    std::fprintf(stderr, "project: %s\n", models.error().to_string().c_str());
    return models.error().code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::unique_ptr<HttpServer> server;
  if (!args.http.empty()) {
    auto address = parse_http_address(args.http);
    if (!address) {
      std::fprintf(stderr, "project: --http: %s\n", address.error().message().c_str());
      return 2;
    }
    HttpServerOptions http;
    http.host = address->first;
    http.port = address->second;
    cluster::GlobalReadModels* m = models->get();
    auto started = HttpServer::start(
        http, [m](const HttpRequest& request) { return http_internal::route_global_read_models(*m, request); });
    if (!started) {
      std::fprintf(stderr, "project: --http %s: %s\n", args.http.c_str(), started.error().to_string().c_str());
      return 1;
    }
    server = std::move(started).value();
  }
  Status s = (*models)->start();
  if (!s.ok()) {
    std::fprintf(stderr, "project: %s\n", s.to_string().c_str());
    return 1;
  }
  std::printf("projecting %s (%d shards) into %s\n", (*models)->changelog_topic().c_str(), (*models)->shard_count(),
              args.data.c_str());
  if (server) std::printf("listening on http://%s:%u\n", server->host().c_str(), static_cast<unsigned>(server->port()));
  std::fflush(stdout);

  int exit_code = 0;
  if (args.until_caught_up) {
    if (!(*models)->wait_caught_up(std::chrono::seconds(args.timeout_s))) {
      Status h = (*models)->health();
      std::fprintf(
          stderr, "project: %s\n",
          h.ok() ? ("not caught up within " + std::to_string(args.timeout_s) + " s").c_str() : h.to_string().c_str());
      exit_code = 1;
    }
  } else {
    while (true) {
      const timespec tick{0, 200 * 1000 * 1000};
      const int sig = sigtimedwait(&stop_signals, nullptr, &tick);
      if (sig > 0) {
        spdlog::info("nexum project: signal {}, checkpointing and stopping", sig);
        break;
      }
      Status health = (*models)->health();
      if (!health.ok()) {
        std::fprintf(stderr, "project: %s\n", health.to_string().c_str());
        exit_code = 3;
        break;
      }
    }
  }
  if (server) server->stop();
  (*models)->stop();
  std::int64_t admitted = 0, repeated = 0, fenced = 0, after_hole = 0;
  for (const cluster::ShardFeed& f : (*models)->shards()) {
    admitted += f.admitted;
    repeated += f.repeated;
    fenced += f.fenced;
    after_hole += f.after_hole;
  }
  std::printf(
      "read-model log at position %lld; this run: %lld outcomes admitted, %lld repeats skipped, %lld fenced, %lld "
      "after a hole\n",
      static_cast<long long>((*models)->store().last_position()), static_cast<long long>(admitted),
      static_cast<long long>(repeated), static_cast<long long>(fenced), static_cast<long long>(after_hole));
  return exit_code;
}

}  // namespace

void register_project_command(CLI::App& app) {
  auto args = std::make_shared<ProjectArgs>();
  CLI::App* p = app.add_subcommand(
      "project", "Global read models: the built-in projections over every shard's changelog (doc/cluster.md §9)");
  p->add_option("--kafka", args->kafka, "Kafka bootstrap servers host:port[,host:port]")->required();
  p->add_option("--data", args->data, "Read-model directory (its own store; created when missing)")->required();
  p->add_option("--topic-prefix", args->topic_prefix, "The cluster's topic prefix (default none)");
  p->add_option("--http", args->http,
                "Serve GET /health, /changelog, /projections[/{name}[/{key}]] on HOST:PORT (default: no HTTP)");
  p->add_flag("--until-caught-up", args->until_caught_up,
              "Stop once every shard is read to its end and the read models hold it (default: follow until "
              "SIGINT/SIGTERM)");
  p->add_option("--timeout", args->timeout_s, "With --until-caught-up: fail after this many seconds (default 600)")
      ->check(CLI::Range(1, 86400));
  p->callback([args] { set_exit_code(run_project(*args)); });
}

}  // namespace nexum::cli
