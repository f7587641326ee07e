// Reads topics from the beginning, as they fill, for a whole test:
// librdkafka's mock cluster keeps only about the last 5 MB of each
// partition, so a long run's first messages are gone by the time the test
// ends — a reader that follows along sees each one. Partitions are assigned,
// not subscribed in a group (the mock coordinator takes session.timeout.ms
// to form a group, and every new topic would rebalance it). It passes every
// message's topic and headers to a sink. Thread-safe.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "integration/kafka_test_util.h"
#include "nexum/bus.h"

namespace nexum::testing {

class TopicTail {
 public:
  // Called for every message, on the reader's thread.
  using Sink = std::function<void(const std::string& topic, const std::vector<MessageHeader>& headers)>;

  // `topics`: name and partition count of each topic to read.
  TopicTail(const std::string& bootstrap, const std::vector<std::pair<std::string, int>>& topics, Sink sink)
      : sink_(std::move(sink)) {
    rk_ = new_client(RD_KAFKA_CONSUMER, bootstrap,
                     {{"group.id", "torture-tail"}, {"enable.auto.commit", "false"}, {"fetch.wait.max.ms", "10"}});
    if (rk_ == nullptr) return;
    rd_kafka_poll_set_consumer(rk_);
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(static_cast<int>(topics.size()));
    for (const auto& [topic, partitions] : topics) {
      for (int p = 0; p < partitions; ++p) {
        rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
      }
    }
    const rd_kafka_resp_err_t err = rd_kafka_assign(rk_, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    EXPECT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(err);
    thread_ = std::thread([this] { run(); });
  }
  ~TopicTail() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (rk_ != nullptr) {
      rd_kafka_consumer_close(rk_);
      rd_kafka_destroy(rk_);
    }
  }
  TopicTail(const TopicTail&) = delete;
  TopicTail& operator=(const TopicTail&) = delete;

  std::uint64_t messages() const { return messages_.load(); }

 private:
  void run() {
    while (!stop_) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 100);
      if (m == nullptr) continue;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        sink_(rd_kafka_topic_name(m->rkt), message_headers(m));
        messages_.fetch_add(1);
      }
      rd_kafka_message_destroy(m);
    }
  }

  Sink sink_;
  rd_kafka_t* rk_ = nullptr;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> messages_{0};
  std::thread thread_;
};

}  // namespace nexum::testing
