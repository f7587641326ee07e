// librdkafka's in-process mock Kafka cluster: a real Kafka-protocol broker
// set for tests and for `nexum kafka-mock`, no JVM needed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "nexum/status.h"

namespace nexum {

// Owns the mock cluster and the (otherwise unused) handle librdkafka needs to
// create it. Broker ids are 1..broker_count(). Thread-safe (librdkafka's mock
// API locks internally).
class KafkaMockCluster {
 public:
  static Result<std::unique_ptr<KafkaMockCluster>> create(int brokers = 3);
  ~KafkaMockCluster();
  KafkaMockCluster(const KafkaMockCluster&) = delete;
  KafkaMockCluster& operator=(const KafkaMockCluster&) = delete;

  // "127.0.0.1:port,…".
  std::string bootstrap_servers() const;
  int broker_count() const { return brokers_; }

  // The broker stops answering (connections closed) / answers again.
  Status set_broker_down(std::int32_t broker_id);
  Status set_broker_up(std::int32_t broker_id);
  Status set_all_brokers_down();
  Status set_all_brokers_up();

  // The next `errors.size()` Produce requests (to any broker) fail with these
  // errors, in order.
  void push_produce_errors(const std::vector<rd_kafka_resp_err_t>& errors);
  // Same, for any request type (RD_KAFKAP_… api key).
  void push_request_errors(std::int16_t api_key, const std::vector<rd_kafka_resp_err_t>& errors);

  // Creates `name` with `partitions` partitions (replication factor
  // min(3, brokers)). Topics are also auto-created on first use.
  Status create_topic(std::string_view name, int partitions);

  rd_kafka_mock_cluster_t* raw() const { return cluster_; }

 private:
  KafkaMockCluster(rd_kafka_t* handle, rd_kafka_mock_cluster_t* cluster, int brokers)
      : handle_(handle), cluster_(cluster), brokers_(brokers) {}

  rd_kafka_t* handle_;
  rd_kafka_mock_cluster_t* cluster_;
  int brokers_;
};

}  // namespace nexum
