// PipelinedCommandConsumer: the consumer thread takes messages in batches,
// orders them per key, hands them to the asynchronous handler, and turns the
// outcomes that arrive (from any thread, through a queue) into committed
// offsets. Rules: doc/commands.md §4.1.
#include "bus/pipelined_command_consumer.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include "bus/kafka_config.h"
#include "bus/kafka_consumer.h"
#include "core/mutex.h"
#include "nexum/json_codec.h"

namespace nexum::kafka_internal {
namespace {

using SteadyClock = std::chrono::steady_clock;
using TopicPartition = std::pair<std::string, std::int32_t>;

constexpr std::chrono::milliseconds kPollTimeout{100};
constexpr std::chrono::seconds kDrainLogInterval{10};
// While the member waits for its assignment, it says so this often.
constexpr std::chrono::seconds kWaitLogInterval{5};
// How long stopping waits for the final revoke before closing anyway.
constexpr std::chrono::milliseconds kLeaveTimeout{2000};
// How long starting over waits for the dead handle's destruction before
// leaving it to a thread of its own (and going on with a new handle).
constexpr std::chrono::milliseconds kDeadHandleDestroyTimeout{10000};
// Between attempts to create the new handle when creating it fails.
constexpr std::chrono::seconds kReopenInterval{1};
// The longest a command waits between attempts while the handler cannot
// write (PipelinedConsumerOptions::handler_health): the store tries to
// resume each second.
constexpr std::chrono::milliseconds kHandlerWaitMax{1000};

void erase_seq(std::deque<std::uint64_t>& queue, std::uint64_t seq) {
  auto pos = std::find(queue.begin(), queue.end(), seq);
  if (pos != queue.end()) queue.erase(pos);
}

struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};

}  // namespace

class PipelinedConsumerCore {
 public:
  PipelinedConsumerCore(const KafkaEventBusOptions& bus_options, PipelinedConsumerOptions options,
                        AsyncCommandHandler handler, CommandKeyFunction key_of, EventBus& dlq_bus)
      : bus_options_(bus_options),
        options_(std::move(options)),
        handler_(std::move(handler)),
        key_of_(std::move(key_of)),
        dlq_bus_(dlq_bus) {}
  ~PipelinedConsumerCore() { stop(); }

  Status start();
  void stop();
  bool assigned() const { return assigned_.load(); }
  std::chrono::milliseconds waiting_for_assignment() const;
  const std::string& group_id() const { return options_.group_id; }
  PipelinedConsumerStats stats() const;
  Status health() const;

