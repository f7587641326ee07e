#include "drivers/cluster_drivers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include <librdkafka/rdkafka.h>
#include <boost/json.hpp>

#include "cluster/cluster_node.h"
#include "cluster/cluster_topics.h"
#include "cluster/shard_partitioner.h"
#include "nexum/clock.h"
#include "nexum/event.h"
#include "nexum/json_codec.h"
#include "nexum/topics.h"

namespace nexum::bench {
namespace {

using Clock = std::chrono::steady_clock;
using Nanos = std::int64_t;
using namespace std::chrono_literals;

Nanos now_ns() { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count(); }
double seconds_between(Nanos a, Nanos b) { return static_cast<double>(b - a) / 1e9; }

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
}

// ---- one `nexum serve --cluster` child process ----

class NodeProcess {
 public:
  NodeProcess(int id, std::string data, std::string log) : id_(id), data_(std::move(data)), log_(std::move(log)) {}
  ~NodeProcess() { kill9(); }

  Status start(const std::string& bootstrap, const std::string& prefix, int session_timeout_ms) {
    std::vector<std::string> args = {"/proc/self/exe",
                                     "serve",
                                     "--cluster",
                                     "--kafka",
                                     bootstrap,
                                     "--data",
                                     data_,
                                     "--node-id",
                                     std::to_string(id_),
                                     "--topic-prefix",
                                     prefix,
                                     "--session-timeout-ms",
                                     std::to_string(session_timeout_ms),
                                     "--http",
                                     "127.0.0.1:0"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) return Status::unavailable("cannot open " + log_);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execv("/proc/self/exe", argv.data());
      _exit(127);
    }
    ::close(fd);
    if (pid_ < 0) return Status::unavailable("fork failed");
    port_ = 0;
    const auto deadline = Clock::now() + 60s;
    while (port_ == 0) {
      if (Clock::now() > deadline)
        return Status::unavailable("node " + std::to_string(id_) + " did not listen in 60 s");
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return Status::unavailable("node " + std::to_string(id_) + " exited at start; see " + log_);
      }
      port_ = read_port();
      std::this_thread::sleep_for(50ms);
    }
    return Status();
  }
  void kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // SIGTERM and wait (the node hands its shards over); SIGKILL after 60 s.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + 60s;
    while (Clock::now() < deadline) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(50ms);
    }
    kill9();
  }
  // User + system CPU seconds of the process so far (every thread).
  double cpu_seconds() const {
    if (pid_ <= 0) return 0;
    std::ifstream f("/proc/" + std::to_string(pid_) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto close = stat.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream in(stat.substr(close + 2));
    std::string field;
    double ticks = 0;
    for (int i = 3; i <= 15 && in >> field; ++i) {
      if (i == 14 || i == 15) ticks += std::strtod(field.c_str(), nullptr);  // utime, stime
    }
    return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  // A field of /proc/PID/status ("VmRSS" in kB, "Threads"); 0 when not running.
  double status_field(const std::string& name) const {
    if (pid_ <= 0) return 0;
    std::ifstream f("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(f, line)) {
      if (line.rfind(name + ":", 0) == 0) return std::strtod(line.c_str() + name.size() + 1, nullptr);
    }
    return 0;
  }
  int id() const { return id_; }
  std::uint16_t port() const { return port_; }
  const std::string& data() const { return data_; }

 private:
  std::uint16_t read_port() const {
    std::ifstream in(log_);
    std::string line;
    std::uint16_t port = 0;
    const std::string tag = "listening on http://127.0.0.1:";
    while (std::getline(in, line)) {
      if (line.rfind(tag, 0) == 0) port = static_cast<std::uint16_t>(std::stoi(line.substr(tag.size())));
    }
    return port;
  }

  const int id_;
  const std::string data_;
  const std::string log_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

// GET http://127.0.0.1:port/path; the body of a 200, else an error.
Result<std::string> http_get(std::uint16_t port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Status::unavailable("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return Status::unavailable("connect to port " + std::to_string(port));
  }
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return Status::unavailable("send");
  }
  std::string reply;
  char buf[16384];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) reply.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  const auto body = reply.find("\r\n\r\n");
  if (reply.rfind("HTTP/1.1 200", 0) != 0 || body == std::string::npos) {
    return Status::unavailable("GET " + path + ": " + reply.substr(0, 200));
  }
  return reply.substr(body + 4);
}

