#include "bus/kafka_consumer.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include <spdlog/spdlog.h>

#include "bus/kafka_config.h"
#include "bus/local_dispatcher.h"
#include "core/mutex.h"
#include "nexum/json_codec.h"
#include "nexum/kafka_message.h"

namespace nexum::kafka_internal {
namespace {

constexpr std::chrono::milliseconds kPollTimeout{100};
constexpr std::chrono::milliseconds kCommitRetryInterval{1000};
// While a member waits for its assignment, it says so this often.
constexpr std::chrono::milliseconds kWaitLogEvery{5000};
// How long stopping waits for the revoke before closing anyway.
constexpr std::chrono::milliseconds kLeaveTimeout{2000};
// How long starting over waits for the dead handle's destruction before
// leaving it to a thread of its own (and going on with a new handle).
constexpr std::chrono::milliseconds kDeadHandleDestroyTimeout{10000};
// Between attempts to create the new handle when creating it fails.
constexpr std::chrono::milliseconds kReopenInterval{1000};

std::chrono::milliseconds next_backoff(std::chrono::milliseconds current, std::chrono::milliseconds max) {
  return std::min(current * 2, max);
}

}  // namespace

std::vector<MessageHeader> message_headers(const rd_kafka_message_t* message) {
  std::vector<MessageHeader> out;
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(message, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) return out;
  const char* name = nullptr;
  const void* val = nullptr;
  std::size_t size = 0;
  for (std::size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
    out.push_back(
        MessageHeader{name, val != nullptr ? std::string(static_cast<const char*>(val), size) : std::string()});
  }
  return out;
}

OutgoingMessage make_dead_letter(const rd_kafka_message_t* message, std::string_view dlq_topic, std::string_view topic,
                                 std::string_view group_id, const std::string& error, int attempts) {
  OutgoingMessage dlq;
  dlq.topic = std::string(dlq_topic);
  if (message->key != nullptr) dlq.key.emplace(static_cast<const char*>(message->key), message->key_len);
  if (message->payload != nullptr) dlq.value.assign(static_cast<const char*>(message->payload), message->len);
  // The original's headers, less dead-letter headers of an earlier trip
  // through a DLQ (readers take the first of a name).
  for (MessageHeader& h : message_headers(message)) {
    if (h.name.rfind("nexum_dlq_", 0) != 0) dlq.headers.push_back(std::move(h));
  }
  dlq.headers.push_back(MessageHeader{std::string(kHeaderDlqTopic), std::string(topic)});
  dlq.headers.push_back(MessageHeader{std::string(kHeaderDlqPartition), std::to_string(message->partition)});
  dlq.headers.push_back(MessageHeader{std::string(kHeaderDlqOffset), std::to_string(message->offset)});
  dlq.headers.push_back(MessageHeader{std::string(kHeaderDlqGroup), std::string(group_id)});
  dlq.headers.push_back(MessageHeader{std::string(kHeaderDlqError), error});
  dlq.headers.push_back(MessageHeader{std::string(kHeaderDlqAttempts), std::to_string(attempts)});
  return dlq;
}

KafkaConsumer::KafkaConsumer(const KafkaEventBusOptions& options, std::string topic, std::string group_id,
                             std::string auto_offset_reset, EventHandler handler, KafkaProducer& producer,
                             KafkaCounters& counters)
    : options_(options),
      topic_(std::move(topic)),
      group_id_(std::move(group_id)),
      auto_offset_reset_(std::move(auto_offset_reset)),
      handler_(std::move(handler)),
      producer_(producer),
      counters_(counters) {}

KafkaConsumer::~KafkaConsumer() { stop(); }

Status KafkaConsumer::start() {
  if (rk_ != nullptr) return Status();
  NEXUM_RETURN_IF_ERROR(open_handle());
  stopping_ = false;
  waiting_since_ = std::chrono::steady_clock::now().time_since_epoch().count();
  thread_ = std::thread([this] { run(); });
  return Status();
}

Status KafkaConsumer::open_handle() {
  NEXUM_ASSIGN_OR_RETURN(ConfPtr conf, make_consumer_conf(options_, group_id_, auto_offset_reset_));
  rd_kafka_conf_set_opaque(conf.get(), this);
  rd_kafka_conf_set_rebalance_cb(conf.get(), &KafkaConsumer::on_rebalance);
  rd_kafka_conf_set_error_cb(conf.get(), &KafkaConsumer::on_error);
  std::array<char, 512> errstr{};
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), errstr.data(), errstr.size());
  if (rk == nullptr) return Status::invalid_argument(std::string("kafka consumer: ") + errstr.data());
  (void)conf.release();  // rd_kafka_new took ownership.
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic_.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_destroy(rk);
    return status_from_kafka_error(err, "subscribe to " + topic_);
  }
  rk_ = rk;
  fatal_ = false;
  return Status();
}

