#include "cluster/global_read_models.h"

#include <algorithm>
#include <utility>

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include "bus/kafka_config.h"
#include "cluster/cluster_node.h"
#include "cluster/kafka_handle.h"
#include "nexum/json_codec.h"
#include "nexum/kafka_bus.h"
#include "nexum/projection_builtins.h"

namespace nexum::cluster {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Checkpoints are saved after this many messages, or when the reader is
// idle, or once a second: a checkpoint behind the log only makes the next
// start read some records again, whose appends the store answers as already
// stored (doc/cluster.md §9).
constexpr int kCheckpointEveryMessages = 256;
constexpr std::chrono::seconds kCheckpointEvery{1};

struct ConsumerDeleter {
  void operator()(rd_kafka_t* rk) const {
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }
};
using ConsumerPtr = std::unique_ptr<rd_kafka_t, ConsumerDeleter>;

// The snapshot (of a pseudo-stream per shard) holding the shard's feed state.
std::string checkpoint_stream(int shard) { return "changelog_feed-" + std::to_string(shard); }

boost::json::value epoch_json(const OwnerEpoch& e) {
  return boost::json::object{{"generation", e.generation}, {"marker_offset", e.marker_offset}};
}

Result<OwnerEpoch> epoch_from(const boost::json::value& v, const std::string& where) {
  const auto* o = v.if_object();
  const auto* g = o ? o->if_contains("generation") : nullptr;
  const auto* m = o ? o->if_contains("marker_offset") : nullptr;
  if (g == nullptr || m == nullptr || !g->is_int64() || !m->is_int64()) {
    return Status::data_loss(where + ": an epoch {generation, marker_offset} is required");
  }
  return OwnerEpoch{static_cast<std::int32_t>(g->as_int64()), m->as_int64()};
}

std::string where(const std::string& topic, int shard, std::int64_t offset) {
  return topic + " [" + std::to_string(shard) + "] @" + std::to_string(offset);
}

}  // namespace

GlobalReadModels::GlobalReadModels(GlobalReadModelsOptions options, std::string topic, int shards)
    : options_(std::move(options)), topic_(std::move(topic)), shards_(shards) {
  MutexLock lock(mu_);
  feeds_.resize(static_cast<std::size_t>(shards));
  for (int s = 0; s < shards; ++s) feeds_[static_cast<std::size_t>(s)].status.shard = s;
}

Result<std::unique_ptr<GlobalReadModels>> GlobalReadModels::open(const GlobalReadModelsOptions& options) {
  if (options.bootstrap_servers.empty()) return Status::invalid_argument("kafka: the bootstrap servers are required");
  if (options.data_dir.empty()) return Status::invalid_argument("data: the read-model directory is required");
  const ClusterTopics topics(options.topic_prefix);
  int shards = 0;
  {
    KafkaEventBusOptions bus;
    bus.bootstrap_servers = options.bootstrap_servers;
    bus.client_id = options.client_id;
    NEXUM_ASSIGN_OR_RETURN(kafka_internal::ConfPtr conf, kafka_internal::make_producer_conf(bus));
    NEXUM_ASSIGN_OR_RETURN(KafkaHandle client, new_kafka_handle(RD_KAFKA_PRODUCER, std::move(conf), "metadata client"));
    NEXUM_ASSIGN_OR_RETURN(shards, topic_partitions(client.get(), topics.changelog));
  }
  if (shards == 0) {
    return Status::not_found("topic " + topics.changelog +
                             " does not exist (a cluster's topics are made by `nexum cluster create-topics`)");
  }
  std::unique_ptr<GlobalReadModels> g(new GlobalReadModels(options, topics.changelog, shards));
  StoreOptions store_options;
  // The changelog is the record: what a power loss takes from the tail of
  // this log is read again (the checkpoints are in the same write-ahead log,
  // after the appends they cover).
  store_options.durability = Durability::kBuffered;
  NEXUM_ASSIGN_OR_RETURN(g->store_, EventStore::open(options.data_dir, store_options));
  NEXUM_ASSIGN_OR_RETURN(g->engine_, ProjectionEngine::create(*g->store_));
  for (auto& p : make_builtin_projections()) NEXUM_RETURN_IF_ERROR(g->engine_->add(std::move(p)));
  NEXUM_RETURN_IF_ERROR(g->load_checkpoints());
  return g;
}