// ---- librdkafka clients ----

using Props = std::vector<std::pair<std::string, std::string>>;

// A client on `bootstrap` with `props`; `configure` may set callbacks on the
// conf. nullptr (the reason on stderr) when it cannot be made.
rd_kafka_t* new_client(rd_kafka_type_t type, const std::string& bootstrap, const Props& props,
                       const std::function<void(rd_kafka_conf_t*)>& configure = {}) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  Props all = {{"bootstrap.servers", bootstrap}, {"log_level", "3"}};
  all.insert(all.end(), props.begin(), props.end());
  for (const auto& [k, v] : all) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "bench cluster: %s: %s\n", k.c_str(), err);
    }
  }
  if (configure) configure(conf);
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (rk == nullptr) {
    std::fprintf(stderr, "bench cluster: kafka client: %s\n", err);
    rd_kafka_conf_destroy(conf);
  }
  return rk;
}

// A consumer (no group membership: assigned) on `bootstrap`.
rd_kafka_t* new_reader(const std::string& bootstrap, const std::string& name, const Props& props = {}) {
  Props all = {{"group.id", name}, {"enable.auto.commit", "false"}};
  all.insert(all.end(), props.begin(), props.end());
  rd_kafka_t* rk = new_client(RD_KAFKA_CONSUMER, bootstrap, all);
  if (rk != nullptr) rd_kafka_poll_set_consumer(rk);
  return rk;
}

// Assigns `rk` every partition of `topic` from its start.
void read_from_start(rd_kafka_t* rk, const std::string& topic, int partitions) {
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
}

// ---- the changelog, watched: when each command's outcome landed, by which node ----

struct Arrival {
  Nanos at = 0;
  int shard = -1;
  std::string node;
  std::size_t bytes = 0;
  std::size_t events = 0;
};

class ChangelogWatcher {
 public:
  ChangelogWatcher(const std::string& bootstrap, const std::string& topic, int partitions) {
    rk_ = new_reader(bootstrap, "nexum-bench-watcher", {{"fetch.wait.max.ms", "10"}, {"fetch.error.backoff.ms", "10"}});
    if (rk_ == nullptr) return;
    read_from_start(rk_, topic, partitions);
    thread_ = std::thread([this] { run(); });
  }
  ~ChangelogWatcher() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (rk_ != nullptr) {
      rd_kafka_consumer_close(rk_);
      rd_kafka_destroy(rk_);
    }
  }
  bool ok() const { return rk_ != nullptr; }
  std::optional<Arrival> find(const std::string& command_id) const {
    std::lock_guard lock(mu_);
    auto it = arrivals_.find(command_id);
    if (it == arrivals_.end()) return std::nullopt;
    return it->second;
  }
  // Waits until every id in `ids` has an outcome.
  bool wait_all(const std::vector<std::string>& ids, std::chrono::seconds timeout) const {
    const auto deadline = Clock::now() + timeout;
    std::size_t from = 0;
    while (from < ids.size()) {
      if (find(ids[from])) {
        ++from;
        continue;
      }
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }
  // When the first outcome of an owner that took `shard` over after `since`
  // (its marker arrived after it) arrived: the shard served again.
  std::optional<Nanos> first_served_after(int shard, Nanos since) const {
    std::lock_guard lock(mu_);
    std::optional<Nanos> first;
    for (const auto& [at, s, marker] : by_time_) {
      auto m = markers_.find({s, marker});
      if (s == shard && m != markers_.end() && m->second >= since && (!first || at < *first)) first = at;
    }
    return first;
  }

 private:
  void run() {
    while (!stop_) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 50);
      if (m == nullptr) continue;
      const Nanos at = now_ns();
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->payload != nullptr) {
        boost::system::error_code ec;
        boost::json::value v = boost::json::parse(std::string_view(static_cast<const char*>(m->payload), m->len), ec);
        if (!ec && v.is_object() && v.as_object().at("type").as_string() == "nexum.changelog.marker") {
          std::lock_guard lock(mu_);
          markers_[{m->partition, m->offset}] = at;
        } else if (!ec && v.is_object() && v.as_object().at("type").as_string() == "nexum.changelog.outcome") {
          const boost::json::object& o = v.as_object();
          Arrival a;
          a.at = at;
          a.shard = m->partition;
          a.node = std::string(o.at("node").as_string());
          a.bytes = m->len;
          a.events = o.at("events").as_array().size();
          std::lock_guard lock(mu_);
          by_time_.emplace_back(at, a.shard, o.at("marker_offset").to_number<std::int64_t>());
          arrivals_.emplace(std::string(o.at("command_id").as_string()), std::move(a));
        }
      }
      rd_kafka_message_destroy(m);
    }
  }

  rd_kafka_t* rk_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::map<std::string, Arrival> arrivals_;
  std::vector<std::tuple<Nanos, int, std::int64_t>> by_time_;  // outcome: arrival, shard, its owner's marker
  std::map<std::pair<int, std::int64_t>, Nanos> markers_;      // (shard, offset) -> arrival
};

