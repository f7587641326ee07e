// `nexum status`: what `nexum serve` on Kafka waits for and how far its
// command consumers lag, asked of the cluster itself (never joining a group,
// never committing), so it answers while serve runs and while it is down:
// whether a broker answers, whether each command topic exists, and per
// partition the group's committed offset, the high watermark and the lag.
// The same figures as /metrics and /kafka/status (bus/kafka_probe.h).
//
//   nexum status --kafka HOST:PORT [--config serve.json] [--json]
//
// --json prints the object /kafka/status has under "consumer_lag".
//
// Exit codes: 0 every command topic exists and Kafka answered; 1 bad
// argument; 2 Kafka did not answer; 3 a command topic is missing.
#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <boost/json/serialize.hpp>

#include "bus/kafka_probe.h"
#include "cli/commands.h"
#include "http/admin_api.h"
#include "nexum/bus_config.h"
#include "nexum/service.h"

namespace nexum::cli {
namespace {

using kafka_internal::ConsumerLag;
using kafka_internal::KafkaProbe;
using kafka_internal::PartitionLag;
using kafka_internal::ProbeSnapshot;

constexpr std::chrono::milliseconds kTimeout{5000};

struct StatusArgs {
  std::string kafka;
  std::string config;
  bool json = false;
};

int fail(const Status& s) {
  std::fprintf(stderr, "nexum status: %s\n", s.to_string().c_str());
  return s.code() == StatusCode::kInvalidArgument ? 1 : 2;
}

// The same object as /kafka/status's "consumer_lag" (doc/http_api.md).
void print_json(const ProbeSnapshot& p) {
  const std::string s = boost::json::serialize(http_internal::consumer_lag_json(p));
  std::printf("%s\n", s.c_str());
}

void print_table(const std::string& bootstrap, const ProbeSnapshot& p) {
  std::printf("kafka %s: a broker answered\n", bootstrap.c_str());
  std::printf("command consumers (per partition: the group's committed offset, the high watermark, the lag):\n");
  std::printf("  %-28s %9s %12s %12s %10s  %s\n", "topic", "partition", "committed", "high", "lag", "group");
  std::int64_t total = 0;
  for (const ConsumerLag& l : p.lag) {
    if (!l.exists) {
      std::printf("  %-28s MISSING: the cluster does not know this topic (its consumer takes nothing)\n",
                  l.topic.c_str());
      continue;
    }
    for (const PartitionLag& q : l.by_partition) {
      const std::string committed = q.committed >= 0 ? std::to_string(q.committed) : "-";
      std::printf("  %-28s %9d %12s %12lld %10lld  %s\n", l.topic.c_str(), q.partition, committed.c_str(),
                  static_cast<long long>(q.high), static_cast<long long>(q.lag), l.group.c_str());
    }
    total += l.lag;
  }
  std::printf("total lag: %lld command message(s) not yet committed\n", static_cast<long long>(total));
}

int run_status(const StatusArgs& a) {
  ServiceOptions options;
  if (!a.config.empty()) {
    Status s = load_service_config(a.config, options);
    if (!s.ok()) return fail(s);
  }
  if (!a.kafka.empty()) options.bus.bootstrap_servers = a.kafka;
  if (options.bus.bootstrap_servers.empty()) {
    return fail(
        Status::invalid_argument("--kafka: the cluster's bootstrap servers are required (or \"kafka\" in --config)"));
  }
  Result<std::unique_ptr<KafkaProbe>> probe =
      KafkaProbe::create(kafka_bus_options(options.bus), command_groups(options.bus), kTimeout);
  if (!probe) return fail(probe.error());
  const ProbeSnapshot p = (*probe)->refresh();
  if (!p.reachable.ok()) return fail(p.reachable);
  if (!p.lag_up) return fail(Status::unavailable(p.lag_error));
  if (a.json) {
    print_json(p);
  } else {
    print_table(options.bus.bootstrap_servers, p);
  }
  return p.missing_topics.empty() ? 0 : 3;
}

}  // namespace

void register_status_command(CLI::App& app) {
  auto args = std::make_shared<StatusArgs>();
  CLI::App* sub = app.add_subcommand(
      "status",
      "Kafka as `nexum serve` sees it: command topics present, consumer lag per partition (committed offset, "
      "high watermark)");
  sub->add_option("--kafka", args->kafka, "Kafka bootstrap servers host:port[,host:port]");
  sub->add_option("--config", args->config,
                  "serve's JSON config file (consumer group, Kafka properties); --kafka overrides");
  sub->add_flag("--json", args->json, "One JSON object");
  sub->callback([args] { set_exit_code(run_status(*args)); });
}

}  // namespace nexum::cli
