#include "drivers/projection_drivers.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <rocksdb/db.h>
#include <boost/json/object.hpp>

#include "drivers/append_window.h"
#include "nexum/projection_builtins.h"
#include "nexum/projection_engine.h"
#include "nexum/store.h"
#include "store/keys.h"
#include "store/rocks_event_store.h"

namespace nexum::bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::size_t k = std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// CPU time (user + system) this process has used, seconds.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Peak resident set size of this process, MiB (VmHWM).
double peak_rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

std::string cents_text(std::int64_t cents) {
  std::string s = std::to_string(cents / 100) + ".";
  std::int64_t c = cents % 100;
  if (c < 10) s.push_back('0');
  return s + std::to_string(c);
}

EventSchema make(std::string type, std::string entity_type, std::string id, boost::json::object data) {
  return EventSchema::make(std::move(type), std::move(entity_type), std::move(id), std::move(data), {},
                           SystemClock::instance());
}

// A deterministic core-banking workload: customers open accounts, money
// moves (deposits, withdrawals, transfers: transaction_created +
// transaction_posted on the transaction's stream, account_updated with the
// real balance on each account's), KYC changes, and loans go through
// origination, disbursement and payments. Each next() is one atomic append.
// Thread-compatible.
class BankingWorkload {
 public:
  std::vector<StreamAppend> next(std::int64_t* events) {
    const std::int64_t op = op_++;
    std::vector<StreamAppend> out;
    auto add = [&](std::string stream, EventSchema e) {
      for (auto& a : out) {
        if (a.stream == stream) {
          a.events.push_back(std::move(e));
          ++*events;
          return;
        }
      }
      StreamAppend a;
      a.stream = std::move(stream);
      a.events.push_back(std::move(e));
      out.push_back(std::move(a));
      ++*events;
    };
    if (op % 40 == 0 || balances_.empty()) {
      std::string c = "cus_" + std::to_string(balances_.size());
      std::string a = "acc_" + std::to_string(balances_.size());
      add("customer-" + c, make("customer_created", "customer", c,
                                {{"first_name", "Ada"},
                                 {"last_name", "Lovelace " + c},
                                 {"email", c + "@example.com"},
                                 {"phone", nullptr},
                                 {"kyc_status", "pending"},
                                 {"kyc_tier", "tier_0"}}));
      add("account-" + a, make("account_created", "account", a,
                               {{"account_number", "CHK" + std::to_string(1000000 + balances_.size())},
                                {"product_type", "checking"},
                                {"customer_id", c},
                                {"currency", "USD"},
                                {"name", "Everyday checking"},
                                {"balance", "0.00"}}));
      balances_.push_back(0);
      return out;
    }
    const auto accounts = static_cast<std::int64_t>(balances_.size());
    if (op % 400 == 7) {
      std::string c = "cus_" + std::to_string((op * 31) % accounts);
      add("customer-" + c,
          make(
              "kyc_status_changed", "customer", c,
              {{"old_status", "pending"}, {"new_status", "verified"}, {"old_tier", "tier_0"}, {"new_tier", "tier_2"}}));
      return out;
    }
    if (op % 250 == 13) {
      std::string c = "cus_" + std::to_string((op * 17) % accounts);
      add("customer-" + c, make("customer_updated", "customer", c,
                                {{"first_name", "Ada"},
                                 {"last_name", "King " + c},
                                 {"email", c + "@example.org"},
                                 {"phone", "+44 20 7946 0000"}}));
      return out;
    }
    if (op % 100 == 21) {
      loan_op(op, add);
      if (!out.empty()) return out;
    }
    // A transaction: every fifth a transfer, otherwise a deposit or (when
    // the balance allows) a withdrawal.
    std::string t = "txn_" + std::to_string(op);
    std::int64_t amount = 1000 + (op * 7919) % 50000;
    std::int64_t a = (op * 7919) % accounts;
    std::int64_t b = (op * 104729 + 1) % accounts;
    std::string type = "deposit";
    std::optional<std::int64_t> from, to = a;
    if (op % 5 == 0 && a != b && balances_[static_cast<std::size_t>(a)] >= amount) {
      type = "transfer_internal";
      from = a;
      to = b;
    } else if (op % 3 == 0 && balances_[static_cast<std::size_t>(a)] >= amount) {
      type = "withdrawal";
      from = a;
      to.reset();
    }
    auto acc = [](std::optional<std::int64_t> i) -> boost::json::value {
      if (!i) return nullptr;
      return boost::json::value("acc_" + std::to_string(*i));
    };
    add("transaction-" + t, make("transaction_created", "transaction", t,
                                 {{"transaction_type", type},
                                  {"amount", cents_text(amount)},
                                  {"currency", "USD"},
                                  {"from_account_id", acc(from)},
                                  {"to_account_id", acc(to)},
                                  {"description", "Card purchase at a coffee shop"},
                                  {"reference", "TXN-" + std::to_string(op)}}));
    add("transaction-" + t, make("transaction_posted", "transaction", t,
                                 {{"transaction_type", type},
                                  {"amount", cents_text(amount)},
                                  {"currency", "USD"},
                                  {"from_account_id", acc(from)},
                                  {"to_account_id", acc(to)},
                                  {"final_balance", "0"},
                                  {"journal_entry_id", "je_" + std::to_string(op)}}));
    for (auto [i, sign] : {std::pair{from, -1}, std::pair{to, +1}}) {
      if (!i) continue;
      auto& bal = balances_[static_cast<std::size_t>(*i)];
      bal += sign * amount;
      std::string id = "acc_" + std::to_string(*i);
      add("account-" + id, make("account_updated", "account", id,
                                {{"account_number", "CHK" + std::to_string(1000000 + *i)},
                                 {"balance", cents_text(bal)},
                                 {"state", "active"},
                                 {"amount", cents_text(amount)},
                                 {"currency", "USD"},
                                 {"direction", sign > 0 ? "credit" : "debit"},
                                 {"transaction_id", t}}));
    }
    return out;
  }

