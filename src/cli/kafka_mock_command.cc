// nexum kafka-mock: runs librdkafka's in-process mock Kafka cluster until
// SIGINT/SIGTERM, so the Kafka path can be exercised without a real broker.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "bus/kafka_mock_cluster.h"
#include "cli/commands.h"

namespace nexum::cli {
namespace {

struct KafkaMockArgs {
  int brokers = 3;
  std::string bootstrap_file;
};

int run_kafka_mock(const KafkaMockArgs& args) {
  // Block the stop signals before librdkafka starts its threads (they
  // inherit the mask), then wait for one synchronously on this thread.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  Result<std::unique_ptr<KafkaMockCluster>> cluster = KafkaMockCluster::create(args.brokers);
  if (!cluster) {
    std::fprintf(stderr, "kafka-mock: %s\n", cluster.error().to_string().c_str());
    return 1;
  }
  const std::string bootstrap = (*cluster)->bootstrap_servers();
  if (!args.bootstrap_file.empty()) {
    // Written to a temporary name and renamed, so a watcher never reads half.
    const std::string tmp = args.bootstrap_file + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << bootstrap << '\n';
      if (!out.flush()) {
        std::fprintf(stderr, "kafka-mock: cannot write %s\n", tmp.c_str());
        return 1;
      }
    }
    if (std::rename(tmp.c_str(), args.bootstrap_file.c_str()) != 0) {
      std::fprintf(stderr, "kafka-mock: cannot write %s\n", args.bootstrap_file.c_str());
      return 1;
    }
  }
  std::printf("%s\n", bootstrap.c_str());
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::fprintf(stderr, "kafka-mock: signal %d, shutting down\n", signal_number);
  return 0;
}

}  // namespace

void register_kafka_mock_command(CLI::App& app) {
  auto args = std::make_shared<KafkaMockArgs>();
  CLI::App* sub = app.add_subcommand(
      "kafka-mock",
      "Run an in-process mock Kafka cluster (librdkafka) until SIGINT/SIGTERM; prints its bootstrap servers");
  sub->add_option("--brokers", args->brokers, "Number of brokers (default 3)")->check(CLI::Range(1, 16));
  sub->add_option("--bootstrap-file", args->bootstrap_file, "Also write the bootstrap servers to this file");
  sub->callback([args] { set_exit_code(run_kafka_mock(*args)); });
}

}  // namespace nexum::cli
