// ClusterNode: the consumer thread (polls, dispatches to shards, commits,
// serves rebalances: takeover on assign, handover on revoke) and one worker
// thread per owned shard (decide, store, write the outcome to the changelog).
// The commit point and the handover: doc/cluster.md §3-§4.
#include "cluster/cluster_node.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>
#include <utility>

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include "bus/kafka_config.h"
#include "cluster/changelog_writer.h"
#include "cluster/group_generation.h"
#include "cluster/kafka_handle.h"
#include "cluster/shard_partitioner.h"
#include "cluster/shard_replica.h"
#include "nexum/command_handler.h"
#include "nexum/cross_shard_transfer.h"
#include "nexum/event_types.h"
#include "nexum/json_codec.h"
#include "nexum/topics.h"

namespace nexum::cluster {

ClusterTopics::ClusterTopics(const std::string& prefix)
    : changelog(prefix + "nexum.changelog"),
      dead_letters(prefix + std::string(topics::kCommandsDlq)),
      group(prefix + "nexum.cluster") {
  for (std::string_view t :
       {topics::kCommandsTransactions, topics::kCommandsCustomers, topics::kCommandsAccounts, topics::kCommandsLoans}) {
    commands.push_back(prefix + std::string(t));
  }
}

namespace cluster_internal {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kPollTimeout{100};
constexpr std::chrono::seconds kHandoverTimeout{90};

// A command taken from Kafka, copied out of librdkafka's buffers.
struct Taken {
  std::string topic;
  std::int64_t offset = 0;
  std::string key;
  std::string value;
};

}  // namespace

// One owned shard: its replica, worker, queue and the offsets it may commit.
class ShardRuntime {
 public:
  ShardRuntime(int shard, int shard_count, const ClusterTopics& topics, const ClusterOptions& options,
               ChangelogWriter& writer, std::function<void(Status)> fail)
      : shard_(shard),
        shard_count_(shard_count),
        topics_(topics),
        prefix_(options.topic_prefix),
        node_id_(options.node_id),
        transfer_deadline_(options.transfer_deadline),
        resend_interval_(options.transfer_resend_interval),
        writer_(writer),
        fail_(std::move(fail)) {}
  ~ShardRuntime() { stop_worker(); }

  int shard() const { return shard_; }

  // Takeover: open the local copy, write this owner's marker, restore up to it.
  Status take_over(const std::string& data_dir, const KafkaEventBusOptions& options, std::int32_t generation) {
    state_ = "restoring";
    cross_shard::CrossShardOptions cross;
    cross.is_local_account = [shard = shard_, count = shard_count_](std::string_view account) {
      return shard_of(account, count) == shard;
    };
    cross.deadline = transfer_deadline_;
    NEXUM_ASSIGN_OR_RETURN(replica_, ShardReplica::open(data_dir, shard_, std::move(cross)));
    ChangelogRecord marker;
    marker.kind = ChangelogKind::kMarker;
    marker.shard = shard_;
    marker.node_id = node_id_;
    marker.epoch.generation = generation;
    NEXUM_ASSIGN_OR_RETURN(std::int64_t marker_offset, writer_.write_and_wait(topics_.changelog, shard_, "marker",
                                                                              encode_changelog_record(marker)));
    epoch_ = OwnerEpoch{generation, marker_offset};
    NEXUM_ASSIGN_OR_RETURN(RestoreStats restored,
                           restore_shard(options, topics_.changelog, *replica_, marker_offset, &progress_));
    {
      std::lock_guard lock(mu_);
      restore_ = restored;
      published_epoch_ = epoch_;
    }
    last_position_ = restored.last_position;
    NEXUM_RETURN_IF_ERROR(load_open_transfers());
    spdlog::info(
        "cluster node {}: shard {} taken over at epoch {}: {} changelog records read from @{} ({} fenced), "
        "{} events checked, {} restored in {:.3f} s ({:.0f} events/s){}; {} transfers in transit",
        node_id_, shard_, epoch_.to_string(), restored.records_read, restored.read_from, restored.records_ignored,
        restored.events_verified, restored.events_applied, restored.seconds, restored.events_per_second(),
        restored.wiped ? "; the local copy was dropped and rebuilt" : "", in_transit());
    return Status();
  }

  void start_worker() {
    state_ = "serving";
    {
      std::lock_guard lock(mu_);
      serving_ = true;
    }
    worker_ = std::thread([this] { work(); });
  }

  // Stops the worker after its current command; queued commands are dropped
  // (their offsets stay uncommitted).
  void stop_worker() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      queue_.clear();
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
  }