 private:
  template <typename Add>
  void loan_op(std::int64_t op, Add& add) {
    const std::int64_t step = loan_ops_++;
    if (step % 4 == 0 || loans_.empty()) {
      std::string l = "loan_" + std::to_string(loans_.size());
      std::int64_t principal = 500000 + (op % 20) * 100000;
      add("loan-" + l, make("loan_originated", "loan", l,
                            {{"customer_id", "cus_" + std::to_string(op % static_cast<std::int64_t>(balances_.size()))},
                             {"principal", cents_text(principal)},
                             {"currency", "USD"},
                             {"interest_rate", "0.075"},
                             {"term_months", 36},
                             {"payment_frequency", "monthly"}}));
      loans_.push_back({principal, principal, 0});
      return;
    }
    if (step % 4 == 1) {
      std::size_t i = loans_.size() - 1;
      if (loans_[i].state == 0) {
        std::string l = "loan_" + std::to_string(i);
        add("loan-" + l,
            make("loan_disbursed", "loan", l,
                 {{"customer_id", "cus_0"}, {"principal", cents_text(loans_[i].principal)}, {"account_id", "acc_0"}}));
        loans_[i].state = 1;
        return;
      }
    }
    std::size_t i = static_cast<std::size_t>((op * 13) % static_cast<std::int64_t>(loans_.size()));
    Loan& loan = loans_[i];
    std::string l = "loan_" + std::to_string(i);
    if (loan.state != 1) return;  // not disbursed, or finished
    std::int64_t pay = std::min<std::int64_t>(loan.outstanding, 25000);
    loan.outstanding -= pay;
    add("loan-" + l, make("loan_payment", "loan", l,
                          {{"payment_amount", cents_text(pay)},
                           {"currency", "USD"},
                           {"outstanding_balance", cents_text(loan.outstanding)}}));
    if (loan.outstanding == 0) {
      add("loan-" + l, make("loan_paid_off", "loan", l, {{"outstanding_balance", "0.00"}}));
      loan.state = 2;
    }
  }

