// Helpers for tests against librdkafka's mock cluster: plain librdkafka
// clients (not ours) to read back, produce raw bytes, and ask for committed
// offsets, plus a wait-until with a deadline.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <boost/json/parse.hpp>

#include "bus/kafka_consumer.h"
#include "nexum/bus.h"
#include "nexum/kafka_bus.h"

namespace nexum::testing {

// Polls `predicate` every `interval` until it holds or `timeout` passes.
inline bool wait_until(const std::function<bool()>& predicate,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30),
                       std::chrono::milliseconds interval = std::chrono::milliseconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
  return true;
}

// Bus options tuned for the mock cluster: quick group joins and reconnects.
// The Kafka protocol's ApiKey of OffsetCommit, for
// KafkaMockCluster::push_request_errors (librdkafka keeps its RD_KAFKAP_*
// names private).
constexpr std::int16_t kOffsetCommitApiKey = 8;

inline KafkaEventBusOptions test_bus_options(const std::string& bootstrap) {
  KafkaEventBusOptions options;
  options.bootstrap_servers = bootstrap;
  options.client_id = "nexum-test";
  options.properties = {{"reconnect.backoff.max.ms", "500"}, {"retry.backoff.ms", "50"}};
  // The mock coordinator elects a leader session.timeout.ms - 1 s after a
  // rebalance starts; keep it short.
  options.consumer_properties = {{"session.timeout.ms", "3000"}, {"heartbeat.interval.ms", "300"}};
  options.retry_backoff = std::chrono::milliseconds(10);
  options.retry_backoff_max = std::chrono::milliseconds(100);
  return options;
}

// test_bus_options()'s quick group joins and reconnects, as a service's
// bus config (carried into every Kafka bus the service builds).
inline void tune_for_mock_cluster(KafkaProperties& properties, KafkaProperties& consumer_properties) {
  const KafkaEventBusOptions tuned = test_bus_options("");
  properties = KafkaProperties(tuned.properties.begin(), tuned.properties.end());
  consumer_properties = KafkaProperties(tuned.consumer_properties.begin(), tuned.consumer_properties.end());
}

// The entity ids a handler saw, in order. Thread-safe.
class HandledIds {
 public:
  void add(const std::string& id) {
    std::lock_guard lock(mu_);
    ids_.push_back(id);
  }
  std::vector<std::string> ids() const {
    std::lock_guard lock(mu_);
    return ids_;
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return ids_.size();
  }
  std::size_t distinct() const {
    std::lock_guard lock(mu_);
    return std::set<std::string>(ids_.begin(), ids_.end()).size();
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> ids_;
};

// Collects delivery reports from a bus's delivery thread. Thread-safe.
class DeliveryReports {
 public:
  DeliveryCallback callback() {
    return [this](const DeliveryReport& r) {
      std::lock_guard lock(mu_);
      reports_.push_back(r);
    };
  }
  std::vector<DeliveryReport> all() const {
    std::lock_guard lock(mu_);
    return reports_;
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return reports_.size();
  }
  // Reports with an OK status / with an error.
  std::size_t ok() const {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const DeliveryReport& r : reports_) n += r.status.ok() ? 1 : 0;
    return n;
  }
  std::size_t failed() const { return size() - ok(); }
  // The last error reported, "" when none.
  std::string last_error() const {
    std::lock_guard lock(mu_);
    for (auto it = reports_.rbegin(); it != reports_.rend(); ++it) {
      if (!it->status.ok()) return it->status.to_string();
    }
    return "";
  }

 private:
  mutable std::mutex mu_;
  std::vector<DeliveryReport> reports_;
};

struct RawMessage {
  std::string topic;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  std::optional<std::string> key;
  std::string value;
  std::vector<MessageHeader> headers;
};

inline rd_kafka_t* new_client(rd_kafka_type_t type, const std::string& bootstrap,
                              const std::vector<std::pair<std::string, std::string>>& extra = {}) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::array<char, 512> err{};
  auto set = [&](const std::string& k, const std::string& v) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err.data(), err.size()) != RD_KAFKA_CONF_OK) {
      ADD_FAILURE() << k << ": " << err.data();
    }
  };
  set("bootstrap.servers", bootstrap);
  set("log_level", "3");
  for (const auto& [k, v] : extra) set(k, v);
  rd_kafka_t* rk = rd_kafka_new(type, conf, err.data(), err.size());
  if (rk == nullptr) ADD_FAILURE() << "rd_kafka_new: " << err.data();
  return rk;
}