std::string KafkaConsumer::fatal_error() const {
  std::array<char, 512> errstr{};
  const rd_kafka_resp_err_t err = rd_kafka_fatal_error(rk_, errstr.data(), errstr.size());
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    return fatal_.load() ? "_FATAL: a fatal error without a description" : "";
  }
  return std::string(rd_kafka_err2name(err)) + ": " + errstr.data();
}

void KafkaConsumer::start_over(const std::string& fatal) {
  spdlog::error(
      "kafka consumer {} of {}: fatal Kafka error {}; this handle will never fetch or commit again: starting over "
      "with a new one (messages handled and not committed are delivered again)",
      group_id_, topic_, fatal);
  // Commits are refused on a fatal handle: what was handled since the last
  // commit is delivered again to the new handle (or another member).
  done_offsets_.clear();
  done_since_commit_ = 0;
  commit_not_before_ = {};
  assigned_ = false;
  // No consumer close (librdkafka adds NO_CONSUMER_CLOSE to a fatal handle
  // itself): no LeaveGroup, no final commit. A destroy that does not finish
  // is left to its own thread; no callback of this object is served without
  // a poll.
  rd_kafka_t* dead = rk_;
  rk_ = nullptr;
  destroy_dead_handle(dead, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE, kDeadHandleDestroyTimeout,
                      "kafka consumer " + group_id_ + " of " + topic_);
  while (!stopping_.load()) {
    Status s = open_handle();
    if (s.ok()) break;
    spdlog::error("kafka consumer {} of {}: starting over: {}; trying again in {} ms", group_id_, topic_, s.to_string(),
                  kReopenInterval.count());
    if (!sleep_unless_stopping(kReopenInterval)) break;
  }
  if (rk_ != nullptr) {
    waiting_since_ = std::chrono::steady_clock::now().time_since_epoch().count();
    spdlog::info("kafka consumer {} of {}: new handle, joining the group again", group_id_, topic_);
  }
}

void KafkaConsumer::stop() {
  {
    MutexLock lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (rk_ != nullptr) {
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
  }
  assigned_ = false;
}

bool KafkaConsumer::sleep_unless_stopping(std::chrono::milliseconds delay) {
  MutexLock lock(stop_mu_);
  return !stop_cv_.wait_for(stop_mu_, delay, [this]() NEXUM_REQUIRES(stop_mu_) { return stopping_.load(); });
}

std::chrono::milliseconds KafkaConsumer::waiting_for_assignment() const {
  const std::int64_t since = waiting_since_.load();
  if (since == 0 || assigned_.load()) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() -
      std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(since)));
}

void KafkaConsumer::run() {
  auto next_wait_log = std::chrono::steady_clock::now() + kWaitLogEvery;
  while (!stopping_.load()) {
    if (!assigned_.load() && std::chrono::steady_clock::now() >= next_wait_log) {
      next_wait_log = std::chrono::steady_clock::now() + kWaitLogEvery;
      spdlog::info(
          "kafka consumer {} of {}: still waiting for the group coordinator to assign partitions ({} s); "
          "a rebalance waits for every member the group still lists, up to its session.timeout.ms",
          group_id_, topic_, waiting_for_assignment().count() / 1000);
    }
    if (std::string fatal = fatal_error(); !fatal.empty()) {
      start_over(fatal);
      if (rk_ == nullptr) return;  // stopping while starting over
      continue;
    }
    rd_kafka_message_t* message = rd_kafka_consumer_poll(rk_, static_cast<int>(kPollTimeout.count()));
    if (message == nullptr) {
      if (!done_offsets_.empty() && std::chrono::steady_clock::now() >= commit_not_before_) commit_done();
      continue;
    }
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        spdlog::warn("kafka consumer {} on {}: {}", group_id_, topic_, rd_kafka_message_errstr(message));
      }
    } else {
      counters_.consumed.fetch_add(1);
      handle(message);
    }
    rd_kafka_message_destroy(message);
  }
  commit_done();
  // Leave the group. A static member (group.instance.id) does not leave on
  // close (KIP-345), so the group would list it until its session timed out
  // and a restart would wait that long for its assignment; unsubscribing
  // first sends the LeaveGroup. close() then serves the final revoke.
  rd_kafka_resp_err_t err = rd_kafka_unsubscribe(rk_);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("kafka consumer {}: unsubscribe: {}", group_id_, rd_kafka_err2str(err));
  }
  // Serve the revoke here, before close(): a member already closing is
  // "terminating", and librdkafka then skips the static member's leave.
  // Messages still arriving are dropped unhandled (not committed:
  // redelivered to the next owner).
  const auto revoke_deadline = std::chrono::steady_clock::now() + kLeaveTimeout;
  int after_revoke = 3;  // polls once revoked, while the unassign completes and the LeaveGroup goes out
  while (after_revoke > 0 && std::chrono::steady_clock::now() < revoke_deadline) {
    if (!assigned_.load()) --after_revoke;
    rd_kafka_message_t* message = rd_kafka_consumer_poll(rk_, 20);
    if (message != nullptr) rd_kafka_message_destroy(message);
  }
  err = rd_kafka_consumer_close(rk_);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("kafka consumer {}: close: {}", group_id_, rd_kafka_err2str(err));
  }
}