 private:
  // One message taken from Kafka, alive until it is finished or dropped.
  struct Command {
    enum class State : std::uint8_t { kWaiting, kRunning, kRetryWait, kDeadLettering, kDeadLetterWait };
    std::uint64_t seq = 0;
    std::unique_ptr<rd_kafka_message_t, MessageDeleter> message;
    TopicPartition partition;
    std::int64_t offset = 0;
    std::optional<EventSchema> event;  // nullopt: not an envelope
    std::vector<std::string> keys;     // the entities it is ordered by
    int attempts = 0;
    int waits = 0;  // of those, answered Unavailable while the handler could not write (not counted)
    std::string dlq_error;
    State state = State::kWaiting;
  };
  // Offsets taken from one partition, in order, until a finished prefix is
  // committable.
  struct PartitionState {
    std::deque<std::pair<std::int64_t, bool>> open;  // (offset, finished)
    std::int64_t committable = -1;                   // next offset to commit; -1: nothing finished yet
    std::int64_t committed = -1;                     // last committable handed to a commit
    int busy = 0;                                    // commands running or being dead-lettered
    bool revoking = false;
  };
  struct Completion {
    std::uint64_t seq;
    Status status;
    bool dead_letter;  // the DLQ write's report, not the handler's
  };

  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                           void* opaque);
  static void on_commit(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets,
                        void* opaque);
  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque);

  // Creates the handle, subscribes and sets queue_ (start() and start_over()).
  Status open_handle();
  void run();
  // The handle's fatal error ("NAME: reason"), or "" while it has none.
  std::string fatal_error() const;
  // After a fatal error (the handle never fetches or commits again): waits
  // for the running commands, drops the rest (uncommitted: redelivered),
  // destroys the handle without a consumer close and opens a new one in the
  // same group. Consumer thread; rk_ is nullptr afterwards only if stopping.
  void start_over(const std::string& fatal);
  void set_not_consuming(std::string why);
  void take(rd_kafka_message_t* message);
  bool may_start(const Command& c) const;
  // options_.handler_health is OK (or not given). Logs when the handler
  // stops and starts writing again. Consumer thread.
  bool handler_writes();
  void start_command(Command& c);
  void dead_letter(Command& c);
  // From any thread.
  void complete(std::uint64_t seq, Status status, bool dead_letter);
  // Applies the queued completions; true when there were any.
  bool process_completions();
  void run_due_retries();
  // Queues `c` behind the commands already on its keys; starts it when it is
  // first on all of them.
  void enqueue(Command& c);
  // Takes `c` off its keys' queues (it finished, failed, or is dropped) and
  // starts the commands that are now first on all of theirs.
  void release_keys(Command& c);
  void kick(std::vector<std::string> keys);
  bool first_on_all_keys(const Command& c) const;
  void finish(Command& c);
  void drop(Command& c);
  void schedule(Command& c, std::chrono::milliseconds delay);
  std::chrono::milliseconds backoff(int attempts) const;
  void update_pause();
  void set_paused(bool paused);
  void commit(bool sync, const rd_kafka_topic_partition_list_t* only = nullptr);
  // Waits for completions until `busy()` is false, applying them.
  template <typename Busy>
  void drain(const char* what, Busy busy);
  void revoke(rd_kafka_topic_partition_list_t* partitions, bool lost);
  // Unsubscribes and serves the final revoke (see run()), then closes.
  void leave_group();

  const KafkaEventBusOptions bus_options_;
  const PipelinedConsumerOptions options_;
  const AsyncCommandHandler handler_;
  const CommandKeyFunction key_of_;
  EventBus& dlq_bus_;

  rd_kafka_t* rk_ = nullptr;  // Created by start(), destroyed by stop() after the thread joined.
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> assigned_{false};
  // steady_clock ticks since the member waits for an assignment (0: it has
  // one, or it is not started).
  std::atomic<std::int64_t> waiting_since_{0};
  // Set by the error callback on RD_KAFKA_RESP_ERR__FATAL (the loop also
  // asks the handle each pass).
  std::atomic<bool> fatal_{false};
  // From a fatal error until the new handle exists.
  std::atomic<bool> restarting_{false};
  // Why the consumer does not consume since its last fatal error (cleared
  // once the new handle has its partitions), and since when.
  mutable Mutex health_mu_;
  std::string not_consuming_ NEXUM_GUARDED_BY(health_mu_);
  SteadyClock::time_point not_consuming_since_ NEXUM_GUARDED_BY(health_mu_);

  // Completions from handler and delivery threads. `queue_` is yielded to
  // wake a blocking poll when the first one arrives.
  Mutex done_mu_;
  CondVar done_cv_;
  std::vector<Completion> done_ NEXUM_GUARDED_BY(done_mu_);
  rd_kafka_queue_t* queue_ NEXUM_GUARDED_BY(done_mu_) = nullptr;

  // Consumer thread only (the rebalance and commit callbacks are served
  // inside rd_kafka_consumer_poll/close on it).
  std::uint64_t next_seq_ = 1;
  std::unordered_map<std::uint64_t, std::unique_ptr<Command>> live_;
  std::map<TopicPartition, PartitionState> partitions_;
  // Per key, the commands on it in the order they were taken: the first
  // runs (or waits to retry) once it is first on all its keys.
  std::unordered_map<std::string, std::deque<std::uint64_t>> keys_;
  std::multimap<SteadyClock::time_point, std::uint64_t> timers_;
  bool paused_ = false;
  bool handler_waiting_ = false;  // handler_health reported an error at its last check
  bool draining_ = false;         // stopping: start nothing new
  SteadyClock::time_point next_commit_{};

  struct Counters {
    std::atomic<std::uint64_t> consumed{0}, handled{0}, retries{0}, dead_lettered{0}, undecodable{0}, dropped{0},
        commits{0}, commit_failures{0}, pauses{0}, max_in_flight{0}, restarts{0};
  } counters_;
};

Status PipelinedConsumerCore::start() {
  if (rk_ != nullptr) return Status();
  if (options_.topics.empty()) return Status::invalid_argument("topics: at least one command topic is required");
  if (options_.group_id.empty()) return Status::invalid_argument("group_id: required");
  if (options_.max_in_flight == 0) return Status::invalid_argument("max_in_flight: must be at least 1");
  NEXUM_RETURN_IF_ERROR(open_handle());
  stopping_ = false;
  draining_ = false;
  waiting_since_ = SteadyClock::now().time_since_epoch().count();
  thread_ = std::thread([this] { run(); });
  return Status();
}

