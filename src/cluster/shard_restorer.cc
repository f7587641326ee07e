#include "cluster/shard_restorer.h"

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include "bus/kafka_config.h"
#include "cluster/kafka_handle.h"
#include "nexum/json_codec.h"

namespace nexum::cluster {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr std::size_t kMaxAppendsInFlight = 512;

struct ConsumerDeleter {
  void operator()(rd_kafka_t* rk) const {
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }
};
using ConsumerPtr = std::unique_ptr<rd_kafka_t, ConsumerDeleter>;

Result<ConsumerPtr> open_partition(const KafkaEventBusOptions& options, const std::string& topic, int partition,
                                   std::int64_t from_offset) {
  // A group id is only a name here: the reader is assigned its partition and never commits.
  NEXUM_ASSIGN_OR_RETURN(kafka_internal::ConfPtr conf,
                         kafka_internal::make_consumer_conf(options, options.client_id + ".restore", "earliest"));
  NEXUM_RETURN_IF_ERROR(kafka_internal::set_property(conf.get(), "isolation.level", "read_committed"));
  NEXUM_ASSIGN_OR_RETURN(KafkaHandle handle, new_kafka_handle(RD_KAFKA_CONSUMER, std::move(conf), "changelog reader"));
  rd_kafka_t* rk = handle.get();
  ConsumerPtr consumer(handle.release());
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(parts, topic.c_str(), partition)->offset =
      from_offset == 0 ? RD_KAFKA_OFFSET_BEGINNING : from_offset;
  rd_kafka_resp_err_t err = rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return kafka_internal::status_from_kafka_error(err, "changelog reader assign");
  return consumer;
}

// Appends restored outcomes in changelog order with many in flight; checks
// each lands at the positions the changelog gives.
class OrderedAppender {
 public:
  explicit OrderedAppender(EventStore& store) : store_(store) {}
  ~OrderedAppender() { (void)wait_all(); }

  Status append(const ChangelogRecord& record) {
    NEXUM_ASSIGN_OR_RETURN(std::vector<StreamAppend> appends, outcome_appends(record));
    const std::int64_t first = record.events.front().position;
    const std::int64_t count = static_cast<std::int64_t>(record.events.size());
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return in_flight_ < kMaxAppendsInFlight; });
      if (!error_.ok()) return error_;
      ++in_flight_;
    }
    store_.append_async(std::move(appends), [this, first, count](Result<AppendResult> r) {
      Status s;
      if (!r) {
        s = r.error();
      } else if (r->deduplicated || static_cast<std::int64_t>(r->positions.size()) != count ||
                 r->positions.front() != first || r->positions.back() != first + count - 1) {
        s = Status::data_loss("restore: the changelog's events at positions " + std::to_string(first) + ".." +
                              std::to_string(first + count - 1) + " were stored at other positions");
      }
      std::lock_guard lock(mu_);
      if (error_.ok() && !s.ok()) error_ = std::move(s);
      --in_flight_;
      cv_.notify_all();
    });
    return Status();
  }

  Status wait_all() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return in_flight_ == 0; });
    return error_;
  }

 private:
  EventStore& store_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t in_flight_ = 0;
  Status error_;
};

// True when the local events at the record's positions are the record's.
Result<bool> local_matches(EventStore& store, const ChangelogRecord& record) {
  const std::int64_t first = record.events.front().position;
  std::size_t i = 0;
  bool same = true;
  Status s = store.scan_log(first, record.events.size(), {}, [&](const EventView& v) {
    const ChangelogEvent& e = record.events[i++];
    if (v.global_position != e.position || v.stream != e.stream || v.stream_version != e.stream_version ||
        v.topic != e.topic) {
      same = false;
      return Status();
    }
    Result<EventSchema> event = decode_event_json(e.envelope_json);
    if (!event || event->event_id != v.envelope.event_id) same = false;
    return Status();
  });
  if (!s.ok()) return s;
  return same && i == record.events.size();
}

enum class Pass : std::uint8_t { kDone, kMismatch };

// Where the last restore of this copy ended: its marker (epoch) and the
// position restored to. One snapshot record of a pseudo-stream, so it is
// written atomically; it lives and dies with the copy.
constexpr std::string_view kResumeStream = "cluster-changelog";
struct ResumePoint {
  OwnerEpoch epoch;
  std::int64_t position = 0;
};