void KafkaConsumer::handle(const rd_kafka_message_t* message) {
  std::string_view value(static_cast<const char*>(message->payload), message->payload ? message->len : 0);
  Result<EventSchema> event = decode_event_json(value);
  if (!event) {
    if (dead_letter(message, "invalid envelope: " + event.error().to_string(), 0)) {
      if (topic_ != options_.dlq_topic) counters_.undecodable.fetch_add(1);
      mark_done(message);
    }
    return;
  }
  std::chrono::milliseconds backoff = options_.retry_backoff;
  for (int attempt = 1;; ++attempt) {
    Status status = bus_internal::invoke_handler(handler_, *event);
    if (status.ok()) {
      counters_.handled.fetch_add(1);
      mark_done(message);
      return;
    }
    if (status.code() == StatusCode::kUnavailable && attempt <= options_.max_handler_retries) {
      counters_.handler_retries.fetch_add(1);
      spdlog::warn("kafka consumer {}: handler unavailable for {} [{}] @{} (attempt {}), retrying in {} ms: {}",
                   group_id_, topic_, message->partition, message->offset, attempt, backoff.count(), status.message());
      // Stopping mid-retry leaves the offset uncommitted: redelivered later.
      if (!sleep_unless_stopping(backoff)) return;
      backoff = next_backoff(backoff, options_.retry_backoff_max);
      continue;
    }
    if (dead_letter(message, status.to_string(), attempt)) mark_done(message);
    return;
  }
}

bool KafkaConsumer::dead_letter(const rd_kafka_message_t* message, const std::string& error, int attempts) {
  if (topic_ == options_.dlq_topic) {
    spdlog::error("kafka consumer {}: message {} [{}] @{} of the DLQ itself failed ({}); skipping it", group_id_,
                  topic_, message->partition, message->offset, error);
    return true;
  }
  std::vector<OutgoingMessage> batch{make_dead_letter(message, options_.dlq_topic, topic_, group_id_, error, attempts)};
  std::chrono::milliseconds backoff = options_.retry_backoff;
  while (true) {
    Status status = producer_.produce_and_wait(batch, &stopping_);
    if (status.code() == StatusCode::kInvalidArgument && !batch[0].value.empty()) {
      // Refused for good (too large for the DLQ: a message near the limit
      // plus our headers). Retrying would stall the partition forever: dead-
      // letter it without its value; the headers say where the original is.
      spdlog::error("kafka consumer {}: {} refused {} [{}] @{} ({}); dead-lettering it without its {}-byte value",
                    group_id_, options_.dlq_topic, topic_, message->partition, message->offset, status.to_string(),
                    batch[0].value.size());
      for (MessageHeader& h : batch[0].headers) {
        if (h.name == kHeaderDlqError)
          h.value += "; value of " + std::to_string(batch[0].value.size()) + " bytes dropped: " + status.message();
      }
      batch[0].value.clear();
      continue;
    }
    if (status.ok()) {
      counters_.dead_lettered.fetch_add(1);
      spdlog::warn("kafka consumer {}: dead-lettered {} [{}] @{} to {}: {}", group_id_, topic_, message->partition,
                   message->offset, options_.dlq_topic, error);
      return true;
    }
    if (stopping_.load()) return false;
    spdlog::error("kafka consumer {}: writing {} [{}] @{} to {} failed, retrying in {} ms: {}", group_id_, topic_,
                  message->partition, message->offset, options_.dlq_topic, backoff.count(), status.to_string());
    if (!sleep_unless_stopping(backoff)) return false;
    backoff = next_backoff(backoff, options_.retry_backoff_max);
  }
}