Status PipelinedConsumerCore::open_handle() {
  Result<ConfPtr> conf = make_consumer_conf(bus_options_, options_.group_id, bus_options_.auto_offset_reset);
  if (!conf) return conf.error();
  rd_kafka_conf_set_opaque(conf->get(), this);
  rd_kafka_conf_set_rebalance_cb(conf->get(), &PipelinedConsumerCore::on_rebalance);
  rd_kafka_conf_set_offset_commit_cb(conf->get(), &PipelinedConsumerCore::on_commit);
  rd_kafka_conf_set_error_cb(conf->get(), &PipelinedConsumerCore::on_error);
  std::array<char, 512> errstr{};
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), errstr.data(), errstr.size());
  if (rk == nullptr) return Status::invalid_argument(std::string("kafka consumer: ") + errstr.data());
  (void)conf->release();  // rd_kafka_new took ownership.
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(static_cast<int>(options_.topics.size()));
  for (const std::string& t : options_.topics)
    rd_kafka_topic_partition_list_add(topics, t.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_destroy(rk);
    return status_from_kafka_error(err, "subscribe to the command topics");
  }
  rk_ = rk;
  fatal_ = false;
  {
    MutexLock lock(done_mu_);
    queue_ = rd_kafka_queue_get_consumer(rk);
  }
  return Status();
}

void PipelinedConsumerCore::stop() {
  stopping_ = true;
  {
    MutexLock lock(done_mu_);
    if (queue_ != nullptr) rd_kafka_queue_yield(queue_);
  }
  if (thread_.joinable()) thread_.join();
  if (rk_ != nullptr) {
    {
      MutexLock lock(done_mu_);
      rd_kafka_queue_destroy(queue_);
      queue_ = nullptr;
    }
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
  }
  assigned_ = false;
  waiting_since_ = 0;
}

std::chrono::milliseconds PipelinedConsumerCore::waiting_for_assignment() const {
  const std::int64_t since = waiting_since_.load();
  if (since == 0 || assigned_.load()) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() -
                                                               SteadyClock::time_point(SteadyClock::duration(since)));
}

PipelinedConsumerStats PipelinedConsumerCore::stats() const {
  PipelinedConsumerStats s;
  s.consumed = counters_.consumed.load();
  s.handled = counters_.handled.load();
  s.retries = counters_.retries.load();
  s.dead_lettered = counters_.dead_lettered.load();
  s.undecodable = counters_.undecodable.load();
  s.dropped_on_revoke = counters_.dropped.load();
  s.commits = counters_.commits.load();
  s.commit_failures = counters_.commit_failures.load();
  s.pauses = counters_.pauses.load();
  s.max_in_flight_seen = counters_.max_in_flight.load();
  s.restarts = counters_.restarts.load();
  return s;
}

Status PipelinedConsumerCore::health() const {
  std::string why;
  SteadyClock::time_point since;
  {
    MutexLock lock(health_mu_);
    why = not_consuming_;
    since = not_consuming_since_;
  }
  if (why.empty()) return Status();
  if (!restarting_.load() && assigned_.load()) return Status();  // cleared on the next rebalance callback
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - since).count();
  return Status::unavailable("command consumer " + options_.group_id + " does not consume: " + why + " (for " +
                             std::to_string(ms / 1000) + "." + std::to_string(ms % 1000 / 100) + " s)");
}

void PipelinedConsumerCore::set_not_consuming(std::string why) {
  MutexLock lock(health_mu_);
  if (why.empty() || not_consuming_.empty()) not_consuming_since_ = SteadyClock::now();
  not_consuming_ = std::move(why);
}

std::string PipelinedConsumerCore::fatal_error() const {
  std::array<char, 512> errstr{};
  const rd_kafka_resp_err_t err = rd_kafka_fatal_error(rk_, errstr.data(), errstr.size());
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    return fatal_.load() ? "_FATAL: a fatal error without a description" : "";
  }
  return std::string(rd_kafka_err2name(err)) + ": " + errstr.data();
}