GlobalReadModels::~GlobalReadModels() { stop(); }

Status GlobalReadModels::load_checkpoints() {
  MutexLock lock(mu_);
  for (Feed& f : feeds_) {
    Result<Snapshot> snap = store_->load_snapshot(checkpoint_stream(f.status.shard));
    if (!snap) {
      if (snap.error().code() == StatusCode::kNotFound) continue;
      return snap.error();
    }
    const std::string what = "the checkpoint of shard " + std::to_string(f.status.shard);
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(snap->state, ec);
    const auto* o = ec ? nullptr : v.if_object();
    const auto* position = o ? o->if_contains("position") : nullptr;
    const auto* epoch = o ? o->if_contains("epoch") : nullptr;
    const auto* broken = o ? o->if_contains("hole_in") : nullptr;
    if (position == nullptr || !position->is_int64() || epoch == nullptr || broken == nullptr) {
      return Status::data_loss(what + ": not a feed checkpoint");
    }
    NEXUM_ASSIGN_OR_RETURN(OwnerEpoch current, epoch_from(*epoch, what + ": epoch"));
    std::optional<OwnerEpoch> hole;
    if (!broken->is_null()) {
      NEXUM_ASSIGN_OR_RETURN(hole, epoch_from(*broken, what + ": hole_in"));
    }
    f.history = AdmittedHistory(current, position->as_int64(), hole);
    f.status.offset = snap->version;
    f.status.position = position->as_int64();
    f.status.epoch = current;
    f.status.hole = hole.has_value() && *hole == current;
  }
  return Status();
}

Status GlobalReadModels::save_checkpoints(const std::vector<int>& shards) {
  MutexLock lock(mu_);
  for (int shard : shards) {
    const Feed& f = feeds_[static_cast<std::size_t>(shard)];
    if (f.status.offset < 0) continue;
    Snapshot snap;
    snap.version = f.status.offset;
    const auto& hole = f.history.broken();
    snap.state = boost::json::serialize(
        boost::json::object{{"position", f.history.next_position() - 1},
                            {"epoch", epoch_json(f.history.current())},
                            {"hole_in", hole ? epoch_json(*hole) : boost::json::value(nullptr)}});
    NEXUM_RETURN_IF_ERROR(store_->save_snapshot(checkpoint_stream(shard), snap));
  }
  return Status();
}

Status GlobalReadModels::start() {
  {
    MutexLock lock(mu_);
    if (started_) return Status();
    started_ = true;
    for (Feed& f : feeds_) {
      f.read_any = false;
      f.status.reached_end = false;
    }
  }
  NEXUM_RETURN_IF_ERROR(engine_->start());
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
  return Status();
}

void GlobalReadModels::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  {
    MutexLock lock(mu_);
    started_ = false;
  }
  if (engine_) engine_->stop();
}

void GlobalReadModels::fail(Status why) {
  spdlog::error("nexum project: {}", why.to_string());
  MutexLock lock(mu_);
  if (error_.ok()) error_ = std::move(why);
}

Status GlobalReadModels::health() const {
  {
    MutexLock lock(mu_);
    if (!error_.ok()) return error_;
  }
  for (const ProjectionStatus& p : engine_->status()) {
    if (p.state == ProjectionState::kError) {
      return Status::internal("projection " + p.name + " stopped at position " + std::to_string(p.error_position) +
                              ": " + p.error);
    }
  }
  return Status();
}

std::vector<ShardFeed> GlobalReadModels::shards() const {
  MutexLock lock(mu_);
  std::vector<ShardFeed> out;
  for (const Feed& f : feeds_) out.push_back(f.status);
  return out;
}