std::optional<ResumePoint> load_resume_point(EventStore& store) {
  Result<Snapshot> snap = store.load_snapshot(kResumeStream);
  if (!snap) return std::nullopt;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(snap->state, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto* generation = v.as_object().if_contains("generation");
  const auto* position = v.as_object().if_contains("position");
  if (generation == nullptr || position == nullptr || !generation->is_int64() || !position->is_int64()) {
    return std::nullopt;
  }
  ResumePoint r;
  r.epoch = OwnerEpoch{static_cast<std::int32_t>(generation->as_int64()), snap->version};
  r.position = position->as_int64();
  if (r.position > store.last_position()) return std::nullopt;  // not this copy's
  return r;
}

Status save_resume_point(EventStore& store, const ResumePoint& r) {
  Snapshot snap;
  snap.version = r.epoch.marker_offset;
  snap.state =
      boost::json::serialize(boost::json::object{{"generation", r.epoch.generation}, {"position", r.position}});
  return store.save_snapshot(kResumeStream, snap);
}

Result<Pass> restore_pass(const KafkaEventBusOptions& options, const std::string& topic, ShardReplica& replica,
                          std::int64_t marker_offset, RestoreProgress* progress, std::chrono::milliseconds read_timeout,
                          RestoreStats& stats) {
  EventStore& store = replica.store();
  const std::int64_t local_last = store.last_position();
  const std::optional<ResumePoint> resume = load_resume_point(store);
  AdmittedHistory history = resume ? AdmittedHistory(resume->epoch, resume->position) : AdmittedHistory();
  std::int64_t offset = resume ? resume->epoch.marker_offset : -1;
  stats.read_from = offset + 1;
  NEXUM_ASSIGN_OR_RETURN(ConsumerPtr consumer, open_partition(options, topic, replica.shard(), offset + 1));
  OrderedAppender appender(store);
  auto last_message = SteadyClock::now();
  const std::string where = topic + " [" + std::to_string(replica.shard()) + "]";
  while (offset < marker_offset) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer.get(), 100);
    if (m == nullptr) {
      if (SteadyClock::now() - last_message > read_timeout) {
        return Status::unavailable("restore: " + where + ": no message for " + std::to_string(read_timeout.count()) +
                                   " ms at offset " + std::to_string(offset + 1) + " (the marker is at " +
                                   std::to_string(marker_offset) + ")");
      }
      continue;
    }
    std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> message(m, rd_kafka_message_destroy);
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
      spdlog::warn("restore: {}: {}", where, rd_kafka_message_errstr(m));
      continue;
    }
    last_message = SteadyClock::now();
    if (offset < 0 && m->offset != 0) {
      return Status::data_loss("restore: " + where + " starts at offset " + std::to_string(m->offset) +
                               ": earlier records were deleted (the changelog must keep everything: retention.ms=-1)");
    }
    offset = m->offset;
    if (progress != nullptr) progress->offset = offset;
    ++stats.records_read;
    Result<ChangelogRecord> record =
        decode_changelog_record(std::string_view(static_cast<const char*>(m->payload), m->payload ? m->len : 0));
    if (!record)
      return Status::data_loss("restore: " + where + " @" + std::to_string(offset) + ": " + record.error().message());
    const AdmittedHistory::Verdict verdict = history.offer(offset, *record);
    if (verdict == AdmittedHistory::Verdict::kMarker) continue;
    if (verdict == AdmittedHistory::Verdict::kFenced || verdict == AdmittedHistory::Verdict::kAfterHole) {
      ++stats.records_ignored;
      continue;
    }
    const std::int64_t first = record->events.front().position;
    const std::int64_t last = record->events.back().position;
    if (verdict == AdmittedHistory::Verdict::kHole) {
      // A write of this owner failed and later ones landed: the owner
      // stopped at its failure and committed nothing past it, so the rest of
      // its epoch is redone by the next owner (doc/cluster.md §4).
      spdlog::warn(
          "restore: {} @{}: the outcome starts at position {}, the history so far ends at {}: the rest of "
          "epoch {} is ignored",
          where, offset, first, history.next_position() - 1, record->epoch.to_string());
      ++stats.records_ignored;
      continue;
    }
    if (verdict != AdmittedHistory::Verdict::kAdmitted) {
      return Status::data_loss("restore: " + where + " @" + std::to_string(offset) +
                               ": the outcome starts at position " + std::to_string(first) +
                               ", the history so far ends at " + std::to_string(history.next_position() - 1));
    }
    if (last <= local_last) {
      NEXUM_ASSIGN_OR_RETURN(bool same, local_matches(store, *record));
      if (!same) {
        spdlog::warn("restore: {}: the local copy differs from the changelog at positions {}..{}", where, first, last);
        return Pass::kMismatch;
      }
      stats.events_verified += last - first + 1;
    } else if (first <= local_last) {
      return Pass::kMismatch;
    } else {
      NEXUM_RETURN_IF_ERROR(appender.append(*record));
      stats.events_applied += last - first + 1;
    }
  }
  NEXUM_RETURN_IF_ERROR(appender.wait_all());
  const std::int64_t next_position = history.next_position();
  if (local_last > next_position - 1) {
    spdlog::warn(
        "restore: {}: the local copy holds positions {}..{} the changelog lacks (a former owner's "
        "unreplicated tail); dropping the copy",
        where, next_position, local_last);
    return Pass::kMismatch;
  }
  stats.last_position = next_position - 1;
  if (history.current().marker_offset != marker_offset) {
    // A newer owner's marker came first: this owner's generation is stale
    // (e.g. it was frozen while the group moved on).
    return Status(StatusCode::kConflict, "restore: " + where + ": the new owner's marker @" +
                                             std::to_string(marker_offset) + " was not admitted (current epoch " +
                                             history.current().to_string() + ")");
  }
  NEXUM_RETURN_IF_ERROR(save_resume_point(store, ResumePoint{history.current(), stats.last_position}));
  return Pass::kDone;
}

}  // namespace

Result<RestoreStats> restore_shard(const KafkaEventBusOptions& options, const std::string& changelog_topic,
                                   ShardReplica& replica, std::int64_t marker_offset, RestoreProgress* progress,
                                   std::chrono::milliseconds read_timeout) {
  const auto start = SteadyClock::now();
  if (progress != nullptr) progress->target = marker_offset;
  RestoreStats stats;
  for (int attempt = 0;; ++attempt) {
    NEXUM_ASSIGN_OR_RETURN(
        Pass pass, restore_pass(options, changelog_topic, replica, marker_offset, progress, read_timeout, stats));
    if (pass == Pass::kDone) break;
    if (attempt > 0) {
      return Status::data_loss("restore: shard " + std::to_string(replica.shard()) +
                               ": an empty copy still disagrees with the changelog");
    }
    NEXUM_RETURN_IF_ERROR(replica.wipe());
    stats = RestoreStats{};
    stats.wiped = true;
  }
  stats.seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  return stats;
}

}  // namespace nexum::cluster