// ---- producing commands as a client would ----

struct Command {
  std::string topic;
  std::string key;
  std::string id;
  std::string value;
};

Command make_command(const std::string& topic, std::string key, boost::json::object data) {
  EventSchema e = EventSchema::make("command", "", "", std::move(data), {{"correlation_id", "bench-cluster"}},
                                    SystemClock::instance());
  Command c;
  c.topic = topic;
  c.key = std::move(key);
  c.id = e.event_id.to_string();
  c.value = encode_event_json(e);
  return c;
}

class Producer {
 public:
  explicit Producer(const std::string& bootstrap) {
    rk_ = new_client(RD_KAFKA_PRODUCER, bootstrap,
                     {{"partitioner", "murmur2_random"}, {"enable.idempotence", "true"}, {"linger.ms", "2"}},
                     [this](rd_kafka_conf_t* conf) {
                       rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
                         if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) static_cast<Producer*>(opaque)->failed_.fetch_add(1);
                       });
                       rd_kafka_conf_set_opaque(conf, this);
                     });
  }
  ~Producer() {
    if (rk_ != nullptr) {
      rd_kafka_flush(rk_, 30000);
      rd_kafka_destroy(rk_);
    }
  }
  bool ok() const { return rk_ != nullptr; }
  Status send(const Command& c, const std::string& topic_override = {}) {
    const std::string& topic = topic_override.empty() ? c.topic : topic_override;
    rd_kafka_resp_err_t err;
    do {
      err = rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(c.key.data(), c.key.size()),
                              RD_KAFKA_V_VALUE(const_cast<char*>(c.value.data()), c.value.size()),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) rd_kafka_poll(rk_, 5);
    } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
    rd_kafka_poll(rk_, 0);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return Status::unavailable(std::string("produce: ") + rd_kafka_err2str(err));
    return Status();
  }
  Status flush() {
    if (rd_kafka_flush(rk_, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) return Status::unavailable("flush timed out");
    if (failed_.load() > 0) return Status::unavailable(std::to_string(failed_.load()) + " messages not delivered");
    return Status();
  }

 private:
  rd_kafka_t* rk_ = nullptr;
  std::atomic<int> failed_{0};
};

