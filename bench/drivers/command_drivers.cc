#include "drivers/command_drivers.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include "bus/kafka_mock_cluster.h"
#include "nexum/bus_config.h"
#include "nexum/command_handler.h"
#include "nexum/json_codec.h"
#include "nexum/kafka_bus.h"
#include "nexum/outbox_relay.h"
#include "nexum/store.h"
#include "nexum/topics.h"
#include "service/system.h"

namespace nexum::bench {
namespace {

using Clock = std::chrono::steady_clock;
using Nanos = std::int64_t;

constexpr const char* kSeqHeader = "nexum_bench_seq";
constexpr const char* kRawTopic = "nexum.bench.raw_commands";
// Topics on which a measured command's outcome shows up first.
constexpr std::array<std::string_view, 5> kOutcomeTopics = {topics::kTransactionsPosted, "nexum.transactions.failed",
                                                            "nexum.accounts.created", "nexum.workflows.rejected",
                                                            topics::kCommandsDlq};

Nanos now_ns() { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count(); }

std::uint64_t mix(std::uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Command ids carry the run and the command's sequence number, so an
// outcome (whose causation_id is the command id) names its command.
std::string command_id(std::uint32_t run, std::uint64_t seq) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%08x-0000-4000-8000-%012" PRIx64, run,
                static_cast<std::uint64_t>(seq & 0xffffffffffffULL));
  return buf;
}
// The sequence number in `id` when it belongs to `run`, else -1.
std::int64_t seq_of(std::string_view id, std::uint32_t run) {
  if (id.size() != 36) return -1;
  char prefix[9];
  std::snprintf(prefix, sizeof prefix, "%08x", run);
  if (id.substr(0, 8) != prefix) return -1;
  return static_cast<std::int64_t>(std::strtoull(std::string(id.substr(24)).c_str(), nullptr, 16));
}

std::string money(std::uint64_t cents) {
  return std::to_string(cents / 100) + "." + (cents % 100 < 10 ? "0" : "") + std::to_string(cents % 100);
}

struct BenchCommand {
  std::string topic;
  std::string key;
  std::optional<EventSchema> event;  // nullopt: poison bytes
  std::string poison;
};

BenchCommand envelope(std::string_view topic, std::string key, const std::string& id, boost::json::object data) {
  BenchCommand c;
  c.topic = std::string(topic);
  c.key = std::move(key);
  c.event =
      EventSchema::make("command", "", "", std::move(data), {{"correlation_id", "bench"}}, SystemClock::instance());
  c.event->event_id = *EventId::parse(id);
  return c;
}

std::string account(std::uint64_t n) { return "acc_" + std::to_string(n); }
std::string customer(std::uint64_t n) { return "cust_" + std::to_string(n); }

// Setup phase p (0: customers, 1: accounts, 2: opening deposits), item i.
BenchCommand setup_command(std::uint32_t run, int phase, std::uint64_t i, std::uint64_t seq) {
  const std::string id = command_id(run, seq);
  if (phase == 0) {
    return envelope(topics::kCommandsCustomers, customer(i), id,
                    {{"action", "create"},
                     {"customer_id", customer(i)},
                     {"first_name", "Bench"},
                     {"last_name", "Customer"},
                     {"email", "c" + std::to_string(i) + "@bank.example"},
                     {"kyc_status", "verified"},
                     {"kyc_tier", "tier_2"}});
  }
  if (phase == 1) {
    return envelope(topics::kCommandsAccounts, account(i), id,
                    {{"action", "open"},
                     {"customer_id", customer(i)},
                     {"account_id", account(i)},
                     {"product_type", "checking"},
                     {"currency", "USD"}});
  }
  return envelope(topics::kCommandsTransactions, account(i), id,
                  {{"action", "deposit"}, {"account_id", account(i)}, {"amount", "1000000.00"}});
}

// The measured mix: 1% poison, 2.5% insufficient funds, 2.5% unknown
// account, 4% account opens, 35% deposits, 25% withdrawals, 30% transfers.
BenchCommand measured_command(std::uint32_t run, std::uint64_t i, std::uint64_t seq, int accounts, bool kafka) {
  const std::uint64_t h = mix(i);
  const std::uint64_t r = h % 1000;
  const std::uint64_t a = (h >> 10) % static_cast<std::uint64_t>(accounts);
  const std::string amount = money(100 + (h >> 40) % 9900);
  const std::string id = command_id(run, seq);
  if (r < 10) {
    if (kafka && i % 2 == 0) {
      BenchCommand c;
      c.topic = std::string(topics::kCommandsTransactions);
      c.key = account(a);
      c.poison = "not a command: " + id;
      return c;
    }
    return envelope(topics::kCommandsTransactions, account(a), id,
                    {{"action", "deposit"}, {"account_id", account(a)}, {"amount", "10.001"}});
  }
  if (r < 35) {
    return envelope(topics::kCommandsTransactions, account(a), id,
                    {{"action", "withdraw"}, {"account_id", account(a)}, {"amount", "50000000.00"}});
  }
  if (r < 60) {
    return envelope(topics::kCommandsTransactions, "acc_missing_" + std::to_string(i), id,
                    {{"action", "deposit"}, {"account_id", "acc_missing_" + std::to_string(i)}, {"amount", amount}});
  }
  if (r < 100) {
    const std::string acc = "acc_new_" + std::to_string(i);
    return envelope(topics::kCommandsAccounts, acc, id,
                    {{"action", "open"},
                     {"customer_id", customer(a)},
                     {"account_id", acc},
                     {"product_type", "savings"},
                     {"currency", "USD"}});
  }
  if (r < 450) {
    return envelope(topics::kCommandsTransactions, account(a), id,
                    {{"action", "deposit"}, {"account_id", account(a)}, {"amount", amount}});
  }
  if (r < 700) {
    return envelope(topics::kCommandsTransactions, account(a), id,
                    {{"action", "withdraw"}, {"account_id", account(a)}, {"amount", amount}});
  }
  const std::uint64_t b =
      (a + 1 + (h >> 24) % static_cast<std::uint64_t>(accounts - 1)) % static_cast<std::uint64_t>(accounts);
  return envelope(
      topics::kCommandsTransactions, account(a), id,
      {{"action", "transfer"}, {"from_account_id", account(a)}, {"to_account_id", account(b)}, {"amount", amount}});
}

// ---- process memory ----

void reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";  // resets VmHWM to the current RSS (Linux >= 4.0)
}
double peak_rss_mib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  }
  return 0;
}

