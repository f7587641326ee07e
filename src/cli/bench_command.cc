// `nexum bench append|replay|load`: end-to-end benchmarks, each printing one
// table of ours vs a baseline measured in the same run.
#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "drivers/cluster_drivers.h"
#include "drivers/command_drivers.h"
#include "drivers/projection_drivers.h"
#include "drivers/relay_drivers.h"
#include "drivers/store_drivers.h"

namespace nexum::cli {
namespace {

void report(const std::string& title, const Result<std::vector<bench::BenchRow>>& rows) {
  if (!rows) {
    std::fprintf(stderr, "nexum bench: %s\n", rows.error().to_string().c_str());
    set_exit_code(1);
    return;
  }
  bench::print_table(title, *rows);
}

}  // namespace

void register_bench_command(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "End-to-end benchmarks with a same-run baseline");
  bench->require_subcommand(1);

  auto append = std::make_shared<bench::AppendBenchOptions>();
  CLI::App* a = bench->add_subcommand("append", "Durable appends from many callers vs raw RocksDB batched sync");
  a->add_option("--data", append->dir, "Scratch directory")->required();
  a->add_option("--callers", append->callers, "Concurrent callers (default 64)");
  a->add_option("--streams", append->streams, "Distinct streams (default 10000)");
  a->add_option("--events", append->events, "Events to append (default 200000)");
  a->add_option("--payload", append->payload_bytes, "Payload bytes per event (default 300)");
  a->add_option("--async", append->async_in_flight, "One thread with this many append_async calls in flight");
  a->add_flag("--buffered", append->buffered, "Durability::kBuffered (WAL without fsync) instead of kSync");
  a->callback([append] { report("nexum bench append", bench::run_append_bench(*append)); });

  auto replay = std::make_shared<bench::ReplayBenchOptions>();
  CLI::App* r = bench->add_subcommand("replay", "Decode + fold the global log vs raw RocksDB iteration");
  r->add_option("--data", replay->dir, "Store directory, filled up to --events when shorter")->required();
  r->add_option("--events", replay->events, "Events in the log (default 5000000)");
  r->add_option("--accounts", replay->accounts, "Accounts (default 10000)");
  r->add_flag("--no-settle{false}", replay->settle,
              "Measure at once, without waiting for the compactions a fill leaves running");
  r->callback([replay] { report("nexum bench replay", bench::run_replay_bench(*replay)); });

  auto relay = std::make_shared<bench::RelayBenchOptions>();
  CLI::App* rl = bench->add_subcommand(
      "relay", "Outbox relay to Kafka (the mock cluster, or --kafka) vs raw librdkafka produce to the same cluster");
  rl->add_option("--data", relay->dir, "Store directory, filled up to --events when shorter")->required();
  rl->add_option("--events", relay->events, "Events to relay (default 200000)");
  rl->add_option("--partitions", relay->partitions, "Partitions per topic (default 6)");
  rl->add_option("--kafka", relay->kafka,
                 "A real cluster's bootstrap list (e.g. \"$(./dev kafka status --bootstrap)\"); default: an "
                 "in-process mock cluster");
  rl->add_option("--replication-factor", relay->replication_factor,
                 "Replication factor of the topics created on --kafka (default 3, with min.insync.replicas 2)")
      ->check(CLI::Range(1, 32));
  rl->callback([relay] { report("nexum bench relay", bench::run_relay_bench(*relay)); });

  auto load = std::make_shared<bench::LoadBenchOptions>();
  CLI::App* l = bench->add_subcommand("load", "Warm loads of a 100-event aggregate: p50/p99");
  l->add_option("--data", load->dir, "Scratch directory")->required();
  l->add_option("--loads", load->loads, "Loads measured (default 20000)");
  l->callback([load] { report("nexum bench load", bench::run_load_bench(*load)); });

  auto commands = std::make_shared<bench::CommandBenchOptions>();
  CLI::App* c = bench->add_subcommand(
      "commands", "Kafka commands in -> durable outcomes -> events out, vs raw librdkafka and the memory bus");
  c->add_option("--data", commands->dir, "Scratch directory (one store per run under it)")->required();
  c->add_option("--bus", commands->bus, "kafka (the Kafka path and both baselines) or memory (default kafka)")
      ->check(CLI::IsMember({"memory", "kafka"}));
  c->add_option("--kafka", commands->kafka, "Bootstrap servers of a real cluster (default: librdkafka's mock cluster)");
  c->add_option("--commands", commands->commands, "Measured commands (default 200000)");
  c->add_option("--accounts", commands->accounts, "Accounts (default 10000)");
  c->add_option("--rate", commands->rate, "Commands/s offered, open loop; 0 = as fast as possible (default 0)");
  c->add_option("--partitions", commands->partitions, "Partitions per topic it creates (default 12)");
  c->add_option("--latency-log", commands->latency_log,
                "Write each command's produce time and latency of the Kafka runs to FILE.max and FILE.half");
  c->callback([commands] { report("nexum bench commands", bench::run_command_bench(*commands)); });

  auto cluster = std::make_shared<bench::ClusterBenchOptions>();
  CLI::App* cl = bench->add_subcommand(
      "cluster",
      "Cluster mode on a real Kafka: commands/s and p99 vs raw produce->consume, failover after kill -9, restore "
      "from the changelog vs raw consume");
  cl->add_option("--data", cluster->dir, "Scratch directory (one data directory per node under it)")->required();
  cl->add_option("--kafka", cluster->kafka,
                 "Bootstrap servers of a real cluster (\"$(./dev kafka status --bootstrap)\")")
      ->required();
  cl->add_option("--nodes", cluster->nodes, "Nodes (default 3)")->check(CLI::Range(1, 3));
  cl->add_option("--shards", cluster->shards,
                 "Shards: partitions of every command topic and the changelog (default 12)")
      ->check(CLI::Range(1, 1000));
  cl->add_option("--accounts", cluster->accounts, "Accounts (default 1200)");
  cl->add_option("--commands", cluster->commands, "Measured commands (default 20000)");
  cl->add_option("--rate", cluster->rate, "Commands/s offered, open loop; 0 = as fast as possible (default 0)");
  cl->add_option("--failover-rate", cluster->failover_rate, "Commands/s offered during the failover (default 300)");
  cl->add_option("--session-timeout-ms", cluster->session_timeout_ms, "The group's session timeout (default 6000)");
  cl->callback([cluster] { report("nexum bench cluster", bench::run_cluster_bench(*cluster)); });

  auto projections = std::make_shared<bench::ProjectionBenchOptions>();
  CLI::App* p = bench->add_subcommand("projections", "Rebuild all built-in projections vs raw scan; live lag");
  p->add_option("--data", projections->dir, "Store directory, filled with banking events up to --events")->required();
  p->add_option("--events", projections->events, "Events in the log (default 5000000)");
  p->add_option("--live-rate", projections->live_rate, "Live phase: events appended per second (default 50000)");
  p->add_option("--live-seconds", projections->live_seconds, "Live phase duration, 0 skips it (default 10)");
  p->add_option("--only", projections->only, "Rebuild only this built-in projection (default: all four)");
  p->callback([projections] { report("nexum bench projections", bench::run_projection_bench(*projections)); });
}

}  // namespace nexum::cli