// Sends `commands` at `rate` per second (0: as fast as possible); the time
// each was handed to the producer goes to `sent`.
Status send_paced(Producer& producer, const std::vector<Command>& commands, double rate, std::vector<Nanos>& sent,
                  const std::string& topic_override = {}) {
  sent.assign(commands.size(), 0);
  const Nanos start = now_ns();
  for (std::size_t i = 0; i < commands.size(); ++i) {
    if (rate > 0) {
      const Nanos due = start + static_cast<Nanos>(static_cast<double>(i) * 1e9 / rate);
      while (now_ns() < due) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    sent[i] = now_ns();
    NEXUM_RETURN_IF_ERROR(producer.send(commands[i], topic_override));
  }
  return Status();
}

// ---- the cluster's view ----

struct ShardView {
  int shard;
  std::string state;
  double restore_seconds = 0;
  std::int64_t restored_events = 0;
};

// The shards `port`'s node serves and their restore figures.
Result<std::vector<ShardView>> node_shards(std::uint16_t port) {
  NEXUM_ASSIGN_OR_RETURN(std::string body, http_get(port, "/cluster"));
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec) return Status::internal("GET /cluster: not JSON");
  std::vector<ShardView> out;
  for (const auto& s : v.at("shards").as_array()) {
    ShardView view;
    view.shard = static_cast<int>(s.at("shard").as_int64());
    view.state = std::string(s.at("state").as_string());
    view.restore_seconds = s.at("restore").at("seconds").to_number<double>();
    view.restored_events = s.at("restore").at("events_applied").to_number<std::int64_t>();
    out.push_back(std::move(view));
  }
  return out;
}

// Waits until the running nodes serve every shard exactly once between them.
Status wait_all_served(const std::vector<NodeProcess*>& nodes, int shards, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    std::map<int, int> served;
    bool answered = true;
    for (NodeProcess* n : nodes) {
      Result<std::vector<ShardView>> view = node_shards(n->port());
      if (!view) {
        answered = false;
        break;
      }
      for (const ShardView& s : *view) {
        if (s.state == "serving") ++served[s.shard];
      }
    }
    bool all = answered && static_cast<int>(served.size()) == shards;
    for (const auto& [shard, count] : served) all = all && count == 1;
    if (all) return Status();
    if (Clock::now() > deadline) {
      return Status::unavailable("the nodes did not serve every shard within " + std::to_string(timeout.count()) +
                                 " s");
    }
    std::this_thread::sleep_for(200ms);
  }
}

// ---- raw consume of a topic: the baselines ----

struct ConsumeResult {
  std::int64_t messages = 0;
  std::int64_t events = 0;  // when parsing: events in the changelog records
  std::uint64_t bytes = 0;
  double seconds = 0;
};

// Reads every partition of `topic` from the start to its current end with
// one consumer; `parse`: also parses each record's JSON and counts its events.
Result<ConsumeResult> consume_all(const std::string& bootstrap, const std::string& topic, int partitions, bool parse) {
  rd_kafka_t* rk = new_reader(bootstrap, "nexum-bench-consume");
  if (rk == nullptr) return Status::unavailable("kafka consumer could not be created");
  std::vector<std::int64_t> high(static_cast<std::size_t>(partitions), 0);
  for (int p = 0; p < partitions; ++p) {
    std::int64_t low = 0;
    rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low, &high[static_cast<std::size_t>(p)], 10000);
  }
  const auto start = Clock::now();
  read_from_start(rk, topic, partitions);
  std::vector<std::int64_t> next(static_cast<std::size_t>(partitions), 0);
  ConsumeResult r;
  auto done = [&] {
    for (int p = 0; p < partitions; ++p) {
      if (next[static_cast<std::size_t>(p)] < high[static_cast<std::size_t>(p)]) return false;
    }
    return true;
  };
  const auto deadline = Clock::now() + 300s;
  while (!done() && Clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      next[static_cast<std::size_t>(m->partition)] = m->offset + 1;
      ++r.messages;
      r.bytes += m->len;
      if (parse && m->payload != nullptr) {
        boost::system::error_code ec;
        boost::json::value v = boost::json::parse(std::string_view(static_cast<const char*>(m->payload), m->len), ec);
        if (!ec && v.is_object()) {
          if (const auto* events = v.as_object().if_contains("events")) r.events += events->as_array().size();
        }
      }
    }
    rd_kafka_message_destroy(m);
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const bool complete = done();
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  if (!complete) return Status::unavailable("could not read " + topic + " to its end in 300 s");
  return r;
}

