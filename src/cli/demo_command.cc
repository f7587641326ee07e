// `nexum demo`: a small bank run end to end. Command envelopes are published
// to the command topics of a bus; NexumCommandHandler decides them against
// the store; the OutboxRelay carries every stored event back to the bus.
// Then a report: outcomes by action and reason, events per topic, balances
// recomputed by replaying account streams, throughput, where the data is.
// Workload and report: doc/commands.md, "nexum demo".
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/json/object.hpp>
#include <spdlog/spdlog.h>

#include "bus/kafka_mock_cluster.h"
#include "cli/commands.h"
#include "nexum/aggregates.h"
#include "nexum/bus.h"
#include "nexum/command_handler.h"
#include "nexum/kafka_bus.h"
#include "nexum/outbox_relay.h"
#include "nexum/store.h"
#include "nexum/topics.h"

namespace nexum::cli {
namespace {

using boost::json::object;
using Clock = std::chrono::steady_clock;

struct DemoArgs {
  std::string data;
  int customers = 50;
  std::string bus = "memory";
  std::string kafka;
  int workers = 8;
};

// One command to send: topic, key, envelope.
struct Outgoing {
  std::string_view topic;
  std::string key;
  EventSchema command;
};

std::string pad(int n) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d", n);
  return buf;
}
std::string customer_id(int i) { return "cust_" + pad(i); }
std::string checking_id(int i) { return "acc_" + pad(i) + "_chk"; }
std::string savings_id(int i) { return "acc_" + pad(i) + "_sav"; }
std::string loan_id(int i) { return "loan_" + pad(i); }
std::string cents(std::int64_t c) { return Money::from_minor_units(c, default_currency()).to_string(); }

// Builds the phases of the workload. Deterministic (fixed seed), so two
// runs with the same N issue the same commands.
class Workload {
 public:
  explicit Workload(int customers) : n_(customers), rng_(20260101) {}

  // Phases in order; each must be fully handled before the next is sent
  // (on Kafka the topics are consumed concurrently).
  std::vector<std::vector<Outgoing>> phases() {
    std::vector<std::vector<Outgoing>> out;
    out.push_back(customers());
    out.push_back(kyc());
    out.push_back(accounts());
    out.push_back(deposits());
    out.push_back(activity());
    out.push_back(loans_originate());
    out.push_back(loans_disburse());
    out.push_back(loans_repay());
    return out;
  }

 private:
  Outgoing make(std::string_view topic, const std::string& key, object data) {
    const char* type = topic == topics::kCommandsTransactions ? "transaction_command"
                       : topic == topics::kCommandsCustomers  ? "customer_command"
                       : topic == topics::kCommandsLoans      ? "loan_command"
                                                              : "account_command";
    object metadata{{"correlation_id", "demo-" + key}, {"user_id", "demo"}};
    return Outgoing{topic, key,
                    EventSchema::make(type, "", "", std::move(data), std::move(metadata), SystemClock::instance())};
  }
  bool verified(int i) const { return i % 10 != 9; }  // every 10th customer stays pending
  bool has_savings(int i) const { return i % 3 == 0; }
  bool borrower(int i) const { return verified(i) && i % 4 == 1; }
  std::int64_t range(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(rng_() % static_cast<std::uint64_t>(hi - lo + 1));
  }