void PipelinedConsumerCore::start_over(const std::string& fatal) {
  restarting_ = true;
  counters_.restarts.fetch_add(1);
  set_not_consuming("starting over after a fatal Kafka error (" + fatal + ")");
  spdlog::error(
      "command consumer {}: fatal Kafka error {}; this handle will never fetch or commit again: starting over with a "
      "new one (commands taken and not committed are delivered again and answered by command id)",
      options_.group_id, fatal);
  // Nothing new starts; what runs finishes (its outcome is durable, its
  // offset stays uncommitted: commits are refused on a fatal handle).
  draining_ = true;
  timers_.clear();
  drain("starting over", [this] {
    for (const auto& [tp, p] : partitions_) {
      if (p.busy > 0) return true;
    }
    return false;
  });
  counters_.dropped.fetch_add(live_.size());
  live_.clear();  // Messages must be destroyed before their handle.
  keys_.clear();
  partitions_.clear();
  paused_ = false;
  assigned_ = false;
  {
    MutexLock lock(done_mu_);
    rd_kafka_queue_destroy(queue_);
    queue_ = nullptr;
  }
  // A fatal handle is destroyed without a consumer close (librdkafka adds
  // NO_CONSUMER_CLOSE itself): no LeaveGroup, no final commit. Should it not
  // finish, it is left to its own thread: a stuck destroy must not keep the
  // commands from coming back. Nothing of this object is used by it (no
  // callback is served without a poll).
  rd_kafka_t* dead = rk_;
  rk_ = nullptr;
  destroy_dead_handle(dead, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE, kDeadHandleDestroyTimeout,
                      "command consumer " + options_.group_id);
  draining_ = false;
  while (!stopping_.load()) {
    Status s = open_handle();
    if (s.ok()) break;
    set_not_consuming("starting over after a fatal Kafka error (" + fatal + "): a new handle: " + s.to_string());
    spdlog::error("command consumer {}: starting over: {}; trying again in {} s", options_.group_id, s.to_string(),
                  kReopenInterval.count());
    const auto until = SteadyClock::now() + kReopenInterval;
    while (!stopping_.load() && SteadyClock::now() < until) std::this_thread::sleep_for(kPollTimeout);
  }
  if (rk_ != nullptr) {
    waiting_since_ = SteadyClock::now().time_since_epoch().count();
    set_not_consuming("started over after a fatal Kafka error (" + fatal + "); waiting for its partitions");
    spdlog::info("command consumer {}: new handle, joining the group again", options_.group_id);
  }
  restarting_ = false;
}

void PipelinedConsumerCore::run() {
  auto next_wait_log = SteadyClock::now() + kWaitLogInterval;
  while (!stopping_.load()) {
    if (!assigned_.load() && SteadyClock::now() >= next_wait_log) {
      next_wait_log = SteadyClock::now() + kWaitLogInterval;
      spdlog::info(
          "command consumer {}: still waiting for the group coordinator to assign partitions ({} s); a "
          "rebalance waits for every member the group still lists, up to its session.timeout.ms",
          options_.group_id, waiting_for_assignment().count() / 1000);
    }
    if (std::string fatal = fatal_error(); !fatal.empty()) {
      start_over(fatal);
      if (rk_ == nullptr) return;  // stopping while starting over
      continue;
    }
    const bool progressed = process_completions();
    run_due_retries();
    update_pause();
    if (SteadyClock::now() >= next_commit_) {
      commit(/*sync=*/false);
      next_commit_ = SteadyClock::now() + options_.commit_interval;
    }
    auto timeout = kPollTimeout;
    if (!timers_.empty()) {
      timeout =
          std::min(timeout, std::chrono::ceil<std::chrono::milliseconds>(timers_.begin()->first - SteadyClock::now()));
    }
    {
      MutexLock lock(done_mu_);
      if (progressed || !done_.empty()) timeout = std::chrono::milliseconds(0);
    }
    timeout = std::max(timeout, std::chrono::milliseconds(0));
    for (std::size_t i = 0; i < std::max<std::size_t>(1, options_.poll_batch); ++i) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, i == 0 ? static_cast<int>(timeout.count()) : 0);
      if (m == nullptr) break;
      take(m);
      if (live_.size() >= options_.max_in_flight || stopping_.load()) break;
    }
  }
  // Stop: start nothing new, let what runs finish, commit, leave.
  draining_ = true;
  for (auto& [seq, c] : live_) {
    if (c->state == Command::State::kRetryWait || c->state == Command::State::kDeadLetterWait) {
      c->state = Command::State::kWaiting;  // not running: left for redelivery
    }
  }
  timers_.clear();
  drain("stop", [this] {
    for (const auto& [tp, p] : partitions_) {
      if (p.busy > 0) return true;
    }
    return false;
  });
  commit(/*sync=*/true);
  leave_group();
  counters_.dropped.fetch_add(live_.size());
  live_.clear();  // Messages must be destroyed before their handle.
  keys_.clear();
  partitions_.clear();
}

void PipelinedConsumerCore::leave_group() {
  // A static member (group.instance.id, which nexum serve sets) does not
  // leave its group on close (KIP-345): the coordinator would list it until
  // its session timed out, and a restart would wait that long for its
  // assignment. Unsubscribing first sends the LeaveGroup.
  rd_kafka_resp_err_t err = rd_kafka_unsubscribe(rk_);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("command consumer {}: unsubscribe: {}", options_.group_id, rd_kafka_err2str(err));
  }
  // Serve the revoke here, before close(): a member already closing is
  // "terminating", and librdkafka then skips the static member's leave.
  // Nothing new starts (draining_); messages still arriving are dropped
  // unhandled and uncommitted (redelivered to the next owner).
  const auto deadline = SteadyClock::now() + kLeaveTimeout;
  int after_revoke = 3;  // polls once revoked, while the unassign completes and the LeaveGroup goes out
  while (after_revoke > 0 && SteadyClock::now() < deadline) {
    if (!assigned_.load() || partitions_.empty()) --after_revoke;
    rd_kafka_message_t* message = rd_kafka_consumer_poll(rk_, 20);
    if (message != nullptr) rd_kafka_message_destroy(message);
  }
  err = rd_kafka_consumer_close(rk_);  // Serves a revoke still pending.
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("command consumer {}: close: {}", options_.group_id, rd_kafka_err2str(err));
  }
}