struct Latencies {
  double p50 = 0, p99 = 0;
  double last_arrival_s = 0;  // first send -> last arrival
};
Latencies latencies(const std::vector<Nanos>& sent, const std::vector<Nanos>& arrived) {
  std::vector<double> ms;
  Nanos last = 0;
  for (std::size_t i = 0; i < sent.size(); ++i) {
    if (arrived[i] == 0) continue;
    ms.push_back(static_cast<double>(arrived[i] - sent[i]) / 1e6);
    last = std::max(last, arrived[i]);
  }
  Latencies l;
  l.p50 = percentile(ms, 0.5);
  l.p99 = percentile(ms, 0.99);
  l.last_arrival_s = sent.empty() ? 0 : seconds_between(sent.front(), last);
  return l;
}

}  // namespace

Result<std::vector<BenchRow>> run_cluster_bench(const ClusterBenchOptions& o) {
  if (o.kafka.empty()) return Status::invalid_argument("kafka: a real cluster's bootstrap servers are required");
  if (o.nodes < 1 || o.nodes > 3) return Status::invalid_argument("nodes: 1, 2 or 3");
  if (o.shards < o.nodes) return Status::invalid_argument("shards: at least one per node");
  if (o.accounts < o.shards) return Status::invalid_argument("accounts: at least one per shard");
  std::filesystem::create_directories(o.dir);
  const auto run = static_cast<unsigned>(std::chrono::system_clock::now().time_since_epoch().count() % 100000000);
  const std::string prefix = "bench" + std::to_string(run) + ".";
  const cluster::ClusterTopics topics(prefix);
  std::fprintf(stderr, "bench cluster: topic prefix %s, %d nodes, %d shards\n", prefix.c_str(), o.nodes, o.shards);
  cluster::CreateTopicsOptions create;
  create.bootstrap_servers = o.kafka;
  create.topic_prefix = prefix;
  create.shards = o.shards;
  NEXUM_RETURN_IF_ERROR(cluster::create_cluster_topics(create));
  create.topic_prefix = prefix + "raw.";  // the raw baseline's topic: as many partitions, same replication
  NEXUM_RETURN_IF_ERROR(cluster::create_cluster_topics(create));
  const std::string raw_topic = create.topic_prefix + std::string(topics::kCommandsTransactions);
  const std::string transactions = prefix + std::string(topics::kCommandsTransactions);

  std::vector<std::unique_ptr<NodeProcess>> nodes;
  std::vector<NodeProcess*> running;
  for (int i = 1; i <= o.nodes; ++i) {
    const std::string data = o.dir + "/" + prefix + "n" + std::to_string(i);
    nodes.push_back(std::make_unique<NodeProcess>(i, data, data + ".log"));
    NEXUM_RETURN_IF_ERROR(nodes.back()->start(o.kafka, prefix, o.session_timeout_ms));
    running.push_back(nodes.back().get());
  }
  NEXUM_RETURN_IF_ERROR(wait_all_served(running, o.shards, 180s));

  ChangelogWatcher watcher(o.kafka, topics.changelog, o.shards);
  Producer producer(o.kafka);
  if (!watcher.ok() || !producer.ok()) return Status::unavailable("kafka clients could not be created");

  // Setup: customers, then accounts in their customers' shards.
  std::vector<std::string> accounts;
  std::vector<Command> customers, opens;
  for (int i = 0; i < o.accounts; ++i) {
    const std::string customer = "c" + std::to_string(i);
    const int shard = cluster::shard_of(customer, o.shards);
    std::string account;
    for (int k = 0;; ++k) {
      account = "a" + std::to_string(i) + "_" + std::to_string(k);
      if (cluster::shard_of(account, o.shards) == shard) break;
    }
    accounts.push_back(account);
    customers.push_back(make_command(prefix + std::string(topics::kCommandsCustomers), customer,
                                     {{"action", "create"},
                                      {"customer_id", customer},
                                      {"first_name", "Bench"},
                                      {"last_name", "Customer"},
                                      {"email", customer + "@bank.example"},
                                      {"kyc_status", "verified"}}));
    opens.push_back(make_command(prefix + std::string(topics::kCommandsAccounts), account,
                                 {{"action", "open"},
                                  {"customer_id", customer},
                                  {"account_id", account},
                                  {"product_type", "checking"},
                                  {"currency", "USD"}}));
  }
  for (const std::vector<Command>* phase : {&customers, &opens}) {
    std::vector<std::string> ids;
    for (const Command& c : *phase) {
      NEXUM_RETURN_IF_ERROR(producer.send(c));
      ids.push_back(c.id);
    }
    NEXUM_RETURN_IF_ERROR(producer.flush());
    if (!watcher.wait_all(ids, 300s)) return Status::unavailable("setup outcomes missing after 300 s");
  }

  auto deposits = [&](std::int64_t n, std::uint64_t salt) {
    std::vector<Command> out;
    for (std::int64_t i = 0; i < n; ++i) {
      const std::string& account =
          accounts[static_cast<std::size_t>((static_cast<std::uint64_t>(i) * 7919 + salt) % accounts.size())];
      out.push_back(
          make_command(transactions, account, {{"action", "deposit"}, {"account_id", account}, {"amount", "1.00"}}));
    }
    return out;
  };
  auto arrivals = [&](const std::vector<Command>& commands, std::uint64_t* bytes, std::uint64_t* events) {
    std::vector<Nanos> at(commands.size(), 0);
    for (std::size_t i = 0; i < commands.size(); ++i) {
      if (auto a = watcher.find(commands[i].id)) {
        at[i] = a->at;
        if (bytes != nullptr) *bytes += a->bytes;
        if (events != nullptr) *events += a->events;
      }
    }
    return at;
  };
  auto cpu = [&] {
    double s = 0;
    for (NodeProcess* n : running) s += n->cpu_seconds();
    return s;
  };
  std::vector<BenchRow> rows;
  const std::string load_note = "nodes " + std::to_string(o.nodes) + ", shards " + std::to_string(o.shards);

  // 1. Commands/s and latency, against raw produce -> consume of the same bytes.
  {
    const std::vector<Command> measured = deposits(o.commands, 1);
    std::vector<std::string> ids;
    for (const Command& c : measured) ids.push_back(c.id);
    std::vector<Nanos> sent;
    const double cpu_start = cpu();
    NEXUM_RETURN_IF_ERROR(send_paced(producer, measured, o.rate, sent));
    NEXUM_RETURN_IF_ERROR(producer.flush());
    if (!watcher.wait_all(ids, 600s)) return Status::unavailable("measured outcomes missing after 600 s");
    const double cpu_used = cpu() - cpu_start;
    std::uint64_t bytes = 0, events = 0;
    const Latencies ours = latencies(sent, arrivals(measured, &bytes, &events));

    // Raw: the same messages to a topic with as many partitions, consumed back.
    std::vector<Nanos> raw_sent;
    std::vector<Nanos> raw_arrived(measured.size(), 0);
    std::map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < measured.size(); ++i) index[measured[i].id] = i;
    std::atomic<bool> stop{false};
    std::atomic<std::size_t> seen{0};
    std::thread consumer([&] {
      rd_kafka_t* rk = new_reader(o.kafka, "nexum-bench-raw", {{"fetch.wait.max.ms", "10"}});
      if (rk == nullptr) return;
      read_from_start(rk, raw_topic, o.shards);
      while (!stop && seen.load() < measured.size()) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 50);
        if (m == nullptr) continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->payload != nullptr) {
          const std::string_view payload(static_cast<const char*>(m->payload), m->len);
          const auto at = payload.find("\"event_id\":\"");
          if (at != std::string_view::npos) {
            auto it = index.find(std::string(payload.substr(at + 12, 36)));
            if (it != index.end() && raw_arrived[it->second] == 0) {
              raw_arrived[it->second] = now_ns();
              seen.fetch_add(1);
            }
          }
        }
        rd_kafka_message_destroy(m);
      }
      rd_kafka_consumer_close(rk);
      rd_kafka_destroy(rk);
    });
    std::this_thread::sleep_for(2s);  // the consumer has its partitions
    Status sent_raw = send_paced(producer, measured, o.rate, raw_sent, raw_topic);
    Status flushed = producer.flush();
    const auto deadline = Clock::now() + 300s;
    while (sent_raw.ok() && seen.load() < measured.size() && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
    stop = true;
    consumer.join();
    NEXUM_RETURN_IF_ERROR(sent_raw);
    NEXUM_RETURN_IF_ERROR(flushed);
    if (seen.load() < measured.size()) return Status::unavailable("raw baseline: messages missing after 300 s");
    const Latencies raw = latencies(raw_sent, raw_arrived);
    const double n = static_cast<double>(measured.size());
    rows.push_back({"commands/s (deposit -> outcome in changelog)", n / ours.last_arrival_s, n / raw.last_arrival_s,
                    "per s", "baseline: raw produce -> consume, same messages, " + load_note});
    rows.push_back({"latency p50", ours.p50, raw.p50, "ms", "produce -> changelog outcome seen"});
    rows.push_back({"latency p99", ours.p99, raw.p99, "ms", "produce -> changelog outcome seen"});
    rows.push_back({"node CPU per command", cpu_used / n * 1e6, 0, "us",
                    "user+sys of every node process over the phase (Kafka client threads included)"});
    rows.push_back({"changelog bytes per command", static_cast<double>(bytes) / n, 0, "bytes",
                    "record values only (" + std::to_string(events / measured.size()) + " events each)"});
    double rss_kb = 0, threads = 0;
    for (NodeProcess* node : running) {
      rss_kb += node->status_field("VmRSS");
      threads += node->status_field("Threads");
    }
    rows.push_back({"node RSS per shard", rss_kb / 1024 / o.shards, 0, "MiB",
                    "all nodes' resident memory after the phase / shards (a shard's store, worker, clients)"});
    rows.push_back({"node threads per shard", threads / o.shards, 0, "threads",
                    "all nodes' threads / shards (" + std::to_string(static_cast<int>(threads)) + " in all)"});
  }

  // 2. Failover: kill -9 a node while commands flow; time to the first
  // command served again on one of its shards (by another node; with one
  // node, by the restarted one) and to all of its shards served again.
  {
    NodeProcess* victim = running.back();
    std::set<int> victim_shards;
    NEXUM_ASSIGN_OR_RETURN(std::vector<ShardView> view, node_shards(victim->port()));
    for (const ShardView& s : view) victim_shards.insert(s.shard);
    const std::vector<Command> stream = deposits(static_cast<std::int64_t>(o.failover_rate * 120), 2);
    std::atomic<bool> stop_stream{false};
    std::atomic<std::size_t> streamed{0};
    std::thread streamer([&] {
      const Nanos start = now_ns();
      for (std::size_t i = 0; i < stream.size() && !stop_stream; ++i) {
        const Nanos due = start + static_cast<Nanos>(static_cast<double>(i) * 1e9 / o.failover_rate);
        while (now_ns() < due && !stop_stream) std::this_thread::sleep_for(std::chrono::microseconds(500));
        if (!producer.send(stream[i]).ok()) break;
        streamed = i + 1;
      }
    });
    std::this_thread::sleep_for(3s);
    const Nanos killed = now_ns();
    victim->kill9();
    Status restarted;
    if (o.nodes == 1) restarted = victim->start(o.kafka, prefix, o.session_timeout_ms);
    std::optional<Nanos> first, all;
    const auto deadline = Clock::now() + 180s;
    while (restarted.ok() && !all && Clock::now() < deadline) {
      Nanos latest = 0;
      bool every = true;
      for (int shard : victim_shards) {
        std::optional<Nanos> at = watcher.first_served_after(shard, killed);
        if (at && (!first || *at < *first)) first = at;
        if (at) latest = std::max(latest, *at);
        every = every && at.has_value();
      }
      if (every) all = latest;
      std::this_thread::sleep_for(20ms);
    }
    stop_stream = true;
    streamer.join();
    NEXUM_RETURN_IF_ERROR(restarted);
    NEXUM_RETURN_IF_ERROR(producer.flush());
    if (!first || !all) return Status::unavailable("failover: the killed node's shards were not served again in 180 s");
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < streamed.load(); ++i) ids.push_back(stream[i].id);
    if (!watcher.wait_all(ids, 300s)) return Status::unavailable("failover: outcomes missing after 300 s");
    const std::string how = o.nodes == 1 ? "kill -9 and restart of the only node (restore from its local copy)"
                                         : "kill -9 of node " + std::to_string(victim->id()) + " (" +
                                               std::to_string(victim_shards.size()) + " shards), no standby";
    rows.push_back({"failover: first command served on a moved shard", seconds_between(killed, *first) * 1000, 0, "ms",
                    how + "; session timeout " + std::to_string(o.session_timeout_ms) + " ms"});
    rows.push_back({"failover: every moved shard served", seconds_between(killed, *all) * 1000, 0, "ms",
                    std::to_string(static_cast<int>(o.failover_rate)) + " commands/s offered meanwhile"});
    if (o.nodes > 1) {
      running.pop_back();  // the victim stays down
    }
  }

  // 3. Restore: every node stops; a node with an empty data directory alone
  // takes every shard over from the changelog. Baseline: one raw consumer
  // reading the whole changelog, with and without parsing each record.
  {
    for (NodeProcess* n : running) n->stop();
    // A first read warms what a first reader pays once (connections,
    // metadata, the brokers' page cache); the restoring node pays it too,
    // so the baselines below are the faster of two reads each.
    NEXUM_ASSIGN_OR_RETURN(ConsumeResult raw, consume_all(o.kafka, topics.changelog, o.shards, false));
    NEXUM_ASSIGN_OR_RETURN(ConsumeResult raw2, consume_all(o.kafka, topics.changelog, o.shards, false));
    if (raw2.seconds < raw.seconds) raw = raw2;
    NEXUM_ASSIGN_OR_RETURN(ConsumeResult parsed, consume_all(o.kafka, topics.changelog, o.shards, true));
    NEXUM_ASSIGN_OR_RETURN(ConsumeResult parsed2, consume_all(o.kafka, topics.changelog, o.shards, true));
    if (parsed2.seconds < parsed.seconds) parsed = parsed2;
    const std::string data = o.dir + "/" + prefix + "restore";
    NodeProcess fresh(o.nodes + 1, data, data + ".log");
    const auto start = Clock::now();
    NEXUM_RETURN_IF_ERROR(fresh.start(o.kafka, prefix, o.session_timeout_ms));
    NEXUM_RETURN_IF_ERROR(wait_all_served({&fresh}, o.shards, 600s));
    const double wall = std::chrono::duration<double>(Clock::now() - start).count();
    NEXUM_ASSIGN_OR_RETURN(std::vector<ShardView> view, node_shards(fresh.port()));
    fresh.stop();
    std::int64_t restored = 0;
    double longest = 0;
    std::vector<double> per_shard;
    for (const ShardView& s : view) {
      restored += s.restored_events;
      longest = std::max(longest, s.restore_seconds);
      if (s.restore_seconds > 0) per_shard.push_back(static_cast<double>(s.restored_events) / s.restore_seconds);
    }
    // The changelog may hold more events than the shards: records a fencing
    // rule ignores (doc/cluster.md §4). Fewer would be a loss.
    if (restored > parsed.events || restored == 0) {
      return Status::data_loss("restore: " + std::to_string(restored) + " events restored, the changelog holds " +
                               std::to_string(parsed.events));
    }
    const double events = static_cast<double>(restored);
    rows.push_back({"restore: events/s, all shards in parallel", events / longest, events / raw.seconds, "per s",
                    std::to_string(restored) + " events (" + std::to_string(parsed.events) + " in the changelog) in " +
                        std::to_string(o.shards) + " shards; baseline: one raw consumer of the whole changelog"});
    rows.push_back({"restore: same, vs raw consume + JSON parse", events / longest, events / parsed.seconds, "per s",
                    "baseline parses every record"});
    rows.push_back({"restore: events/s per shard (median)", percentile(per_shard, 0.5), 0, "per s",
                    "each shard restores on its own thread and consumer"});
    rows.push_back({"restore: seconds per million events", longest / events * 1e6, raw.seconds / events * 1e6, "s",
                    "node start to every shard served: " + std::to_string(wall) + " s"});
  }
  return rows;
}

}  // namespace nexum::bench