  // Waits until no changelog or dead-letter write of this shard is in flight.
  bool wait_writes(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return writes_in_flight_ == 0; });
  }

  std::size_t push(Taken t) {
    std::lock_guard lock(mu_);
    if (stopping_) return 0;
    queue_.push_back(std::move(t));
    cv_.notify_all();
    return queue_.size();
  }

  std::size_t queued() const {
    std::lock_guard lock(mu_);
    return queue_.size();
  }

  // Next offsets that may be committed, per topic, that differ from what was committed.
  void collect_commits(std::map<std::string, std::int64_t>& out, bool all) {
    std::lock_guard lock(mu_);
    for (const auto& [topic, next] : committable_) {
      auto c = committed_.find(topic);
      if (all || c == committed_.end() || c->second != next) out[topic] = next;
    }
  }
  void mark_committed(const std::string& topic, std::int64_t next) {
    std::lock_guard lock(mu_);
    committed_[topic] = next;
  }
  void forget_committed() {
    std::lock_guard lock(mu_);
    committed_.clear();
  }

  bool serving() const { return std::string_view(state_.load()) == "serving"; }

  Status read(const std::function<void(EventStore&)>& read) const {
    const std::string_view state = state_.load();
    if (state != "serving") {
      return Status::unavailable("shard " + std::to_string(shard_) + " is " + std::string(state) + " on this node");
    }
    read(replica_->store());
    return Status();
  }

  // The saga's follow-up commands of commands whose offsets are now
  // committed (`next`: the topic's committed next offset). A committed
  // offset proves the outcome admitted: the group accepted the commit from
  // this generation, so no newer owner's marker precedes the outcome in the
  // changelog (doc/cluster.md §8). A credit joins the transfers in transit.
  std::vector<cross_shard::FollowUp> release_committed(const std::string& topic, std::int64_t next) {
    std::vector<cross_shard::FollowUp> out;
    std::lock_guard lock(mu_);
    for (auto it = awaiting_commit_.begin(); it != awaiting_commit_.end();) {
      if (it->topic != topic || it->offset >= next) {
        ++it;
        continue;
      }
      if (is_credit(it->follow_up)) {
        open_transfers_[it->follow_up.transaction_id] = OpenTransfer{it->follow_up, SteadyClock::now()};
      }
      out.push_back(std::move(it->follow_up));
      it = awaiting_commit_.erase(it);
    }
    follow_ups_sent_ += out.size();
    return out;
  }

  // The credit commands of transfers in transit whose last send is
  // resend_interval old (all of them right after a takeover).
  std::vector<cross_shard::FollowUp> due_resends(SteadyClock::time_point now) {
    std::vector<cross_shard::FollowUp> out;
    std::lock_guard lock(mu_);
    if (!serving_) return out;
    for (auto& [txn, open] : open_transfers_) {
      if (now - open.last_sent < resend_interval_) continue;
      open.last_sent = now;
      out.push_back(open.credit);
    }
    follow_ups_sent_ += out.size();
    return out;
  }

  std::size_t in_transit() const {
    std::lock_guard lock(mu_);
    return open_transfers_.size();
  }

  ShardStatus status() const {
    ShardStatus s;
    s.shard = shard_;
    s.state = state_.load() == nullptr ? "" : state_.load();
    s.last_position = last_position_.load();
    s.restore_offset = progress_.offset.load();
    s.restore_target = progress_.target.load();
    s.commands = commands_.load();
    std::lock_guard lock(mu_);
    s.epoch = published_epoch_;
    s.restore = restore_;
    s.queued = queue_.size();
    s.transfers_in_transit = open_transfers_.size();
    s.follow_ups_sent = follow_ups_sent_;
    return s;
  }

 private:
  struct Pending {
    std::uint64_t seq;
    std::string topic;
    std::int64_t offset;
    bool ready = false;
  };

  void work() {
    while (true) {
      Taken t;
      std::uint64_t seq = 0;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        t = std::move(queue_.front());
        queue_.pop_front();
        seq = next_seq_++;
        pending_.push_back(Pending{seq, t.topic, t.offset});
      }
      handle(t, seq);
    }
  }

  bool stopping() {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  void handle(const Taken& t, std::uint64_t seq) {
    Result<EventSchema> command = decode_event_json(t.value);
    if (!command) return dead_letter(t, seq, "invalid envelope: " + command.error().to_string());
    // A transfer's target may be another shard's: a saga (doc/cluster.md §8).
    std::string_view saga_target;
    if (t.topic.substr(prefix_.size()) == topics::kCommandsTransactions) {
      const boost::json::value* action = command->data.if_contains("action");
      const boost::json::value* to = command->data.if_contains("to_account_id");
      if (action != nullptr && action->is_string() && action->get_string() == "transfer" && to != nullptr &&
          to->is_string()) {
        saga_target = to->get_string();
      }
    }
    for (const std::string& key : command_keys(*command)) {
      if (!saga_target.empty() && key == saga_target) continue;
      const int owner = shard_of(key, shard_count_);
      if (owner != shard_) {
        return dead_letter(t, seq,
                           "cross-shard command: '" + key + "' belongs to shard " + std::to_string(owner) +
                               ", the command came on shard " + std::to_string(shard_) +
                               " (only a transfer's target may be in another shard: doc/cluster.md §8)");
      }
    }
    const std::string handler_topic = t.topic.substr(prefix_.size());
    std::chrono::milliseconds backoff{100};
    while (true) {
      Result<CommandOutcome> outcome = replica_->handler().handle(handler_topic, *command);
      if (outcome) return ship(t, seq, *command, *outcome);
      if (outcome.error().code() != StatusCode::kUnavailable) {
        return dead_letter(t, seq, outcome.error().to_string());
      }
      spdlog::warn("cluster node {}: shard {}: {} [{}] @{} unavailable, retrying: {}", node_id_, shard_, t.topic,
                   shard_, t.offset, outcome.error().message());
      if (stopping()) return;  // left unfinished: the next owner handles it
      std::this_thread::sleep_for(backoff);
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5));
    }
  }

  // The outcome is stored locally; it is done once it is in the changelog.
  void ship(const Taken& t, std::uint64_t seq, const EventSchema& command, const CommandOutcome& outcome) {
    commands_.fetch_add(1);
    std::vector<EventSchema> saga_events;  // the outcome's saga events, which may call for a follow-up
    const auto keep_saga_event = [&saga_events](const EventView& v) {
      if (!v.envelope.event_type.starts_with("transfer_")) return Status();
      NEXUM_ASSIGN_OR_RETURN(RecordedEvent e, v.to_recorded());
      saga_events.push_back(std::move(e.event));
      return Status();
    };
    if (outcome.duplicate || outcome.positions.empty()) {
      // Stored before: in the changelog already (restored from it) or on its
      // way there ahead of this one; done once everything before it is. Its
      // follow-up is produced again (it may have been lost with a node).
      for (std::int64_t p : outcome.positions) {
        Status read = replica_->store().scan_log(p, 1, {}, keep_saga_event);
        if (!read.ok()) return fail(read);
      }
      note_saga(t, saga_events);
      return finish(seq);
    }
    const std::int64_t first = outcome.positions.front();
    for (std::size_t i = 0; i < outcome.positions.size(); ++i) {
      if (outcome.positions[i] != first + static_cast<std::int64_t>(i)) {
        return fail(Status::internal("shard " + std::to_string(shard_) + ": the outcome of command " +
                                     command.event_id.to_string() + " is not at consecutive positions"));
      }
    }
    ChangelogRecord record;
    record.kind = ChangelogKind::kOutcome;
    record.shard = shard_;
    record.node_id = node_id_;
    record.epoch = epoch_;
    record.command_id = command.event_id.to_string();
    record.command_topic = t.topic.substr(prefix_.size());
    Status read = replica_->store().scan_log(first, outcome.positions.size(), {}, [&](const EventView& v) {
      ChangelogEvent e;
      e.position = v.global_position;
      e.stream = std::string(v.stream);
      e.stream_version = v.stream_version;
      e.topic = std::string(v.topic);
      encode_event_json(v.envelope, e.envelope_json);
      record.events.push_back(std::move(e));
      return keep_saga_event(v);
    });
    if (!read.ok() || record.events.size() != outcome.positions.size()) {
      return fail(read.ok() ? Status::internal("shard " + std::to_string(shard_) + ": outcome events not readable")
                            : read);
    }
    last_position_ = record.events.back().position;
    note_saga(t, saga_events);
    write(topics_.changelog, shard_, t.key, encode_changelog_record(record), seq, {});
  }

  static bool is_credit(const cross_shard::FollowUp& f) {
    const boost::json::value* action = f.command.data.if_contains("action");
    return action != nullptr && action->is_string() && action->get_string() == cross_shard::kActionCredit;
  }

  // A settled transfer leaves the transfers in transit; a follow-up waits
  // for the command's offset to be committed (release_committed).
  void note_saga(const Taken& t, const std::vector<EventSchema>& events) {
    if (events.empty()) return;
    Result<std::optional<cross_shard::FollowUp>> f = cross_shard::follow_up(events);
    std::lock_guard lock(mu_);
    for (const EventSchema& e : events) {
      if (e.event_type == cross_shard::kTransferCompleted || e.event_type == cross_shard::kTransferRefunded) {
        open_transfers_.erase(e.entity_id);
      }
    }
    if (!f) {
      spdlog::error("cluster node {}: shard {}: {} @{}: no follow-up: {}", node_id_, shard_, t.topic, t.offset,
                    f.error().to_string());
      return;
    }
    if (*f) awaiting_commit_.push_back(AwaitingCommit{t.topic, t.offset, std::move(**f)});
  }

  // Transfers debited into transit here and not settled, from the store
  // (after a restore: only what the changelog admitted).
  Status load_open_transfers() {
    EventFilter filter;
    filter.event_types = event_types::list(
        {cross_shard::kTransferInTransit, cross_shard::kTransferCompleted, cross_shard::kTransferRefunded});
    std::map<std::string, cross_shard::FollowUp> open;
    NEXUM_RETURN_IF_ERROR(replica_->store().scan_log(1, std::size_t{1} << 40, filter, [&](const EventView& v) {
      if (v.envelope.event_type != cross_shard::kTransferInTransit) {
        open.erase(std::string(v.envelope.entity_id));
        return Status();
      }
      NEXUM_ASSIGN_OR_RETURN(RecordedEvent e, v.to_recorded());
      NEXUM_ASSIGN_OR_RETURN(std::optional<cross_shard::FollowUp> f, cross_shard::follow_up({e.event}));
      if (f) open.emplace(f->transaction_id, std::move(*f));
      return Status();
    }));
    std::lock_guard lock(mu_);
    open_transfers_.clear();
    for (auto& [txn, credit] : open) open_transfers_.emplace(txn, OpenTransfer{std::move(credit), {}});
    return Status();
  }

  void dead_letter(const Taken& t, std::uint64_t seq, const std::string& error) {
    commands_.fetch_add(1);
    spdlog::warn("cluster node {}: shard {}: dead-lettering {} @{}: {}", node_id_, shard_, t.topic, t.offset, error);
    write(topics_.dead_letters, RD_KAFKA_PARTITION_UA, t.key, t.value, seq,
          {{"nexum_dlq_topic", t.topic},
           {"nexum_dlq_partition", std::to_string(shard_)},
           {"nexum_dlq_offset", std::to_string(t.offset)},
           {"nexum_dlq_group", topics_.group},
           {"nexum_dlq_error", error},
           {"nexum_dlq_attempts", "1"}});
  }

  void write(const std::string& topic, std::int32_t partition, const std::string& key, const std::string& value,
             std::uint64_t seq, const std::vector<std::pair<std::string, std::string>>& headers) {
    {
      std::lock_guard lock(mu_);
      ++writes_in_flight_;
    }
    writer_.write(
        topic, partition, key, value,
        [this, seq, topic](Status s, std::int64_t /*offset*/) {
          if (s.ok()) {
            finish(seq);
          } else {
            fail(Status(s.code(),
                        "shard " + std::to_string(shard_) + ": writing to " + topic + " failed: " + s.message()));
          }
          std::lock_guard lock(mu_);
          --writes_in_flight_;
          cv_.notify_all();
        },
        headers);
  }

  // Marks `seq` done and advances each topic's committable offset over the
  // done prefix: an offset is committed only past commands whose outcomes
  // are all in the changelog.
  void finish(std::uint64_t seq) {
    std::lock_guard lock(mu_);
    if (pending_.empty() || seq < pending_.front().seq) return;
    pending_[seq - pending_.front().seq].ready = true;
    while (!pending_.empty() && pending_.front().ready && !failed_) {
      committable_[pending_.front().topic] = pending_.front().offset + 1;
      pending_.pop_front();
    }
  }

  void fail(Status s) {
    {
      std::lock_guard lock(mu_);
      failed_ = true;  // nothing more becomes committable
      stopping_ = true;
      queue_.clear();
    }
    cv_.notify_all();
    state_ = "failed";
    fail_(std::move(s));
  }

  const int shard_;
  const int shard_count_;
  const ClusterTopics& topics_;
  const std::string prefix_;
  const std::string node_id_;
  const std::chrono::milliseconds transfer_deadline_;
  const std::chrono::milliseconds resend_interval_;
  ChangelogWriter& writer_;
  const std::function<void(Status)> fail_;

  std::unique_ptr<ShardReplica> replica_;
  OwnerEpoch epoch_;  // set before the worker starts; the worker reads it
  RestoreProgress progress_;
  std::atomic<const char*> state_{"restoring"};
  std::atomic<std::int64_t> last_position_{0};
  std::atomic<std::uint64_t> commands_{0};
  std::thread worker_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Taken> queue_;
  bool stopping_ = false;
  bool failed_ = false;
  std::uint64_t next_seq_ = 0;
  std::deque<Pending> pending_;
  std::map<std::string, std::int64_t> committable_;
  std::map<std::string, std::int64_t> committed_;
  int writes_in_flight_ = 0;
  // The saga (doc/cluster.md §8): follow-ups waiting for their command's
  // offset commit, and the transfers in transit (debited here, not settled).
  struct AwaitingCommit {
    std::string topic;
    std::int64_t offset;
    cross_shard::FollowUp follow_up;
  };
  struct OpenTransfer {
    cross_shard::FollowUp credit;
    SteadyClock::time_point last_sent;
  };
  std::deque<AwaitingCommit> awaiting_commit_;
  std::map<std::string, OpenTransfer> open_transfers_;
  std::uint64_t follow_ups_sent_ = 0;
  bool serving_ = false;
  RestoreStats restore_;        // for status()
  OwnerEpoch published_epoch_;  // for status()
};