void PipelinedConsumerCore::take(rd_kafka_message_t* raw) {
  std::unique_ptr<rd_kafka_message_t, MessageDeleter> message(raw);
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      spdlog::warn("command consumer {}: {}", options_.group_id, rd_kafka_message_errstr(message.get()));
    }
    return;
  }
  counters_.consumed.fetch_add(1);
  auto c = std::make_unique<Command>();
  c->seq = next_seq_++;
  c->partition = TopicPartition(rd_kafka_topic_name(message->rkt), message->partition);
  c->offset = message->offset;
  auto part = partitions_.find(c->partition);
  if (part == partitions_.end() || part->second.revoking) return;  // not ours (any more): redelivered to the owner
  part->second.open.emplace_back(c->offset, false);
  std::string_view value(static_cast<const char*>(message->payload), message->payload ? message->len : 0);
  Result<EventSchema> event = decode_event_json(value);
  c->message = std::move(message);
  Command& command = *c;
  live_.emplace(c->seq, std::move(c));
  counters_.max_in_flight.store(std::max<std::uint64_t>(counters_.max_in_flight.load(), live_.size()));
  if (!event) {
    command.dlq_error = "invalid envelope: " + event.error().to_string();
    dead_letter(command);
    return;
  }
  command.event = std::move(event).value();
  command.keys = key_of_(*command.event);
  enqueue(command);
}

void PipelinedConsumerCore::enqueue(Command& c) {
  bool first = true;
  for (const std::string& k : c.keys) {
    auto& q = keys_[k];
    q.push_back(c.seq);
    first = first && q.front() == c.seq;
  }
  if (first) start_command(c);
}

bool PipelinedConsumerCore::first_on_all_keys(const Command& c) const {
  for (const std::string& k : c.keys) {
    auto it = keys_.find(k);
    if (it == keys_.end() || it->second.empty() || it->second.front() != c.seq) return false;
  }
  return true;
}

void PipelinedConsumerCore::release_keys(Command& c) {
  for (const std::string& k : c.keys) {
    auto it = keys_.find(k);
    if (it == keys_.end()) continue;
    erase_seq(it->second, c.seq);
  }
  std::vector<std::string> keys = std::move(c.keys);
  c.keys.clear();
  kick(std::move(keys));
}

void PipelinedConsumerCore::kick(std::vector<std::string> keys) {
  // A worklist, not recursion: dropping a command can free further keys.
  while (!keys.empty()) {
    const std::string key = std::move(keys.back());
    keys.pop_back();
    auto it = keys_.find(key);
    if (it == keys_.end()) continue;
    if (it->second.empty()) {
      keys_.erase(it);
      continue;
    }
    auto c = live_.find(it->second.front());
    if (c == live_.end()) {  // cannot happen: commands leave the queues before they die
      it->second.pop_front();
      keys.push_back(key);
      continue;
    }
    Command& next = *c->second;
    if (next.state != Command::State::kWaiting || !first_on_all_keys(next)) continue;
    if (may_start(next)) {
      start_command(next);
      continue;
    }
    for (const std::string& k : next.keys) {
      auto q = keys_.find(k);
      if (q != keys_.end()) erase_seq(q->second, next.seq);
      keys.push_back(k);
    }
    drop(next);
  }
}

bool PipelinedConsumerCore::handler_writes() {
  if (!options_.handler_health) return true;
  const Status health = options_.handler_health();
  if (!health.ok() && !handler_waiting_) {
    spdlog::warn(
        "command consumer {}: the handler cannot write ({}); commands it answers Unavailable wait for it, retried "
        "each second, instead of going to {}",
        options_.group_id, health.message(), bus_options_.dlq_topic);
  } else if (health.ok() && handler_waiting_) {
    spdlog::info("command consumer {}: the handler writes again", options_.group_id);
  }
  handler_waiting_ = !health.ok();
  return health.ok();
}

bool PipelinedConsumerCore::may_start(const Command& c) const {
  if (draining_) return false;
  auto p = partitions_.find(c.partition);
  return p != partitions_.end() && !p->second.revoking;
}

void PipelinedConsumerCore::start_command(Command& c) {
  c.state = Command::State::kRunning;
  ++c.attempts;
  if (auto p = partitions_.find(c.partition); p != partitions_.end()) ++p->second.busy;
  const std::uint64_t seq = c.seq;
  handler_(c.partition.first, *c.event, [this, seq](Status s) { complete(seq, std::move(s), false); });
}