  std::vector<Outgoing> customers() {
    static const char* first[] = {"Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken"};
    static const char* last[] = {"Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson"};
    std::vector<Outgoing> v;
    for (int i = 0; i < n_; ++i) {
      v.push_back(make(topics::kCommandsCustomers, customer_id(i),
                       {{"action", "create"}, {"customer_id", customer_id(i)}, {"first_name", first[i % 8]},
                        {"last_name", last[(i / 8) % 8]}, {"email", customer_id(i) + "@example.com"},
                        {"kyc_status", "pending"}}));
    }
    return v;
  }
  std::vector<Outgoing> kyc() {
    std::vector<Outgoing> v;
    for (int i = 0; i < n_; ++i) {
      if (!verified(i)) continue;
      v.push_back(make(topics::kCommandsCustomers, customer_id(i),
                       {{"action", "change_kyc"}, {"customer_id", customer_id(i)}, {"new_status", "verified"},
                        {"new_tier", i % 2 ? "tier_2" : "tier_1"}}));
    }
    return v;
  }
  std::vector<Outgoing> accounts() {
    std::vector<Outgoing> v;
    for (int i = 0; i < n_; ++i) {
      v.push_back(make(topics::kCommandsAccounts, checking_id(i),
                       {{"action", "open"}, {"account_id", checking_id(i)}, {"customer_id", customer_id(i)},
                        {"product_type", "checking"}, {"currency", "USD"}, {"name", "Everyday"}}));
      if (has_savings(i)) {
        v.push_back(make(topics::kCommandsAccounts, savings_id(i),
                         {{"action", "open"}, {"account_id", savings_id(i)}, {"customer_id", customer_id(i)},
                          {"product_type", "savings"}, {"currency", "EUR"}, {"name", "Savings"}}));
      }
    }
    return v;
  }
  std::vector<Outgoing> deposits() {
    std::vector<Outgoing> v;
    for (int i = 0; i < n_; ++i) {
      if (!verified(i)) continue;  // their accounts were never opened
      v.push_back(make(topics::kCommandsTransactions, checking_id(i),
                       {{"action", "deposit"}, {"account_id", checking_id(i)},
                        {"amount", cents(range(100000, 500000))}, {"currency", "USD"}, {"description", "Salary"}}));
      if (has_savings(i)) {
        v.push_back(make(topics::kCommandsTransactions, savings_id(i),
                         {{"action", "deposit"}, {"account_id", savings_id(i)},
                          {"amount", cents(range(10000, 90000))}, {"currency", "EUR"}}));
      }
    }
    return v;
  }
  std::vector<Outgoing> activity() {
    std::vector<Outgoing> v;
    std::vector<int> active;  // customers whose accounts were opened
    for (int i = 0; i < n_; ++i) {
      if (verified(i)) active.push_back(i);
    }
    for (int i : active) {
      const std::string acc = checking_id(i);
      for (int k = 0; k < 3; ++k) {
        v.push_back(make(topics::kCommandsTransactions, acc,
                         {{"action", "withdraw"}, {"account_id", acc}, {"amount", cents(range(500, 20000))},
                          {"description", "ATM"}}));
      }
      const int peer = active[static_cast<std::size_t>(range(0, static_cast<std::int64_t>(active.size()) - 1))];
      if (peer != i) {
        v.push_back(make(topics::kCommandsTransactions, acc,
                         {{"action", "transfer"}, {"from_account_id", acc}, {"to_account_id", checking_id(peer)},
                          {"amount", cents(range(1000, 50000))}, {"description", "Rent share"}}));
      }
      if (i % 5 == 2) {  // overdraft: more than any salary
        v.push_back(make(topics::kCommandsTransactions, acc,
                         {{"action", "withdraw"}, {"account_id", acc}, {"amount", "9999.00"}}));
      }
      if (i % 7 == 3) {
        v.push_back(make(topics::kCommandsTransactions, "acc_unknown",
                         {{"action", "deposit"}, {"account_id", "acc_" + pad(i) + "_typo"}, {"amount", "10.00"}}));
      }
      if (i % 6 == 4) {  // euros into a dollar account
        v.push_back(make(topics::kCommandsTransactions, acc,
                         {{"action", "deposit"}, {"account_id", acc}, {"amount", "50.00"}, {"currency", "EUR"}}));
      }
      if (i % 8 == 5) {  // a tenth of a cent: malformed, dead-lettered
        v.push_back(make(topics::kCommandsTransactions, acc,
                         {{"action", "deposit"}, {"account_id", acc}, {"amount", "12.345"}}));
      }
      if (i % 9 == 6) {  // a redelivery: the same envelope twice
        Outgoing once = make(topics::kCommandsTransactions, acc,
                             {{"action", "deposit"}, {"account_id", acc}, {"amount", "25.00"}});
        v.push_back(once);
        v.push_back(once);
      }
    }
    return v;
  }
  std::vector<Outgoing> loans_originate() {
    std::vector<Outgoing> v;
    for (int i = 0; i < n_; ++i) {
      if (!borrower(i)) continue;
      v.push_back(make(topics::kCommandsLoans, loan_id(i),
                       {{"action", "originate"}, {"loan_id", loan_id(i)}, {"customer_id", customer_id(i)},
                        {"principal", "5000.00"}, {"currency", "USD"}, {"interest_rate", "6.5"},
                        {"term_months", 24}, {"account_id", checking_id(i)}}));
    }
    // An unverified customer asks too.
    if (n_ > 9) {
      v.push_back(make(topics::kCommandsLoans, "loan_pending",
                       {{"action", "originate"}, {"customer_id", customer_id(9)}, {"principal", "1000.00"},
                        {"currency", "USD"}, {"interest_rate", "6.5"}, {"term_months", 12}}));
    }
    return v;
  }
  std::vector<Outgoing> loans_disburse() {
    std::vector<Outgoing> v;
    for (int i = 0; i < n_; ++i) {
      if (borrower(i)) v.push_back(make(topics::kCommandsLoans, loan_id(i), {{"action", "disburse"}, {"loan_id", loan_id(i)}}));
    }
    return v;
  }
  std::vector<Outgoing> loans_repay() {
    std::vector<Outgoing> v;
    int n = 0;
    for (int i = 0; i < n_; ++i) {
      if (!borrower(i)) continue;
      const bool in_full = n++ % 2 == 0;
      v.push_back(make(topics::kCommandsLoans, loan_id(i),
                       {{"action", "payment"}, {"loan_id", loan_id(i)}, {"payment_amount", in_full ? "5000.00" : "750.00"},
                        {"account_id", checking_id(i)}}));
      if (!in_full) {  // more than is owed
        v.push_back(make(topics::kCommandsLoans, loan_id(i),
                         {{"action", "payment"}, {"loan_id", loan_id(i)}, {"payment_amount", "9000.00"}}));
      }
    }
    return v;
  }