class ClusterNodeCore {
 public:
  ClusterNodeCore(ClusterOptions options, KafkaEventBusOptions bus_options, int shard_count,
                  std::unique_ptr<ChangelogWriter> writer)
      : options_(std::move(options)),
        bus_options_(std::move(bus_options)),
        topics_(options_.topic_prefix),
        shard_count_(shard_count),
        writer_(std::move(writer)) {}
  ~ClusterNodeCore() { stop(); }

  Status start();
  void stop();
  ClusterStatus status() const;
  int shard_count() const { return shard_count_; }
  const std::string& node_id() const { return options_.node_id; }
  std::vector<int> serving_shards() const {
    std::vector<int> out;
    std::lock_guard lock(shards_mu_);
    for (const auto& [shard, runtime] : shards_) {
      if (runtime->serving()) out.push_back(shard);
    }
    return out;
  }
  Status read_shard(int shard, const std::function<void(EventStore&)>& read) const {
    std::lock_guard lock(shards_mu_);  // no handover erases the shard meanwhile
    auto it = shards_.find(shard);
    if (it == shards_.end()) return Status::not_found("shard " + std::to_string(shard) + " is not owned by this node");
    return it->second->read(read);
  }
  Result<std::vector<GroupMember>> members(std::chrono::milliseconds timeout) const {
    if (rk_ == nullptr) return Status::unavailable("the node is not running");
    return group_members(rk_, topics_.group, timeout);
  }
  Status health() const {
    std::lock_guard lock(failure_mu_);
    return failure_;
  }