void PipelinedConsumerCore::dead_letter(Command& c) {
  c.state = Command::State::kDeadLettering;
  if (auto p = partitions_.find(c.partition); p != partitions_.end()) ++p->second.busy;
  const std::uint64_t seq = c.seq;
  OutgoingMessage m = make_dead_letter(c.message.get(), bus_options_.dlq_topic, c.partition.first, options_.group_id,
                                       c.dlq_error, c.attempts);
  Status s = dlq_bus_.publish_recorded(m, [this, seq](const DeliveryReport& r) { complete(seq, r.status, true); });
  if (!s.ok()) complete(seq, s, true);
}

void PipelinedConsumerCore::complete(std::uint64_t seq, Status status, bool dead_letter) {
  MutexLock lock(done_mu_);
  const bool wake = done_.empty();
  done_.push_back(Completion{seq, std::move(status), dead_letter});
  if (wake) {
    done_cv_.notify_all();
    if (queue_ != nullptr) rd_kafka_queue_yield(queue_);
  }
}

bool PipelinedConsumerCore::process_completions() {
  std::vector<Completion> done;
  {
    MutexLock lock(done_mu_);
    done.swap(done_);
  }
  for (Completion& d : done) {
    auto it = live_.find(d.seq);
    if (it == live_.end()) continue;
    Command& c = *it->second;
    auto part = partitions_.find(c.partition);
    if (part != partitions_.end()) --part->second.busy;
    if (d.dead_letter) {
      if (d.status.ok()) {
        counters_.dead_lettered.fetch_add(1);
        if (!c.event) counters_.undecodable.fetch_add(1);
        spdlog::warn("command consumer {}: dead-lettered {} [{}] @{} to {}: {}", options_.group_id, c.partition.first,
                     c.partition.second, c.offset, bus_options_.dlq_topic, c.dlq_error);
        finish(c);
      } else if (!may_start(c)) {
        drop(c);
      } else {
        spdlog::error("command consumer {}: writing {} [{}] @{} to {} failed, retrying: {}", options_.group_id,
                      c.partition.first, c.partition.second, c.offset, bus_options_.dlq_topic, d.status.to_string());
        c.state = Command::State::kDeadLetterWait;
        schedule(c, backoff(2));
      }
      continue;
    }
    if (d.status.ok()) {
      counters_.handled.fetch_add(1);
      release_keys(c);
      finish(c);
    } else if (d.status.code() == StatusCode::kUnavailable && may_start(c) && !handler_writes()) {
      // The store cannot write (a full disk): the command waits for it.
      counters_.retries.fetch_add(1);
      ++c.waits;
      spdlog::debug("command consumer {}: {} [{}] @{} waits for the handler to write again: {}", options_.group_id,
                    c.partition.first, c.partition.second, c.offset, d.status.message());
      c.state = Command::State::kRetryWait;  // keeps its key: later commands on it wait
      schedule(c, std::min(backoff(c.waits), kHandlerWaitMax));
    } else if (d.status.code() == StatusCode::kUnavailable &&
               c.attempts - c.waits <= bus_options_.max_handler_retries && may_start(c)) {
      counters_.retries.fetch_add(1);
      spdlog::warn("command consumer {}: handler unavailable for {} [{}] @{} (attempt {}), retrying: {}",
                   options_.group_id, c.partition.first, c.partition.second, c.offset, c.attempts, d.status.message());
      c.state = Command::State::kRetryWait;  // keeps its key: later commands on it wait
      schedule(c, backoff(c.attempts));
    } else if (d.status.code() == StatusCode::kUnavailable && !may_start(c)) {
      release_keys(c);
      drop(c);  // revoked or stopping: the next owner handles it
    } else {
      c.dlq_error = d.status.to_string();
      release_keys(c);
      dead_letter(c);
    }
  }
  return !done.empty();
}

void PipelinedConsumerCore::schedule(Command& c, std::chrono::milliseconds delay) {
  timers_.emplace(SteadyClock::now() + delay, c.seq);
}

std::chrono::milliseconds PipelinedConsumerCore::backoff(int attempts) const {
  std::chrono::milliseconds d = bus_options_.retry_backoff;
  for (int i = 1; i < attempts && d < bus_options_.retry_backoff_max; ++i) d *= 2;
  return std::min(d, bus_options_.retry_backoff_max);
}

