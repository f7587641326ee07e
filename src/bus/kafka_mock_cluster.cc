#include "bus/kafka_mock_cluster.h"

#include <algorithm>
#include <array>
#include <string>

#include "bus/kafka_config.h"

namespace nexum {
namespace {

constexpr std::int16_t kApiKeyProduce = 0;  // RD_KAFKAP_Produce

Status mock_status(rd_kafka_resp_err_t err, std::string_view what) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status();
  return Status::invalid_argument(std::string(what) + ": " + rd_kafka_err2str(err));
}

}  // namespace

Result<std::unique_ptr<KafkaMockCluster>> KafkaMockCluster::create(int brokers) {
  if (brokers < 1) return Status::invalid_argument("brokers: must be at least 1");
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  kafka_internal::install_log_callback(conf);
  std::array<char, 512> errstr{};
  // Errors only: the hosting handle otherwise warns that it has no brokers.
  if (rd_kafka_conf_set(conf, "log_level", "3", errstr.data(), errstr.size()) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return Status::internal(std::string("mock cluster handle: ") + errstr.data());
  }
  // The handle only hosts the cluster; it never connects anywhere.
  rd_kafka_t* handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr.data(), errstr.size());
  if (handle == nullptr) {
    rd_kafka_conf_destroy(conf);
    return Status::internal(std::string("mock cluster handle: ") + errstr.data());
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(handle, brokers);
  if (cluster == nullptr) {
    rd_kafka_destroy(handle);
    return Status::internal("rd_kafka_mock_cluster_new failed");
  }
  return std::unique_ptr<KafkaMockCluster>(new KafkaMockCluster(handle, cluster, brokers));
}

KafkaMockCluster::~KafkaMockCluster() {
  rd_kafka_mock_cluster_destroy(cluster_);
  rd_kafka_destroy(handle_);
}

std::string KafkaMockCluster::bootstrap_servers() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }

Status KafkaMockCluster::set_broker_down(std::int32_t broker_id) {
  return mock_status(rd_kafka_mock_broker_set_down(cluster_, broker_id), "broker " + std::to_string(broker_id));
}

Status KafkaMockCluster::set_broker_up(std::int32_t broker_id) {
  return mock_status(rd_kafka_mock_broker_set_up(cluster_, broker_id), "broker " + std::to_string(broker_id));
}

Status KafkaMockCluster::set_all_brokers_down() {
  for (int id = 1; id <= brokers_; ++id) NEXUM_RETURN_IF_ERROR(set_broker_down(id));
  return Status();
}

Status KafkaMockCluster::set_all_brokers_up() {
  for (int id = 1; id <= brokers_; ++id) NEXUM_RETURN_IF_ERROR(set_broker_up(id));
  return Status();
}

void KafkaMockCluster::push_produce_errors(const std::vector<rd_kafka_resp_err_t>& errors) {
  push_request_errors(kApiKeyProduce, errors);
}

void KafkaMockCluster::push_request_errors(std::int16_t api_key, const std::vector<rd_kafka_resp_err_t>& errors) {
  rd_kafka_mock_push_request_errors_array(cluster_, api_key, errors.size(), errors.data());
}

Status KafkaMockCluster::create_topic(std::string_view name, int partitions) {
  if (name.empty()) return Status::invalid_argument("topic: must not be empty");
  if (partitions < 1) return Status::invalid_argument("partitions: must be at least 1");
  std::string topic(name);
  return mock_status(rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, std::min(3, brokers_)),
                     "create topic " + topic);
}

}  // namespace nexum