  struct Loan {
    std::int64_t principal;
    std::int64_t outstanding;
    int state;  // 0 originated, 1 disbursed, 2 paid off
  };
  std::int64_t op_ = 0;
  std::int64_t loan_ops_ = 0;
  std::vector<std::int64_t> balances_;  // cents, per account
  std::vector<Loan> loans_;
};

// Appends the workload until the store holds `events`. Buffered: the fill
// is setup, not the measurement.
Status fill(const std::string& dir, std::int64_t events) {
  StoreOptions options;
  options.durability = Durability::kBuffered;
  auto opened = EventStore::open(dir, options);
  if (!opened) return opened.error();
  std::unique_ptr<EventStore> store = std::move(opened).value();
  if (store->last_position() >= events) return Status();
  if (store->last_position() > 0) {
    return Status::invalid_argument("--data: '" + dir + "' holds " + std::to_string(store->last_position()) +
                                    " events, fewer than --events; use an empty directory");
  }
  std::fprintf(stderr, "filling %s with %lld banking events...\n", dir.c_str(), static_cast<long long>(events));
  BankingWorkload workload;
  AppendWindow window(*store, 256);
  for (std::int64_t n = 0; n < events;) NEXUM_RETURN_IF_ERROR(window.append(workload.next(&n)));
  return window.drain();
}