// ---- latency ----

struct Latency {
  double p50 = 0, p99 = 0, p999 = 0;  // milliseconds
};
Latency latency(const std::vector<Nanos>& produced, const std::vector<Nanos>& outcome) {
  std::vector<Nanos> d;
  d.reserve(produced.size());
  for (std::size_t i = 0; i < produced.size(); ++i) {
    if (produced[i] != 0 && outcome[i] != 0) d.push_back(outcome[i] - produced[i]);
  }
  if (d.empty()) return {};
  std::sort(d.begin(), d.end());
  auto at = [&](double q) {
    return static_cast<double>(d[std::min(d.size() - 1, static_cast<std::size_t>(q * static_cast<double>(d.size())))]) /
           1e6;
  };
  return {at(0.5), at(0.99), at(0.999)};
}

// Where the measured commands' outcomes arrive: first arrival per command.
// Thread-safe (record from any thread).
class Outcomes {
 public:
  Outcomes(std::uint32_t run, std::size_t n) : run_(run), times_(n) {
    for (auto& t : times_) t.store(0);
  }
  void record(std::string_view command_id, Nanos at) {
    const std::int64_t seq = seq_of(command_id, run_);
    if (seq < 0 || static_cast<std::size_t>(seq) >= times_.size()) return;
    Nanos expected = 0;
    if (times_[static_cast<std::size_t>(seq)].compare_exchange_strong(expected, at)) {
      count_.fetch_add(1);
      Nanos last = last_.load();
      while (at > last && !last_.compare_exchange_weak(last, at)) {
      }
    }
  }
  std::size_t count() const { return count_.load(); }
  Nanos last() const { return last_.load(); }
  std::vector<Nanos> times() const {
    std::vector<Nanos> out(times_.size());
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = times_[i].load();
    return out;
  }
  // Waits for every outcome; `progress` is called every 5 s (a line on stderr).
  bool wait_all(std::chrono::seconds timeout, const std::function<std::string()>& progress = {}) const {
    const auto deadline = Clock::now() + timeout;
    auto next_report = Clock::now() + std::chrono::seconds(5);
    while (count() < times_.size()) {
      if (Clock::now() >= deadline) return false;
      if (progress && Clock::now() >= next_report) {
        std::fprintf(stderr, "  ... %zu of %zu outcomes; %s\n", count(), times_.size(), progress().c_str());
        next_report += std::chrono::seconds(5);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
  }

 private:
  const std::uint32_t run_;
  std::vector<std::atomic<Nanos>> times_;
  std::atomic<std::size_t> count_{0};
  std::atomic<Nanos> last_{0};
};

// The command id an outcome message names: header nexum_bench_seq (the DLQ
// keeps the command's headers; raw baseline), else metadata.causation_id.
std::string_view causation_id(std::string_view payload) {
  constexpr std::string_view kField = "\"causation_id\":\"";
  const std::size_t at = payload.find(kField);
  if (at == std::string_view::npos || payload.size() < at + kField.size() + 36) return {};
  return payload.substr(at + kField.size(), 36);
}

// ---- raw librdkafka clients ----

struct RdKafka {
  rd_kafka_t* rk = nullptr;
  ~RdKafka() {
    if (rk != nullptr) rd_kafka_destroy(rk);
  }
};

Result<rd_kafka_t*> new_client(rd_kafka_type_t type, const std::string& bootstrap,
                               const std::vector<std::pair<std::string, std::string>>& props) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::vector<std::pair<std::string, std::string>> all = {{"bootstrap.servers", bootstrap}, {"log_level", "3"}};
  all.insert(all.end(), props.begin(), props.end());
  for (const auto& [k, v] : all) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return Status::invalid_argument(k + ": " + err);
    }
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (rk == nullptr) return Status::unavailable(std::string("kafka client: ") + err);
  return rk;
}