 private:
  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                           void* opaque);
  static void on_commit(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets,
                        void* opaque);
  void run();
  // Sets each shard's lag (ShardStatus::lag).
  void fill_lag(std::vector<ShardStatus>& shards) const;
  void take(rd_kafka_message_t* m);
  void assign(rd_kafka_topic_partition_list_t* partitions);
  void revoke(rd_kafka_topic_partition_list_t* partitions, bool lost);
  void commit(bool sync, bool all);
  void update_pauses();
  void set_paused(int shard, bool paused);
  // The saga's follow-ups of the commands a successful commit covered, and
  // the due resends of transfers in transit (doc/cluster.md §8).
  void release_follow_ups(const rd_kafka_topic_partition_list_t* committed);
  void resend_transfers();
  void send(int shard, std::vector<cross_shard::FollowUp> follow_ups);
  void fail(Status s) {
    spdlog::critical("cluster node {}: {}; the node stops so that the group hands its shards on", options_.node_id,
                     s.to_string());
    std::lock_guard lock(failure_mu_);
    if (failure_.ok()) failure_ = std::move(s);
  }

  const ClusterOptions options_;
  const KafkaEventBusOptions bus_options_;
  const ClusterTopics topics_;
  const int shard_count_;
  std::unique_ptr<ChangelogWriter> writer_;

  rd_kafka_t* rk_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::int32_t> generation_{-1};
  std::atomic<std::uint64_t> commit_failures_{0};

  mutable std::mutex shards_mu_;  // guards the map (the consumer thread changes it; status() reads it)
  std::map<int, std::unique_ptr<ShardRuntime>> shards_;
  std::set<int> paused_;  // consumer thread only

  mutable std::mutex failure_mu_;
  Status failure_;
};

