// `nexum demo`: a small bank run end to end, on the running system the
// composition root builds (service::System, as `nexum serve` does). Command
// envelopes are published to the command topics of a bus; NexumCommandHandler
// decides them against the store; the OutboxRelay carries every stored event
// back to the bus; LoanApplicationSaga follows the log and issues loan
// commands of its own.
// Then a report: outcomes by action and reason, loan applications, events
// per topic, balances recomputed by replaying account streams, throughput,
// where the data is.
// Workload and report: doc/commands.md, "nexum demo".
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <boost/json/object.hpp>

#include "bus/kafka_mock_cluster.h"
#include "cli/commands.h"
#include "cli/demo_workload.h"
#include "nexum/aggregates.h"
#include "nexum/bus.h"
#include "nexum/bus_config.h"
#include "nexum/command_handler.h"
#include "nexum/saga_engine.h"
#include "nexum/store.h"
#include "nexum/topics.h"
#include "service/system.h"

namespace nexum::cli {
namespace {

using boost::json::object;
using Clock = std::chrono::steady_clock;

// How far the demo moves the saga engine's clock at the end, past the loan
// saga's 7-day wait for an account.
constexpr auto kTimeTravel = std::chrono::hours(24 * 8);

struct DemoArgs {
  std::string data;
  int customers = 50;
  std::string bus = "memory";
  std::string kafka;
  int workers = 8;
};

// The balance of account `id` recomputed from its stream: the opening
// balance, then every movement (or the stated balance of a host's update).
Result<Money> replay_balance(EventStore& store, const std::string& id) {
  Result<std::vector<RecordedEvent>> events = store.read_stream("account-" + id, 0, 1u << 20);
  if (!events) return events.error();
  std::optional<Money> balance;
  for (const RecordedEvent& r : *events) {
    const object& d = r.event.data;
    auto text = [&](const char* k) {
      return d.contains(k) && d.at(k).is_string() ? std::string(d.at(k).get_string()) : std::string();
    };
    if (r.event.event_type == "account_created") {
      NEXUM_ASSIGN_OR_RETURN(balance, Money::parse(text("balance"), text("currency")));
    } else if (r.event.event_type == "account_updated" && balance) {
      const std::string code(balance->currency().code());
      Result<Money> m = Money::parse(text(d.contains("amount") ? "amount" : "balance"), code);
      if (!m) return m.error();
      if (!d.contains("amount")) {
        balance = *m;
      } else {
        NEXUM_ASSIGN_OR_RETURN(balance, text("direction") == "credit" ? balance->add(*m) : balance->subtract(*m));
      }
    }
  }
  if (!balance) return Status::not_found("account " + id + " has no account_created");
  return *balance;
}

std::string make_temp_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "nexum-demo-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) return {};
  return tmpl;
}

template <typename Map>
std::string join_counts(const Map& m) {
  std::string s;
  for (const auto& [k, v] : m) {
    if (!s.empty()) s += ", ";
    s += k + " " + std::to_string(v);
  }
  return s.empty() ? "-" : s;
}

int run_demo(const DemoArgs& args) {
  if (args.customers < 1) {
    std::fprintf(stderr, "nexum demo: --customers must be at least 1\n");
    return 2;
  }
  const std::string dir = args.data.empty() ? make_temp_dir() : args.data;
  if (dir.empty()) {
    std::fprintf(stderr, "nexum demo: cannot create a temporary directory\n");
    return 1;
  }
  // The running system, built by the composition root (what `nexum serve`
  // runs, without the projections and the HTTP API).
  service::SystemOptions options;
  options.data_dir = dir;
  options.projections = false;
  options.commands.local_workers = static_cast<std::size_t>(args.workers);
  // The saga's deadlines run on a clock of their own, so the demo can let
  // the 7-day account wait pass at the end instead of waiting a week.
  ManualClock saga_clock(SystemClock::instance().now());
  options.saga_clock = &saga_clock;
  std::unique_ptr<KafkaMockCluster> cluster;
  std::string bus_name = args.bus;
  if (args.bus == "log") {
    options.bus.type = BusType::kLog;
  } else if (args.bus == "kafka") {
    std::string bootstrap = args.kafka;
    if (bootstrap.empty()) {
      auto c = KafkaMockCluster::create(1);
      if (!c) {
        std::fprintf(stderr, "nexum demo: mock Kafka cluster: %s\n", c.error().to_string().c_str());
        return 1;
      }
      cluster = std::move(c).value();
      bootstrap = cluster->bootstrap_servers();
      for (std::string_view t : topics::command_topics()) cluster->create_topic(t, 1).ignore_error();
      bus_name = "kafka (mock cluster " + bootstrap + ")";
    } else {
      bus_name = "kafka (" + bootstrap + ")";
    }
    options.bus.type = BusType::kKafka;
    options.bus.bootstrap_servers = bootstrap;
    options.bus.client_id = "nexum-demo";
    options.bus.kafka_consumer_properties = {
        {"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}, {"fetch.wait.max.ms", "5"}};
    // One pipelined consumer for the four command topics.
    options.intake.group_id = "nexum-demo_commands";
  }
  auto system_or = service::System::start(std::move(options));
  if (!system_or) {
    std::fprintf(stderr, "nexum demo: starting in %s: %s\n", dir.c_str(), system_or.error().to_string().c_str());
    return 1;
  }
  service::System& system = **system_or;
  EventStore* store = &system.store();
  std::shared_ptr<EventBus> bus = system.bus();
  NexumCommandHandler& handler = system.handler();
  SagaEngine& sagas = *system.saga_engine();
  Status s = system.wait_until_commands_assigned(std::chrono::seconds(60));
  if (!s.ok()) {
    std::fprintf(stderr, "nexum demo: starting: %s\n", s.to_string().c_str());
    return 1;
  }
  if (args.bus != "kafka") bus_name += ", " + std::to_string(args.workers) + " command workers";
  std::printf("nexum demo: %d customers, bus %s, data %s\n", args.customers, bus_name.c_str(), dir.c_str());
  std::fflush(stdout);

  // Waits until everything sent so far is handled and nothing more follows
  // from it: the saga has read the whole log, its outbox is delivered, and
  // the handler has decided the saga's commands too. False after 120 s.
  std::uint64_t sent = 0;
  auto settle = [&]() -> bool {
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    auto left = [&] { return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()); };
    while (Clock::now() < deadline) {
      const std::int64_t position = store->last_position();
      if (!sagas.wait_until_processed(position, left()) || !sagas.wait_until_relayed(left())) break;
      const std::uint64_t expected = sent + sagas.stats().commands_sent;
      while (handler.stats().handled() < expected && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      if (handler.stats().handled() >= expected && store->last_position() == position &&
          sent + sagas.stats().commands_sent == expected) {
        return true;
      }
    }
    std::fprintf(stderr, "nexum demo: not settled after 120 s: %llu of %llu commands handled, saga at %lld of %lld\n",
                 static_cast<unsigned long long>(handler.stats().handled()),
                 static_cast<unsigned long long>(sent + sagas.stats().commands_sent),
                 static_cast<long long>(sagas.stats().checkpoint), static_cast<long long>(store->last_position()));
    return false;
  };

  // Drive the workload through the bus, phase by phase.
  DemoWorkload workload(args.customers);
  auto phases = workload.phases();
  const auto started = Clock::now();
  for (const auto& phase : phases) {
    // One batch per run of commands to the same topic (a phase is usually one topic).
    for (std::size_t i = 0; i < phase.size();) {
      std::vector<EventSchema> batch;
      std::vector<std::string> keys;
      std::size_t j = i;
      for (; j < phase.size() && phase[j].topic == phase[i].topic; ++j) {
        batch.push_back(phase[j].command);
        keys.push_back(phase[j].key);
      }
      Status p = bus->publish_batch(phase[i].topic, batch, keys);
      if (!p.ok()) {
        std::fprintf(stderr, "nexum demo: publishing commands: %s\n", p.to_string().c_str());
        return 1;
      }
      sent += j - i;
      i = j;
    }
    if (!settle()) return 1;
  }
  const auto elapsed_us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count();
  // A week later: applications still waiting for an account are rejected.
  saga_clock.set(SystemClock::instance().now() + kTimeTravel);
  Status polled = sagas.poll_deadlines();
  if (!polled.ok() || !settle()) {
    std::fprintf(stderr, "nexum demo: firing saga deadlines: %s\n", polled.to_string().c_str());
    return 1;
  }
  const SagaEngineStats saga_stats = sagas.stats();
  const std::int64_t last = store->last_position();
  const bool relayed = system.relay().wait_until_relayed(last, std::chrono::seconds(60));
  const RelayStats relay_stats = system.relay().stats();

  // ---- Report ----
  const CommandHandlerStats st = handler.stats();
  const std::uint64_t issued = sent + saga_stats.commands_sent;
  const long long per_second =
      elapsed_us > 0 ? static_cast<long long>(issued * 1000000ULL / static_cast<std::uint64_t>(elapsed_us)) : 0;
  std::printf(
      "commands: %llu sent (%llu by the demo, %llu by the loan saga), %llu handled in %lld.%03lld s (%lld "
      "commands/s)\n",
      static_cast<unsigned long long>(issued), static_cast<unsigned long long>(sent),
      static_cast<unsigned long long>(saga_stats.commands_sent), static_cast<unsigned long long>(st.handled()),
      static_cast<long long>(elapsed_us / 1000000), static_cast<long long>((elapsed_us / 1000) % 1000), per_second);
  std::printf("  accepted %llu: %s\n", static_cast<unsigned long long>(st.accepted),
              join_counts(st.accepted_by_action).c_str());
  std::printf("  rejected %llu: %s\n", static_cast<unsigned long long>(st.rejected),
              join_counts(st.rejected_by_reason).c_str());
  std::printf("  dead-lettered %llu: %s\n", static_cast<unsigned long long>(st.malformed),
              join_counts(st.malformed_by_field).c_str());
  std::printf("  duplicates %llu (redelivered, answered from the store)\n",
              static_cast<unsigned long long>(st.duplicates));
  if (st.failed > 0) std::printf("  FAILED %llu\n", static_cast<unsigned long long>(st.failed));

  // Loan applications, as the saga stored them.
  Result<std::vector<SagaInstance>> applications = list_saga_instances(*store, sagas.saga_name());
  std::map<std::string, std::uint64_t> by_status, rejected_why;
  if (applications) {
    for (const SagaInstance& a : *applications) {
      ++by_status[std::string(saga_status_name(a.status))];
      if (a.status == SagaStatus::kRejected && a.state.contains("reason") && a.state.at("reason").is_string()) {
        ++rejected_why[std::string(a.state.at("reason").get_string())];
      }
    }
  }
  std::printf("loan applications (LoanApplicationSaga, clock moved on 8 days at the end): %zu started\n",
              applications ? applications->size() : 0);
  std::printf("  completed %llu, rejected %llu: %s\n", static_cast<unsigned long long>(by_status["completed"]),
              static_cast<unsigned long long>(by_status["rejected"]), join_counts(rejected_why).c_str());
  if (by_status["active"] + by_status["failed"] > 0) {
    std::printf("  STILL ACTIVE %llu, FAILED %llu\n", static_cast<unsigned long long>(by_status["active"]),
                static_cast<unsigned long long>(by_status["failed"]));
  }
  if (applications) {
    int shown = 0;
    for (const SagaInstance& a : *applications) {
      if (shown++ == 4) break;
      auto field = [&](const char* k) {
        return a.state.contains(k) && a.state.at(k).is_string() ? std::string(a.state.at(k).get_string()) : "-";
      };
      std::printf("  %-10s %-9s loan %-22s %s\n", a.id.c_str(), std::string(saga_status_name(a.status)).c_str(),
                  field("loan_id").c_str(),
                  a.status == SagaStatus::kRejected ? field("reason").c_str() : ("to " + field("account_id")).c_str());
    }
  }

  std::map<std::string, std::uint64_t> per_topic;
  Status scanned = store->scan_log(1, SIZE_MAX, {}, [&](const EventView& e) {
    ++per_topic[std::string(e.topic)];
    return Status();
  });
  std::printf("events: %lld stored, relayed to the bus up to position %lld%s\n", static_cast<long long>(last),
              static_cast<long long>(relay_stats.checkpoint), relayed ? "" : " (relay behind!)");
  for (const auto& [topic, n] : per_topic)
    std::printf("  %-36s %llu\n", topic.c_str(), static_cast<unsigned long long>(n));

  // Balances: the aggregate (snapshot + fold) against an independent replay.
  int mismatches = 0, negatives = 0, checked = 0;
  std::printf("balances (aggregate vs replay of the account stream):\n");
  for (int i = 0; i < args.customers; ++i) {
    for (const std::string& id : {demo_checking_id(i), demo_savings_id(i)}) {
      Result<Account> a = handler.repository().load_account(id);
      if (!a || !a->exists) continue;
      Result<Money> replayed = replay_balance(*store, id);
      const bool ok = replayed && *replayed == a->balance;
      ++checked;
      if (!ok) ++mismatches;
      if (a->balance.is_negative()) ++negatives;
      if (checked <= 4 || !ok) {
        std::printf("  %-16s %s %12s  replay %12s  %s\n", id.c_str(), std::string(a->currency.code()).c_str(),
                    a->balance.to_string().c_str(), replayed ? replayed->to_string().c_str() : "error",
                    ok ? "ok" : "MISMATCH");
      }
    }
  }
  std::printf("  %d accounts checked: %d mismatches, %d negative\n", checked, mismatches, negatives);
  std::printf("data: %s  (inspect: nexum log --data %s)\n", dir.c_str(), dir.c_str());

  s = system.stop();
  if (!s.ok()) std::fprintf(stderr, "nexum demo: stopping: %s\n", s.to_string().c_str());

  const bool healthy = s.ok() && scanned.ok() && relayed && st.failed == 0 && mismatches == 0 && negatives == 0 &&
                       st.handled() == issued && applications.has_value() && by_status["active"] == 0 &&
                       by_status["failed"] == 0 && saga_stats.outbox_pending == 0;
  if (!healthy) std::fprintf(stderr, "nexum demo: the run was not consistent (see above)\n");
  return healthy ? 0 : 1;
}

}  // namespace

void register_demo_command(CLI::App& app) {
  auto args = std::make_shared<DemoArgs>();
  CLI::App* sub = app.add_subcommand(
      "demo", "Run a small bank through the command handler and report outcomes, events, balances, throughput");
  sub->add_option("--data", args->data, "Data directory (default: a new temporary directory, kept)");
  sub->add_option("--customers", args->customers, "Number of customers (default 50)")->check(CLI::Range(1, 100000));
  sub->add_option("--bus", args->bus, "memory, log or kafka (default memory)")
      ->check(CLI::IsMember({"memory", "log", "kafka"}));
  sub->add_option("--kafka", args->kafka,
                  "Kafka bootstrap servers (default with --bus kafka: an in-process mock cluster)");
  sub->add_option("--workers", args->workers,
                  "memory/log bus: command worker threads, by account (default 8; 0: inline on the publisher)")
      ->check(CLI::Range(0, 256));
  sub->callback([args] { set_exit_code(run_demo(*args)); });
}

}  // namespace nexum::cli