  int n_;
  std::mt19937_64 rng_;
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
      Result<Money> m = Money::parse(text("balance"), text("currency"));
      if (!m) return m.error();
      balance = *m;
    } else if (r.event.event_type == "account_updated" && balance) {
      const std::string code(balance->currency().code());
      Result<Money> m = Money::parse(text(d.contains("amount") ? "amount" : "balance"), code);
      if (!m) return m.error();
      if (!d.contains("amount")) {
        balance = *m;
      } else {
        Result<Money> moved = text("direction") == "credit" ? balance->add(*m) : balance->subtract(*m);
        if (!moved) return moved.error();
        balance = *moved;
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
  auto store_or = EventStore::open(dir);
  if (!store_or) {
    std::fprintf(stderr, "nexum demo: cannot open %s: %s\n", dir.c_str(), store_or.error().to_string().c_str());
    return 1;
  }
  std::unique_ptr<EventStore> store = std::move(store_or).value();

  // The bus.
  std::unique_ptr<KafkaMockCluster> cluster;
  std::unique_ptr<EventBus> bus;
  std::string bus_name = args.bus;
  if (args.bus == "memory") {
    bus = std::make_unique<InMemoryEventBus>();
  } else if (args.bus == "log") {
    bus = std::make_unique<LogEventBus>();
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
    KafkaEventBusOptions options;
    options.bootstrap_servers = bootstrap;
    options.client_id = "nexum-demo";
    options.consumer_properties = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
    auto b = KafkaEventBus::create(options);
    if (!b) {
      std::fprintf(stderr, "nexum demo: Kafka bus: %s\n", b.error().to_string().c_str());
      return 1;
    }
    bus = std::move(b).value();
  } else {
    std::fprintf(stderr, "nexum demo: --bus must be memory, log or kafka\n");
    return 2;
  }

  CommandHandlerOptions handler_options;
  handler_options.local_workers = static_cast<std::size_t>(args.workers);
  NexumCommandHandler handler(*store, *bus, handler_options);
  OutboxRelay relay(*store, *bus);
  Status s = handler.start();
  if (s.ok()) s = bus->start();
  if (s.ok()) s = relay.start();
  if (s.ok()) {
    if (auto* kafka = dynamic_cast<KafkaEventBus*>(bus.get())) s = kafka->wait_until_assigned(std::chrono::seconds(60));
  }
  if (!s.ok()) {
    std::fprintf(stderr, "nexum demo: starting: %s\n", s.to_string().c_str());
    return 1;
  }
  if (args.bus != "kafka") bus_name += ", " + std::to_string(args.workers) + " command workers";
  std::printf("nexum demo: %d customers, bus %s, data %s\n", args.customers, bus_name.c_str(), dir.c_str());
  std::fflush(stdout);

  // Drive the workload through the bus, phase by phase.
  Workload workload(args.customers);
  auto phases = workload.phases();
  std::uint64_t sent = 0;
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
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    while (handler.stats().handled() < sent) {
      if (Clock::now() > deadline) {
        std::fprintf(stderr, "nexum demo: only %llu of %llu commands handled after 120 s\n",
                     static_cast<unsigned long long>(handler.stats().handled()),
                     static_cast<unsigned long long>(sent));
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  const auto elapsed_us =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count();
  const std::int64_t last = store->last_position();
  const bool relayed = relay.wait_until_relayed(last, std::chrono::seconds(60));
  const RelayStats relay_stats = relay.stats();
  relay.stop().ignore_error();
  bus->stop().ignore_error();

  // ---- Report ----
  const CommandHandlerStats st = handler.stats();
  const long long per_second = elapsed_us > 0 ? static_cast<long long>(sent * 1000000ULL / static_cast<std::uint64_t>(elapsed_us)) : 0;
  std::printf("commands: %llu sent, %llu handled in %lld.%03lld s (%lld commands/s)\n",
              static_cast<unsigned long long>(sent), static_cast<unsigned long long>(st.handled()),
              static_cast<long long>(elapsed_us / 1000000), static_cast<long long>((elapsed_us / 1000) % 1000),
              per_second);
  std::printf("  accepted %llu: %s\n", static_cast<unsigned long long>(st.accepted), join_counts(st.accepted_by_action).c_str());
  std::printf("  rejected %llu: %s\n", static_cast<unsigned long long>(st.rejected), join_counts(st.rejected_by_reason).c_str());
  std::printf("  dead-lettered %llu: %s\n", static_cast<unsigned long long>(st.malformed), join_counts(st.malformed_by_field).c_str());
  std::printf("  duplicates %llu (redelivered, answered from the store)\n", static_cast<unsigned long long>(st.duplicates));
  if (st.failed > 0) std::printf("  FAILED %llu\n", static_cast<unsigned long long>(st.failed));

  std::map<std::string, std::uint64_t> per_topic;
  Status scanned = store->scan_log(1, SIZE_MAX, {}, [&](const EventView& e) {
    ++per_topic[std::string(e.topic)];
    return Status();
  });
  std::printf("events: %lld stored, relayed to the bus up to position %lld%s\n", static_cast<long long>(last),
              static_cast<long long>(relay_stats.checkpoint), relayed ? "" : " (relay behind!)");
  for (const auto& [topic, n] : per_topic) std::printf("  %-36s %llu\n", topic.c_str(), static_cast<unsigned long long>(n));

  // Balances: the aggregate (snapshot + fold) against an independent replay.
  int mismatches = 0, negatives = 0, checked = 0;
  std::printf("balances (aggregate vs replay of the account stream):\n");
  for (int i = 0; i < args.customers; ++i) {
    for (const std::string& id : {checking_id(i), savings_id(i)}) {
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

  const bool healthy = scanned.ok() && relayed && st.failed == 0 && mismatches == 0 && negatives == 0 &&
                       st.handled() == sent;
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
  sub->add_option("--kafka", args->kafka, "Kafka bootstrap servers (default with --bus kafka: an in-process mock cluster)");
  sub->add_option("--workers", args->workers,
                  "memory/log bus: command worker threads, by account (default 8; 0: inline on the publisher)")
      ->check(CLI::Range(0, 256));
  sub->callback([args] { set_exit_code(run_demo(*args)); });
}

}  // namespace nexum::cli