Status ClusterNodeCore::start() {
  NEXUM_ASSIGN_OR_RETURN(kafka_internal::ConfPtr conf,
                         kafka_internal::make_consumer_conf(bus_options_, topics_.group, "earliest"));
  // Range assignment gives partition p of every command topic to one member:
  // the shard is owned whole (doc/cluster.md §1).
  NEXUM_RETURN_IF_ERROR(kafka_internal::set_property(conf.get(), "partition.assignment.strategy", "range"));
  NEXUM_RETURN_IF_ERROR(
      kafka_internal::set_property(conf.get(), "session.timeout.ms", std::to_string(options_.session_timeout.count())));
  NEXUM_RETURN_IF_ERROR(kafka_internal::set_property(
      conf.get(), "heartbeat.interval.ms", std::to_string(std::max<long>(100, options_.session_timeout.count() / 4))));
  NEXUM_RETURN_IF_ERROR(kafka_internal::set_property(conf.get(), "isolation.level", "read_committed"));
  rd_kafka_conf_set_opaque(conf.get(), this);
  rd_kafka_conf_set_rebalance_cb(conf.get(), &ClusterNodeCore::on_rebalance);
  rd_kafka_conf_set_offset_commit_cb(conf.get(), &ClusterNodeCore::on_commit);
  NEXUM_ASSIGN_OR_RETURN(KafkaHandle handle, new_kafka_handle(RD_KAFKA_CONSUMER, std::move(conf), "cluster consumer"));
  rd_kafka_t* rk = handle.get();
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(4);
  for (const std::string& t : topics_.commands)
    rd_kafka_topic_partition_list_add(list, t.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return kafka_internal::status_from_kafka_error(err, "subscribe to the command topics");
  rk_ = handle.release();
  thread_ = std::thread([this] { run(); });
  return Status();
}

void ClusterNodeCore::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  if (rk_ != nullptr) {
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
  }
}

void ClusterNodeCore::run() {
  auto next_commit = SteadyClock::now();
  while (!stopping_.load()) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, static_cast<int>(kPollTimeout.count()));
    if (m != nullptr) take(m);
    if (SteadyClock::now() >= next_commit) {
      update_pauses();
      commit(/*sync=*/false, /*all=*/false);
      resend_transfers();
      next_commit = SteadyClock::now() + options_.commit_interval;
    }
  }
  rd_kafka_resp_err_t err = rd_kafka_consumer_close(rk_);  // serves the final revoke: handover
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("cluster node {}: close: {}", options_.node_id, rd_kafka_err2str(err));
  }
  std::lock_guard lock(shards_mu_);
  shards_.clear();
}