void KafkaConsumer::mark_done(const rd_kafka_message_t* message) {
  done_offsets_[Partition(rd_kafka_topic_name(message->rkt), message->partition)] = message->offset + 1;
  if (++done_since_commit_ >= std::max(1, options_.commit_every_messages) &&
      std::chrono::steady_clock::now() >= commit_not_before_) {
    commit_done();
  }
}

void KafkaConsumer::commit_done(const rd_kafka_topic_partition_list_t* only) {
  rd_kafka_topic_partition_list_t* offsets =
      rd_kafka_topic_partition_list_new(static_cast<int>(std::max<std::size_t>(1, done_offsets_.size())));
  for (const auto& [partition, offset] : done_offsets_) {
    if (only != nullptr &&
        rd_kafka_topic_partition_list_find(only, partition.first.c_str(), partition.second) == nullptr) {
      continue;
    }
    rd_kafka_topic_partition_list_add(offsets, partition.first.c_str(), partition.second)->offset = offset;
  }
  if (offsets->cnt == 0) {
    rd_kafka_topic_partition_list_destroy(offsets);
    return;
  }
  done_since_commit_ = 0;
  rd_kafka_resp_err_t err = rd_kafka_commit(rk_, offsets, 0 /* synchronous */);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Offsets are cumulative: keep them and try again later (a rebalance in
    // progress or a coordinator outage usually passes).
    counters_.commit_failures.fetch_add(1);
    commit_not_before_ = std::chrono::steady_clock::now() + kCommitRetryInterval;
    spdlog::warn("kafka consumer {}: commit failed, retrying in {} ms: {}", group_id_, kCommitRetryInterval.count(),
                 rd_kafka_err2str(err));
  } else {
    commit_not_before_ = {};
    counters_.commits.fetch_add(1);
    for (int i = 0; i < offsets->cnt; ++i) {
      const rd_kafka_topic_partition_t& tp = offsets->elems[i];
      auto it = done_offsets_.find(Partition(tp.topic, tp.partition));
      if (tp.err == RD_KAFKA_RESP_ERR_NO_ERROR && it != done_offsets_.end() && it->second == tp.offset) {
        done_offsets_.erase(it);
      }
    }
  }
  rd_kafka_topic_partition_list_destroy(offsets);
}

void serve_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                     std::string_view who, const std::function<void()>& on_assigned,
                     const std::function<void(bool lost)>& on_revoke, std::atomic<bool>& assigned) {
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  rd_kafka_error_t* error = nullptr;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    spdlog::info("{}: assigned {} partition(s)", who, partitions->cnt);
    if (cooperative) {
      error = rd_kafka_incremental_assign(rk, partitions);
    } else {
      rd_kafka_assign(rk, partitions);
    }
    assigned = true;
    on_assigned();
  } else {
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
      spdlog::info("{}: {} partition(s) revoked", who, partitions->cnt);
    } else {
      spdlog::error("{}: rebalance error: {}", who, rd_kafka_err2str(err));
    }
    on_revoke(rd_kafka_assignment_lost(rk) != 0);
    if (cooperative) {
      error = rd_kafka_incremental_unassign(rk, partitions);
    } else {
      rd_kafka_assign(rk, nullptr);
      assigned = false;
    }
  }
  if (error != nullptr) {
    spdlog::error("{}: incremental rebalance: {}", who, rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
  }
}

void KafkaConsumer::on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                                 void* opaque) {
  // Served inside rd_kafka_consumer_poll/close: on the consumer's own thread.
  auto* self = static_cast<KafkaConsumer*>(opaque);
  serve_rebalance(
      rk, err, partitions, "kafka consumer " + self->group_id_ + " of " + self->topic_, [] {},
      [&](bool lost) {
        // Commit what we handled while we still own the partitions; if they
        // were lost, another member owns them and may already be past us.
        if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && !lost) self->commit_done(partitions);
        for (int i = 0; i < partitions->cnt; ++i) {
          self->done_offsets_.erase(Partition(partitions->elems[i].topic, partitions->elems[i].partition));
        }
      },
      self->assigned_);
  if (!self->assigned_.load()) {
    self->waiting_since_ = std::chrono::steady_clock::now().time_since_epoch().count();
  }
}

void KafkaConsumer::on_error(rd_kafka_t* /*rk*/, int err, const char* reason, void* opaque) {
  auto* self = static_cast<KafkaConsumer*>(opaque);
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__FATAL) self->fatal_ = true;
  spdlog::log(code == RD_KAFKA_RESP_ERR__TRANSPORT ? spdlog::level::debug : spdlog::level::warn,
              "kafka consumer {}: {}: {}", self->group_id_, rd_kafka_err2name(code), reason);
}

}  // namespace nexum::kafka_internal