void PipelinedConsumerCore::run_due_retries() {
  const auto now = SteadyClock::now();
  while (!timers_.empty() && timers_.begin()->first <= now) {
    const std::uint64_t seq = timers_.begin()->second;
    timers_.erase(timers_.begin());
    auto it = live_.find(seq);
    if (it == live_.end()) continue;
    Command& c = *it->second;
    if (!may_start(c)) {
      release_keys(c);
      drop(c);
    } else if (c.state == Command::State::kRetryWait) {
      start_command(c);
    } else if (c.state == Command::State::kDeadLetterWait) {
      dead_letter(c);
    }
  }
}

void PipelinedConsumerCore::finish(Command& c) {
  auto part = partitions_.find(c.partition);
  if (part != partitions_.end()) {
    auto& open = part->second.open;
    auto pos = std::lower_bound(open.begin(), open.end(), std::make_pair(c.offset, false),
                                [](const auto& a, const auto& b) { return a.first < b.first; });
    if (pos != open.end() && pos->first == c.offset) pos->second = true;
    while (!open.empty() && open.front().second) {
      part->second.committable = open.front().first + 1;
      open.pop_front();
    }
  }
  live_.erase(c.seq);
}

void PipelinedConsumerCore::drop(Command& c) {
  counters_.dropped.fetch_add(1);
  live_.erase(c.seq);  // its offset stays unfinished: nothing past it is committed
}

void PipelinedConsumerCore::update_pause() {
  if (!paused_ && live_.size() >= options_.max_in_flight) {
    set_paused(true);
  } else if (paused_ && live_.size() <= options_.max_in_flight / 2) {
    set_paused(false);
  }
}

void PipelinedConsumerCore::set_paused(bool paused) {
  rd_kafka_topic_partition_list_t* assignment = nullptr;
  if (rd_kafka_assignment(rk_, &assignment) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
  if (paused) {
    rd_kafka_pause_partitions(rk_, assignment);
    counters_.pauses.fetch_add(1);
  } else {
    rd_kafka_resume_partitions(rk_, assignment);
  }
  rd_kafka_topic_partition_list_destroy(assignment);
  paused_ = paused;
}

void PipelinedConsumerCore::commit(bool sync, const rd_kafka_topic_partition_list_t* only) {
  rd_kafka_topic_partition_list_t* offsets = rd_kafka_topic_partition_list_new(8);
  for (auto& [tp, p] : partitions_) {
    if (p.committable < 0 || (!sync && p.committable == p.committed)) continue;
    if (only != nullptr && rd_kafka_topic_partition_list_find(only, tp.first.c_str(), tp.second) == nullptr) continue;
    rd_kafka_topic_partition_list_add(offsets, tp.first.c_str(), tp.second)->offset = p.committable;
    p.committed = p.committable;
  }
  if (offsets->cnt > 0) {
    counters_.commits.fetch_add(1);
    rd_kafka_resp_err_t err = rd_kafka_commit(rk_, offsets, sync ? 0 : 1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
      on_commit(rk_, err, offsets, this);
    }
  }
  rd_kafka_topic_partition_list_destroy(offsets);
}

void PipelinedConsumerCore::on_commit(rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err,
                                      rd_kafka_topic_partition_list_t* offsets, void* opaque) {
  // Served on the consumer thread. A failed commit is retried with the next one.
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;
  auto* self = static_cast<PipelinedConsumerCore*>(opaque);
  self->counters_.commit_failures.fetch_add(1);
  spdlog::warn("command consumer {}: commit failed (retried): {}", self->options_.group_id, rd_kafka_err2str(err));
  for (int i = 0; offsets != nullptr && i < offsets->cnt; ++i) {
    auto p = self->partitions_.find(TopicPartition(offsets->elems[i].topic, offsets->elems[i].partition));
    if (p != self->partitions_.end()) p->second.committed = -1;
  }
}

template <typename Busy>
void PipelinedConsumerCore::drain(const char* what, Busy busy) {
  auto next_log = SteadyClock::now() + kDrainLogInterval;
  while (true) {
    process_completions();
    if (!busy()) return;
    MutexLock lock(done_mu_);
    done_cv_.wait_for(done_mu_, kPollTimeout, [this]() NEXUM_REQUIRES(done_mu_) { return !done_.empty(); });
    if (SteadyClock::now() >= next_log) {
      spdlog::warn("command consumer {}: {}: still waiting for outcomes of started commands", options_.group_id, what);
      next_log = SteadyClock::now() + kDrainLogInterval;
    }
  }
}

void PipelinedConsumerCore::revoke(rd_kafka_topic_partition_list_t* partitions, bool lost) {
  // Stop dispatching the revoked partitions: commands waiting behind a key
  // or for a retry are dropped (their offsets stay unfinished), those running
  // or being dead-lettered are waited for, then what is finished is committed.
  std::vector<TopicPartition> revoked;
  for (int i = 0; i < partitions->cnt; ++i) {
    TopicPartition tp(partitions->elems[i].topic, partitions->elems[i].partition);
    auto p = partitions_.find(tp);
    if (p == partitions_.end()) continue;
    p->second.revoking = true;
    revoked.push_back(tp);
  }
  std::vector<std::uint64_t> idle;
  for (const auto& [seq, c] : live_) {
    if (c->state != Command::State::kRunning && c->state != Command::State::kDeadLettering &&
        partitions_.count(c->partition) != 0 && partitions_[c->partition].revoking) {
      idle.push_back(seq);
    }
  }
  std::vector<std::string> freed;
  for (std::uint64_t seq : idle) {
    auto it = live_.find(seq);
    if (it == live_.end()) continue;
    Command& c = *it->second;
    for (const std::string& k : c.keys) {
      auto q = keys_.find(k);
      if (q != keys_.end()) erase_seq(q->second, seq);
      freed.push_back(k);
    }
    drop(c);
  }
  kick(std::move(freed));
  drain("revoke", [this, &revoked] {
    for (const TopicPartition& tp : revoked) {
      if (partitions_[tp].busy > 0) return true;
    }
    return false;
  });
  // If they were lost, another member owns them and may already be past us.
  if (!lost) commit(/*sync=*/true, partitions);
  for (const TopicPartition& tp : revoked) partitions_.erase(tp);
}

void PipelinedConsumerCore::on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                         rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  // Served inside rd_kafka_consumer_poll/close: on the consumer thread.
  auto* self = static_cast<PipelinedConsumerCore*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    for (int i = 0; i < partitions->cnt; ++i) {
      self->partitions_[TopicPartition(partitions->elems[i].topic, partitions->elems[i].partition)] = {};
    }
  }
  serve_rebalance(
      rk, err, partitions, "command consumer " + self->options_.group_id,
      [&] {
        if (self->paused_) rd_kafka_pause_partitions(rk, partitions);
      },
      [&](bool lost) { self->revoke(partitions, lost); }, self->assigned_);
  if (!self->assigned_.load()) {
    self->waiting_since_ = SteadyClock::now().time_since_epoch().count();
  } else {
    self->set_not_consuming("");  // consuming again after starting over
  }
}