// The headers of a consumed message, in order.
using kafka_internal::message_headers;

// Reads `topic` (with `partitions` partitions) from the beginning with a
// plain assign()ed consumer until `count` messages arrived or `timeout`.
inline std::vector<RawMessage> read_topic(const std::string& bootstrap, const std::string& topic, int partitions,
                                          std::size_t count,
                                          std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  rd_kafka_t* rk =
      new_client(RD_KAFKA_CONSUMER, bootstrap, {{"group.id", "test-reader"}, {"enable.auto.commit", "false"}});
  std::vector<RawMessage> out;
  if (rk == nullptr) return out;
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      RawMessage r;
      r.topic = rd_kafka_topic_name(m->rkt);
      r.partition = m->partition;
      r.offset = m->offset;
      if (m->key != nullptr) r.key.emplace(static_cast<const char*>(m->key), m->key_len);
      if (m->payload != nullptr) r.value.assign(static_cast<const char*>(m->payload), m->len);
      r.headers = message_headers(m);
      out.push_back(std::move(r));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

// Produces one message with a plain producer and waits for it.
inline void produce_raw(const std::string& bootstrap, const std::string& topic, std::optional<std::string> key,
                        const std::string& value, int32_t partition = RD_KAFKA_PARTITION_UA,
                        const std::vector<MessageHeader>& headers = {}) {
  rd_kafka_t* rk = new_client(RD_KAFKA_PRODUCER, bootstrap);
  ASSERT_NE(rk, nullptr);
  const void* key_ptr = key ? key->data() : nullptr;
  const std::size_t key_len = key ? key->size() : 0;
  rd_kafka_headers_t* hdrs = rd_kafka_headers_new(headers.size());
  for (const MessageHeader& h : headers) {
    rd_kafka_header_add(hdrs, h.name.data(), static_cast<ssize_t>(h.name.size()), h.value.data(),
                        static_cast<ssize_t>(h.value.size()));
  }
  rd_kafka_resp_err_t err = rd_kafka_producev(
      rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_KEY(key_ptr, key_len),
      RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_headers_destroy(hdrs);  // taken only on success
  EXPECT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(err);
  EXPECT_EQ(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(rk);
}

// Checks that `messages` (as read: a key's messages in offset order) hold
// data.seq 0..per_key-1 for each of `keys` keys, each exactly once and in order.
inline void expect_complete_and_ordered_per_key(const std::vector<RawMessage>& messages, int keys, int per_key) {
  std::map<std::string, std::vector<std::int64_t>> seqs;
  for (const RawMessage& m : messages) {
    seqs[*m.key].push_back(boost::json::parse(m.value).at("data").at("seq").as_int64());
  }
  ASSERT_EQ(seqs.size(), static_cast<std::size_t>(keys));
  for (const auto& [key, got] : seqs) {
    std::vector<std::int64_t> want(per_key);
    for (int i = 0; i < per_key; ++i) want[i] = i;
    EXPECT_EQ(got, want) << "key " << key;
  }
}

// The offset `group` has committed for topic/partition (RD_KAFKA_OFFSET_INVALID
// when none), asked through a separate handle that does not join the group.
inline std::int64_t committed_offset(const std::string& bootstrap, const std::string& group, const std::string& topic,
                                     int32_t partition) {
  rd_kafka_t* rk = new_client(RD_KAFKA_CONSUMER, bootstrap, {{"group.id", group}});
  if (rk == nullptr) return -2;
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(parts, topic.c_str(), partition);
  std::int64_t offset = -2;
  if (rd_kafka_committed(rk, parts, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR && parts->elems[0].err == 0) {
    offset = parts->elems[0].offset;
  }
  rd_kafka_topic_partition_list_destroy(parts);
  rd_kafka_destroy(rk);
  return offset;
}

}  // namespace nexum::testing