void ClusterNodeCore::take(rd_kafka_message_t* m) {
  std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> message(m, rd_kafka_message_destroy);
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      spdlog::warn("cluster node {}: {}", options_.node_id, rd_kafka_message_errstr(m));
    }
    return;
  }
  ShardRuntime* runtime = nullptr;
  {
    std::lock_guard lock(shards_mu_);
    auto it = shards_.find(m->partition);
    if (it != shards_.end()) runtime = it->second.get();
  }
  if (runtime == nullptr) return;  // not (or no longer) ours: left to the owner
  Taken t;
  t.topic = rd_kafka_topic_name(m->rkt);
  t.offset = m->offset;
  if (m->key != nullptr) t.key.assign(static_cast<const char*>(m->key), m->key_len);
  if (m->payload != nullptr) t.value.assign(static_cast<const char*>(m->payload), m->len);
  const std::size_t queued = runtime->push(std::move(t));
  if (queued >= options_.max_queued_per_shard && paused_.count(runtime->shard()) == 0) {
    set_paused(runtime->shard(), true);
  }
}

void ClusterNodeCore::update_pauses() {
  std::vector<int> resume;
  {
    std::lock_guard lock(shards_mu_);
    for (int shard : paused_) {
      auto it = shards_.find(shard);
      if (it == shards_.end() || it->second->queued() <= options_.max_queued_per_shard / 2) resume.push_back(shard);
    }
  }
  for (int shard : resume) set_paused(shard, false);
}

void ClusterNodeCore::set_paused(int shard, bool paused) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(4);
  for (const std::string& t : topics_.commands) rd_kafka_topic_partition_list_add(list, t.c_str(), shard);
  if (paused) {
    rd_kafka_pause_partitions(rk_, list);
    paused_.insert(shard);
  } else {
    rd_kafka_resume_partitions(rk_, list);
    paused_.erase(shard);
  }
  rd_kafka_topic_partition_list_destroy(list);
}

void ClusterNodeCore::commit(bool sync, bool all) {
  std::vector<std::pair<ShardRuntime*, std::map<std::string, std::int64_t>>> per_shard;
  {
    std::lock_guard lock(shards_mu_);
    for (auto& [shard, runtime] : shards_) {
      std::map<std::string, std::int64_t> offsets;
      runtime->collect_commits(offsets, all);
      if (!offsets.empty()) per_shard.emplace_back(runtime.get(), std::move(offsets));
    }
  }
  if (per_shard.empty()) return;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(8);
  for (const auto& [runtime, offsets] : per_shard) {
    for (const auto& [topic, next] : offsets) {
      rd_kafka_topic_partition_list_add(list, topic.c_str(), runtime->shard())->offset = next;
      runtime->mark_committed(topic, next);
    }
  }
  rd_kafka_resp_err_t err = rd_kafka_commit(rk_, list, sync ? 0 : 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) on_commit(rk_, err, list, this);
  rd_kafka_topic_partition_list_destroy(list);
}

void ClusterNodeCore::on_commit(rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets,
                                void* opaque) {
  auto* self = static_cast<ClusterNodeCore*>(opaque);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR && offsets != nullptr) self->release_follow_ups(offsets);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;
  self->commit_failures_.fetch_add(1);
  spdlog::warn(
      "cluster node {}: offset commit refused: {} (a stale generation: this node no longer owns the "
      "shards it committed for)",
      self->options_.node_id, rd_kafka_err2str(err));
  std::lock_guard lock(self->shards_mu_);
  for (auto& [shard, runtime] : self->shards_) runtime->forget_committed();  // the next commit carries them again
}

void ClusterNodeCore::release_follow_ups(const rd_kafka_topic_partition_list_t* committed) {
  std::vector<std::pair<int, std::vector<cross_shard::FollowUp>>> released;
  {
    std::lock_guard lock(shards_mu_);
    for (int i = 0; i < committed->cnt; ++i) {
      const rd_kafka_topic_partition_t& p = committed->elems[i];
      if (p.err != RD_KAFKA_RESP_ERR_NO_ERROR || p.offset < 0) continue;
      auto it = shards_.find(p.partition);
      if (it == shards_.end()) continue;  // handed over: the next owner resends
      std::vector<cross_shard::FollowUp> f = it->second->release_committed(p.topic, p.offset);
      if (!f.empty()) released.emplace_back(p.partition, std::move(f));
    }
  }
  for (auto& [shard, f] : released) send(shard, std::move(f));
}

void ClusterNodeCore::resend_transfers() {
  const auto now = SteadyClock::now();
  std::vector<std::pair<int, std::vector<cross_shard::FollowUp>>> due;
  {
    std::lock_guard lock(shards_mu_);
    for (auto& [shard, runtime] : shards_) {
      std::vector<cross_shard::FollowUp> f = runtime->due_resends(now);
      if (!f.empty()) due.emplace_back(shard, std::move(f));
    }
  }
  for (auto& [shard, f] : due) send(shard, std::move(f));
}

void ClusterNodeCore::send(int shard, std::vector<cross_shard::FollowUp> follow_ups) {
  for (const cross_shard::FollowUp& f : follow_ups) {
    // Keyed by the account the command names: librdkafka's murmur2_random
    // puts it on that account's shard.
    writer_->write(options_.topic_prefix + f.topic, RD_KAFKA_PARTITION_UA, f.key, encode_event_json(f.command),
                   [node = options_.node_id, shard, txn = f.transaction_id](Status s, std::int64_t /*offset*/) {
                     if (!s.ok()) {
                       spdlog::warn(
                           "cluster node {}: shard {}: a follow-up of transfer {} was not produced ({}); "
                           "its resend will carry it",
                           node, shard, txn, s.to_string());
                     }
                   });
  }
}