void PipelinedConsumerCore::on_error(rd_kafka_t* /*rk*/, int err, const char* reason, void* opaque) {
  auto* self = static_cast<PipelinedConsumerCore*>(opaque);
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__FATAL) self->fatal_ = true;
  spdlog::log(code == RD_KAFKA_RESP_ERR__TRANSPORT ? spdlog::level::debug : spdlog::level::warn,
              "command consumer {}: {}: {}", self->options_.group_id, rd_kafka_err2name(code), reason);
}

}  // namespace nexum::kafka_internal

namespace nexum {

Result<std::unique_ptr<PipelinedCommandConsumer>> PipelinedCommandConsumer::create(
    const KafkaEventBusOptions& bus_options, PipelinedConsumerOptions options, AsyncCommandHandler handler,
    CommandKeyFunction key_of, EventBus& dlq_bus) {
  if (bus_options.bootstrap_servers.empty()) return Status::invalid_argument("bootstrap_servers: required");
  if (!handler) return Status::invalid_argument("handler: required");
  if (!key_of) return Status::invalid_argument("key_of: required");
  return std::unique_ptr<PipelinedCommandConsumer>(
      new PipelinedCommandConsumer(std::make_unique<kafka_internal::PipelinedConsumerCore>(
          bus_options, std::move(options), std::move(handler), std::move(key_of), dlq_bus)));
}

PipelinedCommandConsumer::PipelinedCommandConsumer(std::unique_ptr<kafka_internal::PipelinedConsumerCore> core)
    : core_(std::move(core)) {}

PipelinedCommandConsumer::~PipelinedCommandConsumer() { stop(); }

Status PipelinedCommandConsumer::start() { return core_->start(); }
void PipelinedCommandConsumer::stop() { core_->stop(); }
bool PipelinedCommandConsumer::assigned() const { return core_->assigned(); }

std::chrono::milliseconds PipelinedCommandConsumer::waiting_for_assignment() const {
  return core_->waiting_for_assignment();
}
const std::string& PipelinedCommandConsumer::group_id() const { return core_->group_id(); }

Status PipelinedCommandConsumer::wait_until_assigned(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!core_->assigned()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      const std::int64_t ms = core_->waiting_for_assignment().count();
      return Status::unavailable("command consumer " + core_->group_id() +
                                 " waits for the group coordinator to assign its partitions (for " +
                                 std::to_string(ms / 1000) + "." + std::to_string(ms % 1000 / 100) + " s)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Status();
}

PipelinedConsumerStats PipelinedCommandConsumer::stats() const { return core_->stats(); }
Status PipelinedCommandConsumer::health() const { return core_->health(); }

}  // namespace nexum