Result<int> partition_count(rd_kafka_t* rk, const std::string& topic) {
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, t, &md, 10000);
  rd_kafka_topic_destroy(t);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return Status::unavailable("metadata of " + topic + ": " + rd_kafka_err2str(err));
  int n = md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR ? md->topics[0].partition_cnt : 0;
  rd_kafka_metadata_destroy(md);
  if (n <= 0) return Status::not_found("topic " + topic + " does not exist on the cluster: create it first");
  return n;
}

// Creates `topics` with `partitions` partitions and replication factor
// min(3, brokers) on a real cluster; topics that exist are left as they are.
Status create_topics(const std::string& bootstrap, const std::vector<std::string>& topics, int partitions) {
  Result<rd_kafka_t*> rk = new_client(RD_KAFKA_PRODUCER, bootstrap, {});
  if (!rk) return rk.error();
  RdKafka client{*rk};
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(client.rk, 0, nullptr, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::unavailable("cluster metadata unavailable");
  }
  const int replication = std::min(3, md->broker_cnt);
  rd_kafka_metadata_destroy(md);
  std::vector<rd_kafka_NewTopic_t*> new_topics;
  char err[512];
  for (const std::string& t : topics) {
    rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(t.c_str(), partitions, replication, err, sizeof err);
    if (nt == nullptr) return Status::invalid_argument(t + ": " + err);
    new_topics.push_back(nt);
  }
  rd_kafka_queue_t* queue = rd_kafka_queue_new(client.rk);
  rd_kafka_CreateTopics(client.rk, new_topics.data(), new_topics.size(), nullptr, queue);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, 30000);
  Status status;
  if (ev == nullptr) {
    status = Status::unavailable("CreateTopics timed out");
  } else {
    const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(ev);
    std::size_t n = 0;
    const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &n);
    for (std::size_t i = 0; i < n && status.ok(); ++i) {
      const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        status = Status::unavailable(std::string("create topic ") + rd_kafka_topic_result_name(results[i]) + ": " +
                                     rd_kafka_err2str(e));
      }
    }
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_queue_destroy(queue);
  for (rd_kafka_NewTopic_t* nt : new_topics) rd_kafka_NewTopic_destroy(nt);
  if (!status.ok()) return status;
  // The metadata reaches every broker a moment after the controller created the topic.
  for (const std::string& t : topics) {
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (!partition_count(client.rk, t)) {
      if (Clock::now() > deadline) return Status::unavailable("topic " + t + " not in the metadata after 30 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  return status;
}

// The high watermark of every partition of `topics`, as an offset list.
Result<rd_kafka_topic_partition_list_t*> end_offsets(rd_kafka_t* rk, const std::vector<std::string>& topics) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(64);
  for (const std::string& t : topics) {
    Result<int> n = partition_count(rk, t);
    if (!n) {
      rd_kafka_topic_partition_list_destroy(list);
      return n.error();
    }
    for (int p = 0; p < *n; ++p) {
      std::int64_t lo = 0, hi = 0;
      rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, t.c_str(), p, &lo, &hi, 10000);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_topic_partition_list_destroy(list);
        return Status::unavailable("watermarks of " + t + ": " + rd_kafka_err2str(err));
      }
      rd_kafka_topic_partition_list_add(list, t.c_str(), p)->offset = hi;
    }
  }
  return list;
}

// A fresh consumer group starts at the end of the command topics (what was
// sent in earlier runs stays behind it).
Status commit_group_at_end(const std::string& bootstrap, const std::string& group,
                           const std::vector<std::string>& topics) {
  Result<rd_kafka_t*> rk = new_client(RD_KAFKA_CONSUMER, bootstrap, {{"group.id", group}});
  if (!rk) return rk.error();
  RdKafka client{*rk};
  Result<rd_kafka_topic_partition_list_t*> offsets = end_offsets(client.rk, topics);
  if (!offsets) return offsets.error();
  rd_kafka_resp_err_t err = rd_kafka_commit(client.rk, *offsets, 0);
  rd_kafka_topic_partition_list_destroy(*offsets);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return Status::unavailable(std::string("commit group start: ") + rd_kafka_err2str(err));
  return Status();
}