void ClusterNodeCore::assign(rd_kafka_topic_partition_list_t* partitions) {
  std::set<int> shards;
  for (int i = 0; i < partitions->cnt; ++i) shards.insert(partitions->elems[i].partition);
  Result<std::int32_t> generation = group_generation(rk_);
  if (!generation) {
    fail(generation.error());
    return;
  }
  generation_ = *generation;
  spdlog::info("cluster node {}: generation {}: assigned {} shards", options_.node_id, *generation, shards.size());
  std::vector<ShardRuntime*> taking;
  {
    std::lock_guard lock(shards_mu_);
    for (int shard : shards) {
      auto runtime = std::make_unique<ShardRuntime>(shard, shard_count_, topics_, options_, *writer_,
                                                    [this](Status s) { fail(std::move(s)); });
      taking.push_back(runtime.get());
      shards_[shard] = std::move(runtime);
    }
  }
  // Shards are taken over in parallel; commands are consumed only after every
  // assigned shard has been restored (the assignment is applied afterwards).
  std::vector<std::thread> threads;
  std::vector<Status> results(taking.size());
  for (std::size_t i = 0; i < taking.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = taking[i]->take_over(options_.data_dir, bus_options_, *generation); });
  }
  for (std::thread& t : threads) t.join();
  for (std::size_t i = 0; i < taking.size(); ++i) {
    if (results[i].ok()) {
      taking[i]->start_worker();
    } else if (results[i].code() == StatusCode::kConflict) {
      // A newer generation's owner wrote its marker first: this assignment is
      // already stale (this node was frozen or slow while the group moved
      // on). Not a failure: the shard is left to that owner, this node's
      // commits of the old generation are refused anyway, and the group's
      // next assignment (which the coordinator forces on a stale member)
      // decides again.
      spdlog::warn("cluster node {}: shard {} not taken over: {}; left to the newer owner until the next assignment",
                   options_.node_id, taking[i]->shard(), results[i].message());
      std::lock_guard lock(shards_mu_);
      shards_.erase(taking[i]->shard());
    } else {
      fail(Status(results[i].code(),
                  "taking over shard " + std::to_string(taking[i]->shard()) + ": " + results[i].message()));
    }
  }
}

void ClusterNodeCore::revoke(rd_kafka_topic_partition_list_t* partitions, bool lost) {
  std::set<int> shards;
  for (int i = 0; i < partitions->cnt; ++i) shards.insert(partitions->elems[i].partition);
  std::vector<ShardRuntime*> leaving;
  {
    std::lock_guard lock(shards_mu_);
    for (int shard : shards) {
      auto it = shards_.find(shard);
      if (it != shards_.end()) leaving.push_back(it->second.get());
    }
  }
  // Handover: finish the running command, let every outcome reach the
  // changelog, commit what is done, close the store.
  for (ShardRuntime* r : leaving) r->stop_worker();
  for (ShardRuntime* r : leaving) {
    if (!r->wait_writes(kHandoverTimeout)) {
      spdlog::error("cluster node {}: shard {}: changelog writes still unacknowledged after {} s at handover",
                    options_.node_id, r->shard(), kHandoverTimeout.count());
    }
  }
  if (!lost) commit(/*sync=*/true, /*all=*/false);
  std::lock_guard lock(shards_mu_);
  for (int shard : shards) {
    shards_.erase(shard);
    paused_.erase(shard);
  }
  spdlog::info("cluster node {}: handed over {} shards{}", options_.node_id, leaving.size(),
               lost ? " (lost: nothing committed)" : "");
}

void ClusterNodeCore::on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                                   void* opaque) {
  auto* self = static_cast<ClusterNodeCore*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    self->assign(partitions);
    rd_kafka_assign(rk, partitions);
  } else {
    self->revoke(partitions, rd_kafka_assignment_lost(rk) != 0);
    rd_kafka_assign(rk, nullptr);
  }
}