// Raw RocksDB iteration over the log column family, touching every value.
double raw_scan_rate(store::RocksEventStore& store, std::int64_t n, std::uint64_t* bytes) {
  auto start = Clock::now();
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  ro.readahead_size = 2u << 20;
  std::unique_ptr<rocksdb::Iterator> it(store.db()->NewIterator(ro, store.column_family(store::kCfLog)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    *bytes += it->value().size() + static_cast<unsigned char>(it->value()[0]);
  }
  return static_cast<double>(n) / seconds_since(start);
}

// Commit times per projection, recorded by on_commit while `recording`.
struct CommitLog {
  std::mutex mu;
  std::atomic<bool> recording{false};
  std::map<std::string, std::vector<std::pair<std::int64_t, Clock::time_point>>, std::less<>> commits;
  std::map<std::string, Clock::time_point, std::less<>> done_at;  // first commit reaching `target`
  std::int64_t target = 0;
};

// Deposits on a hot set of accounts: one account_updated movement per
// account, kStreamsPerCall accounts per atomic append. Thread-compatible.
class LiveWorkload {
 public:
  static constexpr int kStreamsPerCall = 10;
  static constexpr int kHotAccounts = 2000;

  std::vector<StreamAppend> next() {
    std::vector<StreamAppend> out(kStreamsPerCall);
    for (auto& a : out) {
      const std::int64_t n = n_++;
      std::string id = "acc_" + std::to_string((n * 7) % kHotAccounts);
      a.stream = "account-" + id;
      a.events.push_back(make("account_updated", "account", id,
                              {{"account_number", "CHK" + id},
                               {"balance", cents_text(100000 + n % 9000)},
                               {"state", "active"},
                               {"amount", "10.00"},
                               {"currency", "USD"},
                               {"direction", "credit"},
                               {"transaction_id", "live_" + std::to_string(n)}}));
    }
    return out;
  }

 private:
  std::int64_t n_ = 0;
};

// Appends at o.live_rate events/s (durable, async, at most kMaxInFlight calls
// outstanding) and measures, for every projection, the time from an
// append's acknowledgement to the commit that includes it.
Status run_live_phase(EventStore& store, ProjectionEngine& engine, CommitLog& log, const ProjectionBenchOptions& o,
                      std::vector<BenchRow>& rows) {
  constexpr int kMaxInFlight = 1024;
  std::vector<std::pair<std::int64_t, Clock::time_point>> acks;
  std::vector<double> append_latency;  // submit -> ack, ms
  std::mutex acks_mu;
  std::atomic<bool> failed{false};
  std::atomic<int> in_flight{0};
  std::atomic<bool> recording{false};
  LiveWorkload workload;
  auto submit = [&] {
    ++in_flight;
    const auto submitted = Clock::now();
    store.append_async(workload.next(), [&, submitted](Result<AppendResult> r) {
      auto now = Clock::now();
      if (!r) {
        failed = true;
      } else if (recording.load()) {
        std::lock_guard<std::mutex> lock(acks_mu);
        acks.emplace_back(*std::max_element(r->positions.begin(), r->positions.end()), now);
        append_latency.push_back(std::chrono::duration<double, std::milli>(now - submitted).count());
      }
      --in_flight;
    });
  };
  // Warm-up (not measured): touch every hot account once so the store's
  // stream-version cache holds them, and let the projections catch up.
  for (int i = 0; i < LiveWorkload::kHotAccounts / LiveWorkload::kStreamsPerCall; ++i) submit();
  while (in_flight.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  engine.wait_for(store.last_position(), std::chrono::seconds(60));

  recording = true;
  log.recording = true;
  std::int64_t events = 0;
  const auto live_start = Clock::now();
  const auto live_end = live_start + std::chrono::seconds(o.live_seconds);
  while (Clock::now() < live_end && !failed) {
    double due = seconds_since(live_start) * static_cast<double>(o.live_rate);
    // A store that falls behind shows as a lower achieved rate, not as an unbounded queue.
    while (static_cast<double>(events) < due && in_flight.load() < kMaxInFlight) {
      submit();
      events += LiveWorkload::kStreamsPerCall;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  while (in_flight.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const double live_elapsed = seconds_since(live_start);
  recording = false;
  if (failed) return Status::internal("an append failed during the live phase");
  engine.wait_for(store.last_position(), std::chrono::seconds(60));
  log.recording = false;

  std::vector<double> lags;
  std::vector<std::pair<std::string, double>> per_projection;
  {
    std::lock_guard<std::mutex> lock(log.mu);
    for (auto& [name, commits] : log.commits) {
      std::vector<double> mine;
      for (const auto& [position, acked] : acks) {
        auto it = std::lower_bound(commits.begin(), commits.end(), position,
                                   [](const auto& c, std::int64_t p) { return c.first < p; });
        if (it == commits.end()) continue;
        mine.push_back(std::max(0.0, std::chrono::duration<double, std::milli>(it->second - acked).count()));
      }
      per_projection.emplace_back(name, percentile(mine, 0.99));
      lags.insert(lags.end(), mine.begin(), mine.end());
    }
  }
  rows.push_back({"live appends acknowledged (durable)", static_cast<double>(events) / live_elapsed, 0, "events/s",
                  "asked " + std::to_string(o.live_rate) + " for " + std::to_string(o.live_seconds) + " s; " +
                      std::to_string(LiveWorkload::kStreamsPerCall) + " account_updated per append"});
  rows.push_back({"  append latency p50 (submit -> ack)", percentile(append_latency, 0.50), 0, "ms",
                  "the store's own commit latency, same run"});
  rows.push_back({"  append latency p99 (submit -> ack)", percentile(append_latency, 0.99), 0, "ms", ""});
  rows.push_back({"live lag p50 (ack -> committed)", percentile(lags, 0.50), 0, "ms", "all projections"});
  rows.push_back({"live lag p99 (ack -> committed)", percentile(lags, 0.99), 0, "ms", "target <= 50"});
  for (const auto& [name, p99] : per_projection) rows.push_back({"  " + name + " lag p99", p99, 0, "ms", ""});
  rows.push_back({"peak RSS", peak_rss_mib(), 0, "MiB", "target <= 512"});
  return Status();
}

}  // namespace

Result<std::vector<BenchRow>> run_projection_bench(const ProjectionBenchOptions& o) {
  NEXUM_RETURN_IF_ERROR(fill(o.dir, o.events));
  auto opened = store::RocksEventStore::open_rocks(o.dir, {});
  if (!opened) return opened.error();
  std::unique_ptr<store::RocksEventStore> store = std::move(opened).value();
  const std::int64_t n = store->last_position();

  std::uint64_t bytes = 0;
  double cpu0 = cpu_seconds();
  const double raw = raw_scan_rate(*store, n, &bytes);
  const double raw_cpu_us = (cpu_seconds() - cpu0) * 1e6 / static_cast<double>(n);

  CommitLog log;
  log.target = n;
  ProjectionEngineOptions eo;
  eo.on_commit = [&log](std::string_view name, std::int64_t checkpoint) {
    if (!log.recording.load(std::memory_order_relaxed) && checkpoint < log.target) return;
    auto now = Clock::now();
    std::lock_guard<std::mutex> lock(log.mu);
    if (checkpoint >= log.target && log.done_at.find(name) == log.done_at.end()) log.done_at.emplace(name, now);
    if (log.recording.load(std::memory_order_relaxed)) log.commits[std::string(name)].emplace_back(checkpoint, now);
  };
  auto created = ProjectionEngine::create(*store, eo);
  if (!created) return created.error();
  std::unique_ptr<ProjectionEngine> engine = std::move(created).value();
  int projections = 0;
  for (auto& p : make_builtin_projections()) {
    if (!o.only.empty() && p->name() != o.only) continue;
    NEXUM_RETURN_IF_ERROR(engine->add(std::move(p)));
    ++projections;
  }
  if (projections == 0) return Status::invalid_argument("--only: '" + o.only + "' is not a built-in projection");

  // Rebuild every built-in from position 1 (all concurrently, as `nexum replay` does).
  auto start = Clock::now();
  cpu0 = cpu_seconds();
  NEXUM_RETURN_IF_ERROR(engine->rebuild_all());
  if (!engine->wait_for(n, std::chrono::hours(1))) {
    for (const auto& st : engine->status()) {
      if (st.state == ProjectionState::kError) return Status::internal(st.name + ": " + st.error);
    }
    return Status::internal("rebuild did not finish");
  }
  const double rebuild_seconds = seconds_since(start);
  const double rebuild_cpu_us = (cpu_seconds() - cpu0) * 1e6 / static_cast<double>(n);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let the last on_commit calls land
  std::vector<BenchRow> rows;
  rows.push_back(
      {"rebuild " + (o.only.empty() ? std::string("4 built-ins") : o.only) + " over " + std::to_string(n) + " events",
       static_cast<double>(n) / rebuild_seconds, raw, "events/s",
       "target >= 500000; baseline: raw RocksDB iteration of the log CF (" + std::to_string(bytes >> 20) + " MiB)"});
  rows.push_back({"rebuild CPU per event (all threads)", rebuild_cpu_us, raw_cpu_us, "us",
                  "baseline: CPU per event of the raw scan; robust to a loaded machine"});
  {
    std::lock_guard<std::mutex> lock(log.mu);
    for (const auto& [name, at] : log.done_at) {
      double s = std::chrono::duration<double>(at - start).count();
      rows.push_back({"  " + name + " caught up after", s, 0, "s", ""});
    }
  }
  for (const auto& st : engine->status()) {
    if (st.parked > 0) rows.push_back({"  " + st.name + " parked", static_cast<double>(st.parked), 0, "events", ""});
  }
  rows.push_back({"peak RSS after rebuild", peak_rss_mib(), 0, "MiB", "target <= 512"});

  if (o.live_seconds > 0 && o.live_rate > 0) NEXUM_RETURN_IF_ERROR(run_live_phase(*store, *engine, log, o, rows));
  engine->stop();
  return rows;
}

}  // namespace nexum::bench