// Reads `topics` from their current ends on its own thread and records
// outcomes (a plain assign()ed consumer, as a downstream service would).
class KafkaOutcomeReader {
 public:
  static Result<std::unique_ptr<KafkaOutcomeReader>> start(const std::string& bootstrap,
                                                           const std::vector<std::string>& topics, Outcomes& out) {
    Result<rd_kafka_t*> rk =
        new_client(RD_KAFKA_CONSUMER, bootstrap,
                   {{"group.id", "nexum-bench-reader"}, {"enable.auto.commit", "false"}, {"fetch.wait.max.ms", "5"}});
    if (!rk) return rk.error();
    auto reader = std::unique_ptr<KafkaOutcomeReader>(new KafkaOutcomeReader(*rk, out));
    rd_kafka_poll_set_consumer(reader->client_.rk);
    Result<rd_kafka_topic_partition_list_t*> offsets = end_offsets(reader->client_.rk, topics);
    if (!offsets) return offsets.error();
    rd_kafka_assign(reader->client_.rk, *offsets);
    rd_kafka_topic_partition_list_destroy(*offsets);
    reader->thread_ = std::thread([r = reader.get()] { r->run(); });
    return reader;
  }
  ~KafkaOutcomeReader() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    rd_kafka_consumer_close(client_.rk);
  }

 private:
  KafkaOutcomeReader(rd_kafka_t* rk, Outcomes& out) : out_(out) { client_.rk = rk; }
  void run() {
    while (!stop_.load()) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(client_.rk, 50);
      if (m == nullptr) continue;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const Nanos at = now_ns();
        rd_kafka_headers_t* headers = nullptr;
        const void* value = nullptr;
        std::size_t size = 0;
        if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            rd_kafka_header_get_last(headers, kSeqHeader, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR) {
          out_.record(std::string_view(static_cast<const char*>(value), size), at);
        } else if (m->payload != nullptr) {
          out_.record(causation_id(std::string_view(static_cast<const char*>(m->payload), m->len)), at);
        }
      }
      rd_kafka_message_destroy(m);
    }
  }
  RdKafka client_;
  Outcomes& out_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Produces the measured commands (or, with `raw_topic`, the same bytes to
// one baseline topic) as a client would: one idempotent producer, acks=all,
// keyed by entity, open loop at `rate` (0: as fast as the producer takes them).
Status produce_commands(const std::string& bootstrap, std::uint32_t run, const CommandBenchOptions& o,
                        std::uint64_t first_seq, double rate, const std::string& raw_topic,
                        std::vector<Nanos>& produced) {
  Result<rd_kafka_t*> rk = new_client(RD_KAFKA_PRODUCER, bootstrap,
                                      {{"enable.idempotence", "true"},
                                       {"acks", "all"},
                                       {"linger.ms", "2"},
                                       {"queue.buffering.max.messages", "1000000"}});
  if (!rk) return rk.error();
  RdKafka p{*rk};
  const auto start = Clock::now();
  for (std::int64_t i = 0; i < o.commands; ++i) {
    if (rate > 0) {
      const auto due = start + std::chrono::nanoseconds(static_cast<std::int64_t>(1e9 * static_cast<double>(i) / rate));
      if (Clock::now() < due) std::this_thread::sleep_until(due);
    }
    const std::uint64_t seq = first_seq + static_cast<std::uint64_t>(i);
    BenchCommand c = measured_command(run, static_cast<std::uint64_t>(i), seq, o.accounts, true);
    const std::string value = c.event ? encode_event_json(*c.event) : c.poison;
    const std::string id = command_id(run, seq);
    const std::string& topic = raw_topic.empty() ? c.topic : raw_topic;
    produced[static_cast<std::size_t>(i)] = now_ns();
    for (;;) {
      rd_kafka_headers_t* h = rd_kafka_headers_new(1);
      rd_kafka_header_add(h, kSeqHeader, -1, id.data(), static_cast<ssize_t>(id.size()));
      rd_kafka_resp_err_t e =
          rd_kafka_producev(p.rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(c.key.data(), c.key.size()),
                            RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      rd_kafka_headers_destroy(h);
      if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return Status::unavailable(std::string("produce: ") + rd_kafka_err2str(e));
      rd_kafka_poll(p.rk, 5);
    }
    rd_kafka_poll(p.rk, 0);
  }
  if (rd_kafka_flush(p.rk, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return Status::unavailable("producer flush timed out");
  return Status();
}

// Produces setup commands (no header, keyed) and waits for `handled()` to
// count them all.
template <typename Handled>
Status run_setup_kafka(const std::string& bootstrap, std::uint32_t run, const CommandBenchOptions& o, Handled handled) {
  Result<rd_kafka_t*> rk = new_client(RD_KAFKA_PRODUCER, bootstrap,
                                      {{"enable.idempotence", "true"},
                                       {"acks", "all"},
                                       {"linger.ms", "5"},
                                       {"queue.buffering.max.messages", "1000000"}});
  if (!rk) return rk.error();
  RdKafka p{*rk};
  std::uint64_t seq = 1u << 30;  // setup ids never collide with measured ones
  std::uint64_t sent = 0;
  for (int phase = 0; phase < 3; ++phase) {
    for (int i = 0; i < o.accounts; ++i) {
      BenchCommand c = setup_command(run, phase, static_cast<std::uint64_t>(i), seq++);
      const std::string value = encode_event_json(*c.event);
      while (true) {
        rd_kafka_resp_err_t e =
            rd_kafka_producev(p.rk, RD_KAFKA_V_TOPIC(c.topic.c_str()), RD_KAFKA_V_KEY(c.key.data(), c.key.size()),
                              RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
          return Status::unavailable(std::string("produce: ") + rd_kafka_err2str(e));
        rd_kafka_poll(p.rk, 5);
      }
      rd_kafka_poll(p.rk, 0);
    }
    sent += static_cast<std::uint64_t>(o.accounts);
    rd_kafka_flush(p.rk, 60000);
    const auto deadline = Clock::now() + std::chrono::minutes(5);
    while (handled() < sent) {
      if (Clock::now() > deadline) return Status::unavailable("setup phase " + std::to_string(phase) + " timed out");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  return Status();
}

// Waits until the relay has carried every stored event to the bus.
Status wait_relayed(service::System& system) {
  const std::int64_t last = system.store().last_position();
  if (!system.relay().wait_until_relayed(last, std::chrono::minutes(2))) {
    return Status::unavailable("setup: the relay did not reach position " + std::to_string(last) + " in 2 min");
  }
  return Status();
}

// CPU time of the whole process (every thread: ours, librdkafka's, the mock
// brokers', the bench's producer and reader), in seconds. On a machine shared
// with other work, CPU per command moves far less than commands/s.
double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Time the process's threads spent runnable but waiting for a CPU
// (/proc/self/task/*/schedstat, second field), in seconds, summed over the
// threads alive now. On a shared machine this is the part of a latency tail
// that is the machine's, not the pipeline's.
double run_queue_wait_seconds() {
  double total = 0;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::ifstream f(task.path() / "schedstat");
    double on_cpu = 0, waiting = 0;
    if (f >> on_cpu >> waiting) total += waiting / 1e9;
  }
  return total;
}

struct RunResult {
  double rate = 0;  // commands/s, first produce to last outcome
  Latency latency;
  double peak_rss_mib = 0;
  double cpu_us_per_command = 0;  // process CPU from the first produce to the last outcome, per command
  double cpu_wait_ms_per_s = 0;   // run-queue wait of the process's threads per second of the run
  std::string note;
};

// One line per command: seconds since the first produce, latency in ms (-1: no outcome).
void write_latency_log(const std::string& path, const std::vector<Nanos>& produced, const std::vector<Nanos>& outcome) {
  std::ofstream f(path);
  const Nanos first = produced.empty() ? 0 : produced.front();
  f << std::fixed << "# first produce at steady_clock " << static_cast<double>(first) / 1e9 << " s\n";
  for (std::size_t i = 0; i < produced.size(); ++i) {
    const double at = static_cast<double>(produced[i] - first) / 1e9;
    const double ms = outcome[i] != 0 ? static_cast<double>(outcome[i] - produced[i]) / 1e6 : -1;
    f << at << ' ' << ms << '\n';
  }
}

RunResult finish_run(const std::vector<Nanos>& produced, const Outcomes& outcomes, double cpu_start, double wait_start,
                     const std::string& latency_log = "") {
  RunResult r;
  if (!latency_log.empty()) write_latency_log(latency_log, produced, outcomes.times());
  if (!produced.empty())
    r.cpu_us_per_command = (process_cpu_seconds() - cpu_start) * 1e6 / static_cast<double>(produced.size());
  const Nanos first = produced.empty() ? 0 : produced.front();
  const double seconds = static_cast<double>(outcomes.last() - first) / 1e9;
  r.rate = seconds > 0 ? static_cast<double>(produced.size()) / seconds : 0;
  if (seconds > 0) r.cpu_wait_ms_per_s = (run_queue_wait_seconds() - wait_start) * 1e3 / seconds;
  r.latency = latency(produced, outcomes.times());
  r.peak_rss_mib = peak_rss_mib();
  return r;
}

std::vector<std::string> command_topic_names() {
  std::vector<std::string> out;
  for (std::string_view t : topics::command_topics()) {
    if (t != topics::kCommandsDlq) out.emplace_back(t);
  }
  return out;
}

// The Kafka path: what `nexum serve --bus kafka` runs (the running system
// the composition root builds, without projections and saga).
Result<RunResult> run_kafka_path(const std::string& bootstrap, std::uint32_t run, const CommandBenchOptions& o,
                                 double rate, const std::string& latency_log) {
  const std::string dir = o.dir + "/kafka-" + std::to_string(run);
  std::filesystem::remove_all(dir);
  reset_peak_rss();
  service::SystemOptions options;
  options.data_dir = dir;
  options.projections = false;
  options.loan_saga = false;
  options.bus.type = BusType::kKafka;
  options.bus.bootstrap_servers = bootstrap;
  options.bus.client_id = "nexum-bench";
  options.bus.kafka_properties = {{"log_level", "3"}};
  // As the outcome reader: a fetch returns after at most 5 ms (the mock
  // broker answers a fetch only when it times out or has data at once).
  options.bus.kafka_consumer_properties = {{"fetch.wait.max.ms", "5"}};
  // Every topic the relay and the dead letters go to is looked up at start:
  // the setup only produces to some of them, and the first message to a topic
  // the producer has not seen waits for its metadata (~0.85 s on the mock).
  for (std::string_view t : topics::outbound_topics()) options.bus.kafka_warm_topics.emplace_back(t);
  options.bus.kafka_warm_topics.emplace_back(topics::kCommandsDlq);
  options.relay.name = "bench_relay";
  // One pipelined consumer for the command topics, in a group of this run.
  options.intake.topics = command_topic_names();
  options.intake.group_id = "nexum-bench-commands-" + std::to_string(run);
  NEXUM_RETURN_IF_ERROR(commit_group_at_end(bootstrap, options.intake.group_id, options.intake.topics));
  NEXUM_ASSIGN_OR_RETURN(std::unique_ptr<service::System> system, service::System::start(std::move(options)));
  NEXUM_RETURN_IF_ERROR(system->wait_until_commands_assigned(std::chrono::seconds(60)));
  EventStore& store = system->store();
  service::BusSwitch& buses = system->buses();

  NEXUM_RETURN_IF_ERROR(run_setup_kafka(bootstrap, run, o, [&] {
    PipelinedConsumerStats s = buses.intake_stats();
    return s.handled + s.dead_lettered;
  }));
  // The setup's outcome events are relayed before the first measured command:
  // the relay goes in log order, so a backlog left here would delay the first
  // measured outcomes by however long it takes to drain (~1 s for 3 k accounts).
  NEXUM_RETURN_IF_ERROR(wait_relayed(*system));

  Outcomes outcomes(run, static_cast<std::size_t>(o.commands));
  std::vector<std::string> outcome_topics(kOutcomeTopics.begin(), kOutcomeTopics.end());
  auto reader = KafkaOutcomeReader::start(bootstrap, outcome_topics, outcomes);
  if (!reader) return reader.error();
  std::vector<Nanos> produced(static_cast<std::size_t>(o.commands));
  const double cpu_start = process_cpu_seconds();
  const double wait_start = run_queue_wait_seconds();
  NEXUM_RETURN_IF_ERROR(produce_commands(bootstrap, run, o, 0, rate, "", produced));
  const bool all = outcomes.wait_all(std::chrono::minutes(10), [&] {
    const PipelinedConsumerStats c = buses.intake_stats();
    const RelayStats rs = system->relay().stats();
    return "consumed " + std::to_string(c.consumed) + ", handled " + std::to_string(c.handled) + ", pauses " +
           std::to_string(c.pauses) + ", store at " + std::to_string(store.last_position()) + ", relayed " +
           std::to_string(rs.checkpoint);
  });
  RunResult r = finish_run(produced, outcomes, cpu_start, wait_start, latency_log);
  const CommandHandlerStats hs = system->handler().stats();
  const PipelinedConsumerStats cs = buses.intake_stats();
  r.note = "accepted " + std::to_string(hs.accepted) + ", rejected " + std::to_string(hs.rejected) +
           ", dead-lettered " + std::to_string(cs.dead_lettered) + ", duplicates " + std::to_string(hs.duplicates) +
           ", conflict retries " + std::to_string(hs.conflict_retries) + ", pauses " + std::to_string(cs.pauses) +
           " (setup " + std::to_string(3 * o.accounts) + " included)";
  reader->reset();
  NEXUM_RETURN_IF_ERROR(system->stop());
  if (!all) {
    return Status::unavailable("Kafka path: " + std::to_string(outcomes.count()) + " of " + std::to_string(o.commands) +
                               " outcomes seen in 10 min; " + r.note);
  }
  return r;
}

// Raw librdkafka: the same messages produced to one topic and consumed
// back, no store: the ceiling of the Kafka path.
Result<RunResult> run_raw_baseline(const std::string& bootstrap, std::uint32_t run, const CommandBenchOptions& o) {
  Outcomes outcomes(run, static_cast<std::size_t>(o.commands));
  auto reader = KafkaOutcomeReader::start(bootstrap, {kRawTopic}, outcomes);
  if (!reader) return reader.error();
  std::vector<Nanos> produced(static_cast<std::size_t>(o.commands));
  const double cpu_start = process_cpu_seconds();
  const double wait_start = run_queue_wait_seconds();
  NEXUM_RETURN_IF_ERROR(produce_commands(bootstrap, run, o, 0, 0, kRawTopic, produced));
  if (!outcomes.wait_all(std::chrono::minutes(5))) return Status::unavailable("raw baseline: messages missing");
  return finish_run(produced, outcomes, cpu_start, wait_start);
}

// The in-memory bus path (`nexum demo`'s): commands published to the bus,
// handled by `memory_workers` keyed threads, outcomes relayed to the bus.
Result<RunResult> run_memory_path(std::uint32_t run, const CommandBenchOptions& o) {
  const std::string dir = o.dir + "/memory-" + std::to_string(run);
  std::filesystem::remove_all(dir);
  reset_peak_rss();
  service::SystemOptions options;
  options.data_dir = dir;
  options.projections = false;
  options.loan_saga = false;
  options.bus.memory_max_events = 0;
  options.commands.local_workers = static_cast<std::size_t>(o.memory_workers);
  // Declared before the system: its bus calls the outcome subscriptions until it stops.
  Outcomes outcomes(run, static_cast<std::size_t>(o.commands));
  NEXUM_ASSIGN_OR_RETURN(std::unique_ptr<service::System> system, service::System::start(std::move(options)));
  EventStore* store = &system->store();
  EventBus& bus = *system->bus();
  NexumCommandHandler* handler = &system->handler();
  for (std::string_view t : kOutcomeTopics) {
    NEXUM_RETURN_IF_ERROR(bus.subscribe(t, [&outcomes, dlq = t == topics::kCommandsDlq](const EventSchema& e) {
      const Nanos at = now_ns();
      if (dlq) {
        outcomes.record(e.event_id.to_string(), at);
      } else if (const boost::json::value* c = e.metadata.if_contains("causation_id"); c && c->is_string()) {
        outcomes.record(std::string_view(c->get_string()), at);
      }
      return Status();
    }));
  }

  std::uint64_t seq = 1u << 30;
  for (int phase = 0; phase < 3; ++phase) {
    for (int i = 0; i < o.accounts; ++i) {
      BenchCommand c = setup_command(run, phase, static_cast<std::uint64_t>(i), seq++);
      NEXUM_RETURN_IF_ERROR(bus.publish(c.topic, *c.event, c.key));
    }
    const std::uint64_t want = static_cast<std::uint64_t>(o.accounts) * static_cast<std::uint64_t>(phase + 1);
    while (handler->stats().handled() < want) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  NEXUM_RETURN_IF_ERROR(wait_relayed(*system));
  std::vector<Nanos> produced(static_cast<std::size_t>(o.commands));
  const double cpu_start = process_cpu_seconds();
  const double wait_start = run_queue_wait_seconds();
  for (std::int64_t i = 0; i < o.commands; ++i) {
    BenchCommand c =
        measured_command(run, static_cast<std::uint64_t>(i), static_cast<std::uint64_t>(i), o.accounts, false);
    produced[static_cast<std::size_t>(i)] = now_ns();
    NEXUM_RETURN_IF_ERROR(bus.publish(c.topic, *c.event, c.key));
  }
  const bool all = outcomes.wait_all(std::chrono::minutes(10), [&] {
    return "handled " + std::to_string(handler->stats().handled()) + ", store at " +
           std::to_string(store->last_position());
  });
  RunResult r = finish_run(produced, outcomes, cpu_start, wait_start);
  const CommandHandlerStats hs = handler->stats();
  r.note = "accepted " + std::to_string(hs.accepted) + ", rejected " + std::to_string(hs.rejected) +
           ", dead-lettered " + std::to_string(hs.dead_letters_published) + " (setup included)";
  NEXUM_RETURN_IF_ERROR(system->stop());  // the handler's workers drain, the relay stops
  if (!all) return Status::unavailable("memory path: outcomes missing: " + r.note);
  return r;
}

void add_latency_rows(std::vector<BenchRow>& rows, const std::string& what, const Latency& ours,
                      const Latency* baseline, const std::string& note) {
  rows.push_back({what + " p50", ours.p50, baseline ? baseline->p50 : 0, "ms", note});
  rows.push_back({what + " p99", ours.p99, baseline ? baseline->p99 : 0, "ms", ""});
  rows.push_back({what + " p99.9", ours.p999, baseline ? baseline->p999 : 0, "ms", ""});
}

}  // namespace

Result<std::vector<BenchRow>> run_command_bench(const CommandBenchOptions& o) {
  if (o.commands <= 0) return Status::invalid_argument("commands: must be positive");
  if (o.accounts < 2) return Status::invalid_argument("accounts: at least 2");
  if (o.bus != "kafka" && o.bus != "memory") return Status::invalid_argument("bus: memory or kafka");
  std::filesystem::create_directories(o.dir);
  // ~1 % of the commands are poison by design: one warning each would bury the table.
  const spdlog::level::level_enum log_level = spdlog::get_level();
  spdlog::set_level(spdlog::level::err);
  struct RestoreLevel {
    spdlog::level::level_enum level;
    ~RestoreLevel() { spdlog::set_level(level); }
  } restore{log_level};
  const auto run_base =
      static_cast<std::uint32_t>(std::chrono::system_clock::now().time_since_epoch().count() / 1000 & 0x0fffffff);
  std::vector<BenchRow> rows;
  const std::string n = std::to_string(o.commands);

  // The memory-bus path is measured in every run: it is the Kafka path's second baseline.
  Result<RunResult> memory = run_memory_path(run_base + 1, o);
  if (!memory) return memory.error();
  if (o.bus == "memory") {
    rows.push_back({"commands, memory bus, " + n + " commands", memory->rate, 0, "commands/s", memory->note});
    add_latency_rows(rows, "  publish -> outcome on the bus", memory->latency, nullptr, "");
    rows.push_back({"  CPU per command", memory->cpu_us_per_command, 0, "us",
                    "process CPU (all threads) / commands; machine load moves it far less than the rate"});
    rows.push_back({"peak RSS", memory->peak_rss_mib, 0, "MiB", ""});
    return rows;
  }

  std::unique_ptr<KafkaMockCluster> cluster;
  std::string bootstrap = o.kafka;
  if (bootstrap.empty()) {
    auto c = KafkaMockCluster::create(3);
    if (!c) return c.error();
    cluster = std::move(c).value();
    bootstrap = cluster->bootstrap_servers();
    for (std::string_view t : topics::command_topics()) NEXUM_RETURN_IF_ERROR(cluster->create_topic(t, o.partitions));
    for (std::string_view t : topics::outbound_topics()) NEXUM_RETURN_IF_ERROR(cluster->create_topic(t, o.partitions));
    NEXUM_RETURN_IF_ERROR(cluster->create_topic(kRawTopic, o.partitions));
  }
  if (!o.kafka.empty()) {
    std::vector<std::string> names;
    for (std::string_view t : topics::command_topics()) names.emplace_back(t);
    for (std::string_view t : topics::outbound_topics()) names.emplace_back(t);
    names.emplace_back(kRawTopic);
    NEXUM_RETURN_IF_ERROR(create_topics(bootstrap, names, o.partitions));
  }
  const std::string where = o.kafka.empty() ? "mock cluster" : "cluster " + o.kafka;

  auto raw = run_raw_baseline(bootstrap, run_base + 2, o);
  if (!raw) return raw.error();
  auto full = run_kafka_path(bootstrap, run_base + 3, o, o.rate, o.latency_log.empty() ? "" : o.latency_log + ".max");
  if (!full) return full.error();
  auto half =
      run_kafka_path(bootstrap, run_base + 4, o, full->rate / 2, o.latency_log.empty() ? "" : o.latency_log + ".half");
  if (!half) return half.error();

  rows.push_back({"commands, Kafka (" + where + "), " + n + " commands", full->rate, raw->rate, "commands/s",
                  "baseline: raw librdkafka produce+consume of the same messages, no store"});
  rows.push_back({"  vs the memory-bus path", full->rate, memory->rate, "commands/s",
                  "baseline: " + std::to_string(o.memory_workers) + " keyed workers, in-memory bus"});
  add_latency_rows(rows, "  produce -> outcome consumed, max rate", full->latency, &raw->latency,
                   "baseline: raw produce -> consume");
  rows.push_back({"  half rate: offered", full->rate / 2, 0, "commands/s",
                  "achieved " + std::to_string(static_cast<long>(half->rate))});
  add_latency_rows(rows, "  produce -> outcome consumed, half rate", half->latency, nullptr, "");
  rows.push_back({"  half rate: threads waiting for a CPU", half->cpu_wait_ms_per_s, full->cpu_wait_ms_per_s, "ms/s",
                  "run-queue wait summed over the process's threads per second of the run (baseline: the max-rate "
                  "run's); what a loaded machine adds to the latency"});
  rows.push_back({"  CPU per command, max rate", full->cpu_us_per_command, raw->cpu_us_per_command, "us",
                  "process CPU (all threads, mock brokers included) / commands; baseline: the raw run's"});
  rows.push_back({"  CPU per command vs the memory-bus path", full->cpu_us_per_command, memory->cpu_us_per_command,
                  "us", "the difference is Kafka's share: client, mock brokers, three hops"});
  rows.push_back({"  peak RSS (Kafka path, max rate)", full->peak_rss_mib, 0, "MiB", full->note});
  rows.push_back({"memory-bus path", memory->rate, 0, "commands/s", memory->note});
  add_latency_rows(rows, "  publish -> outcome on the bus", memory->latency, nullptr, "");
  rows.push_back({"  CPU per command", memory->cpu_us_per_command, 0, "us", ""});
  return rows;
}

}  // namespace nexum::bench