void ClusterNodeCore::fill_lag(std::vector<ShardStatus>& shards) const {
  if (rk_ == nullptr || shards.empty()) return;
  rd_kafka_topic_partition_list_t* next = rd_kafka_topic_partition_list_new(4 * static_cast<int>(shards.size()));
  for (const ShardStatus& shard : shards) {
    for (const std::string& t : topics_.commands) rd_kafka_topic_partition_list_add(next, t.c_str(), shard.shard);
  }
  rd_kafka_position(rk_, next);  // local: the offset after the last message taken
  rd_kafka_topic_partition_list_t* untaken = rd_kafka_topic_partition_list_new(next->cnt);
  for (int i = 0; i < next->cnt; ++i) {
    if (next->elems[i].offset < 0) {
      rd_kafka_topic_partition_list_add(untaken, next->elems[i].topic, next->elems[i].partition);
    }
  }
  // Nothing taken since the takeover: the group's committed offset is where consuming starts.
  const bool committed = untaken->cnt == 0 || rd_kafka_committed(rk_, untaken, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR;
  for (ShardStatus& shard : shards) {
    std::int64_t lag = 0;
    for (int i = 0; i < next->cnt && lag >= 0; ++i) {
      if (next->elems[i].partition != shard.shard) continue;
      std::int64_t low = -1, high = -1;
      rd_kafka_get_watermark_offsets(rk_, next->elems[i].topic, shard.shard, &low, &high);  // cached by fetches
      std::int64_t from = next->elems[i].offset;
      if (from < 0 && committed) {
        const rd_kafka_topic_partition_t* c =
            rd_kafka_topic_partition_list_find(untaken, next->elems[i].topic, shard.shard);
        from = c != nullptr && c->offset >= 0 ? c->offset : low;  // never committed: from the start
      }
      lag = high < 0 || from < 0 ? -1 : lag + std::max<std::int64_t>(0, high - from);
    }
    shard.lag = lag;
  }
  rd_kafka_topic_partition_list_destroy(untaken);
  rd_kafka_topic_partition_list_destroy(next);
}

ClusterStatus ClusterNodeCore::status() const {
  ClusterStatus s;
  s.node_id = options_.node_id;
  s.group = topics_.group;
  s.shard_count = shard_count_;
  s.generation = generation_.load();
  s.commit_failures = commit_failures_.load();
  {
    std::lock_guard lock(shards_mu_);
    for (const auto& [shard, runtime] : shards_) s.shards.push_back(runtime->status());
  }
  fill_lag(s.shards);
  Status h = health();
  if (!h.ok()) s.failure = h.to_string();
  if (rk_ != nullptr) {
    Result<std::vector<GroupMember>> members = group_members(rk_, topics_.group, std::chrono::seconds(2));
    if (members) {
      s.members = std::move(*members);
    } else {
      s.members_error = members.error().to_string();
    }
  }
  return s;
}

}  // namespace cluster_internal

Result<std::unique_ptr<ClusterNode>> ClusterNode::start(const ClusterOptions& options) {
  if (options.bootstrap_servers.empty()) return Status::invalid_argument("kafka: the bootstrap servers are required");
  if (options.data_dir.empty()) return Status::invalid_argument("data: the data directory is required");
  if (options.node_id.empty()) return Status::invalid_argument("node_id: required");
  KafkaEventBusOptions bus;
  bus.bootstrap_servers = options.bootstrap_servers;
  bus.client_id = node_client_id(options.node_id, options.http_address);
  const ClusterTopics topics(options.topic_prefix);
  NEXUM_ASSIGN_OR_RETURN(std::unique_ptr<ChangelogWriter> writer, ChangelogWriter::create(bus));
  // The shard count is the changelog's partition count; every command topic must match it.
  int shards = 0;
  {
    NEXUM_ASSIGN_OR_RETURN(kafka_internal::ConfPtr conf, kafka_internal::make_producer_conf(bus));
    NEXUM_ASSIGN_OR_RETURN(KafkaHandle client, new_kafka_handle(RD_KAFKA_PRODUCER, std::move(conf), "metadata client"));
    std::vector<std::string> all = topics.commands;
    all.push_back(topics.changelog);
    all.push_back(topics.dead_letters);
    for (const std::string& topic : all) {
      NEXUM_ASSIGN_OR_RETURN(int count, topic_partitions(client.get(), topic));
      if (count == 0) {
        return Status::not_found("topic " + topic +
                                 " does not exist (create the command topics, the dead-letter topic and the changelog "
                                 "with `nexum cluster create-topics`: doc/cluster.md §5)");
      }
      if (topic == topics.dead_letters) continue;
      if (shards == 0) shards = count;
      if (count != shards) {
        return Status::invalid_argument("topic " + topic + " has " + std::to_string(count) + " partitions, " +
                                        topics.commands.front() + " has " + std::to_string(shards) +
                                        ": every command topic and the changelog need one partition per shard");
      }
    }
  }
  auto core = std::make_unique<cluster_internal::ClusterNodeCore>(options, bus, shards, std::move(writer));
  NEXUM_RETURN_IF_ERROR(core->start());
  return std::unique_ptr<ClusterNode>(new ClusterNode(std::move(core)));
}

ClusterNode::ClusterNode(std::unique_ptr<cluster_internal::ClusterNodeCore> core) : core_(std::move(core)) {}
ClusterNode::~ClusterNode() { stop(); }
void ClusterNode::stop() { core_->stop(); }
ClusterStatus ClusterNode::status() const { return core_->status(); }
Status ClusterNode::health() const { return core_->health(); }
const std::string& ClusterNode::node_id() const { return core_->node_id(); }
int ClusterNode::shard_count() const { return core_->shard_count(); }
std::vector<int> ClusterNode::serving_shards() const { return core_->serving_shards(); }
Status ClusterNode::read_shard(int shard, const std::function<void(EventStore&)>& read) const {
  return core_->read_shard(shard, read);
}
Result<std::vector<GroupMember>> ClusterNode::members(std::chrono::milliseconds timeout) const {
  return core_->members(timeout);
}

}  // namespace nexum::cluster