bool GlobalReadModels::wait_caught_up(std::chrono::milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  for (;;) {
    if (!health().ok()) return false;
    bool ends = true;
    {
      MutexLock lock(mu_);
      for (const Feed& f : feeds_) ends = ends && f.status.reached_end;
    }
    if (ends) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
      if (engine_->wait_for(store_->last_position(), std::max(left, std::chrono::milliseconds(0)))) {
        return health().ok();
      }
    }
    if (SteadyClock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void GlobalReadModels::run() {
  Status s = read_all();
  if (!s.ok()) fail(std::move(s));
}

Status GlobalReadModels::read_all() {
  KafkaEventBusOptions bus;
  bus.bootstrap_servers = options_.bootstrap_servers;
  bus.client_id = options_.client_id;
  // A group id is only a name here: the reader is assigned every partition
  // and never commits (the checkpoints are in the read-model store).
  NEXUM_ASSIGN_OR_RETURN(kafka_internal::ConfPtr conf,
                         kafka_internal::make_consumer_conf(bus, options_.client_id + ".changelog", "earliest"));
  NEXUM_RETURN_IF_ERROR(kafka_internal::set_property(conf.get(), "isolation.level", "read_committed"));
  NEXUM_RETURN_IF_ERROR(kafka_internal::set_property(conf.get(), "enable.partition.eof", "true"));
  NEXUM_ASSIGN_OR_RETURN(KafkaHandle client, new_kafka_handle(RD_KAFKA_CONSUMER, std::move(conf), "changelog reader"));
  rd_kafka_t* rk = client.get();
  ConsumerPtr consumer(client.release());
  rd_kafka_poll_set_consumer(rk);
  {
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(shards_);
    {
      MutexLock lock(mu_);
      for (const Feed& f : feeds_) {
        rd_kafka_topic_partition_list_add(parts, topic_.c_str(), f.status.shard)->offset =
            f.status.offset < 0 ? RD_KAFKA_OFFSET_BEGINNING : f.status.offset + 1;
      }
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return kafka_internal::status_from_kafka_error(err, "changelog reader assign");
    }
  }
  std::vector<int> dirty;
  int since_save = 0;
  auto last_save = SteadyClock::now();
  auto save = [&]() -> Status {
    if (!dirty.empty()) NEXUM_RETURN_IF_ERROR(save_checkpoints(dirty));
    dirty.clear();
    since_save = 0;
    last_save = SteadyClock::now();
    return Status();
  };
  auto last_watermarks = SteadyClock::now() - std::chrono::seconds(1);
  while (!stopping_) {
    if (SteadyClock::now() - last_watermarks >= std::chrono::milliseconds(500)) {
      last_watermarks = SteadyClock::now();
      for (int p = 0; p < shards_; ++p) {
        int64_t low = -1, high = -1;
        if (rd_kafka_get_watermark_offsets(rk, topic_.c_str(), p, &low, &high) != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
        MutexLock lock(mu_);
        feeds_[static_cast<std::size_t>(p)].status.high_watermark = high;
      }
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) {
      NEXUM_RETURN_IF_ERROR(save());
      continue;
    }
    std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> message(m, rd_kafka_message_destroy);
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (m->partition >= 0 && m->partition < shards_) {
        MutexLock lock(mu_);
        Feed& f = feeds_[static_cast<std::size_t>(m->partition)];
        f.status.reached_end = true;
        f.status.high_watermark = std::max(f.status.high_watermark, m->offset);
      }
      continue;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::warn("nexum project: {}: {}", topic_, rd_kafka_message_errstr(m));
      continue;
    }
    if (m->partition < 0 || m->partition >= shards_) continue;
    NEXUM_RETURN_IF_ERROR(handle(m->partition, m->offset,
                                 std::string_view(static_cast<const char*>(m->payload), m->payload ? m->len : 0)));
    if (std::find(dirty.begin(), dirty.end(), m->partition) == dirty.end()) dirty.push_back(m->partition);
    if (++since_save >= kCheckpointEveryMessages || SteadyClock::now() - last_save >= kCheckpointEvery) {
      NEXUM_RETURN_IF_ERROR(save());
    }
  }
  return save();
}

Status GlobalReadModels::handle(int shard, std::int64_t offset, std::string_view value) {
  MutexLock lock(mu_);
  Feed& f = feeds_[static_cast<std::size_t>(shard)];
  const std::string at = where(topic_, shard, offset);
  if (!f.read_any) {
    // The first record read must be the one after the checkpoint (offset 0
    // when there is none): anything else means records were deleted
    // (retention) or the topic was made anew, and the history is gone.
    const std::int64_t expected = f.status.offset + 1;
    if (offset != expected) {
      return Status::data_loss("nexum project: " + at + ": expected offset " + std::to_string(expected) +
                               " first: the changelog no longer holds the records after the checkpoint (it must keep "
                               "everything: retention.ms=-1); rebuild the read models into an empty directory");
    }
    f.read_any = true;
  }
  Result<ChangelogRecord> record = decode_changelog_record(value);
  if (!record) return Status::data_loss("nexum project: " + at + ": " + record.error().message());
  if (record->shard != shard) {
    return Status::data_loss("nexum project: " + at + ": the record names shard " + std::to_string(record->shard));
  }
  const AdmittedHistory::Verdict verdict = f.history.offer(offset, *record);
  switch (verdict) {
    case AdmittedHistory::Verdict::kMarker: break;
    case AdmittedHistory::Verdict::kFenced: ++f.status.fenced; break;
    case AdmittedHistory::Verdict::kHole:
      spdlog::warn(
          "nexum project: {}: the outcome starts at position {}, the history so far ends at {}: the rest of epoch {} "
          "is ignored (a write of that owner failed; the next owner redoes it)",
          at, record->events.front().position, f.history.next_position() - 1, record->epoch.to_string());
      ++f.status.after_hole;
      break;
    case AdmittedHistory::Verdict::kAfterHole: ++f.status.after_hole; break;
    case AdmittedHistory::Verdict::kRepeated: {
      // Already in the log: it must be the same outcome (its first event is stored).
      Result<EventSchema> first = decode_event_json(record->events.front().envelope_json);
      Result<std::int64_t> stored = first ? store_->find_event(first->event_id) : Result<std::int64_t>(first.error());
      if (!stored) {
        return Status::data_loss("nexum project: " + at + ": a second outcome at positions " +
                                 std::to_string(record->events.front().position) + ".." +
                                 std::to_string(record->events.back().position) +
                                 " with other events than the history holds: " + stored.error().message());
      }
      ++f.status.repeated;
      break;
    }
    case AdmittedHistory::Verdict::kOverlap:
      return Status::data_loss("nexum project: " + at + ": the outcome's positions " +
                               std::to_string(record->events.front().position) + ".." +
                               std::to_string(record->events.back().position) + " overlap the history's end " +
                               std::to_string(f.history.next_position() - 1));
    case AdmittedHistory::Verdict::kAdmitted: {
      Result<std::vector<StreamAppend>> appends = outcome_appends(*record);
      if (!appends) return Status::data_loss("nexum project: " + at + ": " + appends.error().message());
      Result<AppendResult> r = store_->append_multi(std::move(appends).value());
      if (!r) {
        if (r.error().code() == StatusCode::kConflict || r.error().code() == StatusCode::kInvalidArgument) {
          return Status::data_loss("nexum project: " + at +
                                   ": the read models' log disagrees with the changelog: " + r.error().message());
        }
        return Status(r.error().code(), "nexum project: " + at + ": " + r.error().message());
      }
      ++f.status.admitted;
      break;
    }
  }
  f.status.offset = offset;
  f.status.position = f.history.next_position() - 1;
  f.status.epoch = f.history.current();
  f.status.hole = f.history.broken().has_value() && *f.history.broken() == f.history.current();
  return Status();
}

}  // namespace nexum::cluster
