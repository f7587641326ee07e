#include "cluster/cluster_topics.h"

#include <array>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "bus/kafka_config.h"
#include "cluster/cluster_node.h"
#include "cluster/kafka_handle.h"

namespace nexum::cluster {
namespace {

Status create_topic(rd_kafka_t* rk, const std::string& topic, int partitions, int replication, bool keep_forever,
                    std::chrono::milliseconds timeout) {
  std::array<char, 512> errstr{};
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, replication, errstr.data(), errstr.size());
  if (nt == nullptr) return Status::invalid_argument("topic " + topic + ": " + errstr.data());
  rd_kafka_NewTopic_set_config(nt, "min.insync.replicas", replication >= 3 ? "2" : "1");
  if (keep_forever) {  // a shard's history: restores read it from its start
    rd_kafka_NewTopic_set_config(nt, "retention.ms", "-1");
    rd_kafka_NewTopic_set_config(nt, "retention.bytes", "-1");
  }
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, static_cast<int>(timeout.count()));
  Status s;
  if (ev == nullptr) {
    s = Status::unavailable("creating topic " + topic + ": no answer");
  } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    s = Status::unavailable("creating topic " + topic + ": " + rd_kafka_event_error_string(ev));
  } else {
    std::size_t n = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    const rd_kafka_resp_err_t e = n == 1 ? rd_kafka_topic_result_error(results[0]) : RD_KAFKA_RESP_ERR__FAIL;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      s = kafka_internal::status_from_kafka_error(e, "creating topic " + topic);
    }
  }
  if (ev != nullptr) rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy(nt);
  return s;
}

}  // namespace

Status create_cluster_topics(const CreateTopicsOptions& options) {
  if (options.bootstrap_servers.empty()) return Status::invalid_argument("kafka: the bootstrap servers are required");
  if (options.shards < 1) return Status::invalid_argument("shards: at least 1");
  if (options.replication < 1) return Status::invalid_argument("replication: at least 1");
  KafkaEventBusOptions bus;
  bus.bootstrap_servers = options.bootstrap_servers;
  bus.client_id = "nexum-cluster-admin";
  NEXUM_ASSIGN_OR_RETURN(kafka_internal::ConfPtr conf, kafka_internal::make_producer_conf(bus));
  NEXUM_ASSIGN_OR_RETURN(KafkaHandle rk, new_kafka_handle(RD_KAFKA_PRODUCER, std::move(conf), "admin client"));
  const ClusterTopics topics(options.topic_prefix);
  std::vector<std::string> all = topics.commands;
  all.push_back(topics.changelog);
  all.push_back(topics.dead_letters);
  for (const std::string& topic : all) {
    NEXUM_ASSIGN_OR_RETURN(int existing, topic_partitions(rk.get(), topic));
    if (existing == 0) {
      NEXUM_RETURN_IF_ERROR(create_topic(rk.get(), topic, options.shards, options.replication,
                                         topic == topics.changelog, options.timeout));
    } else if (existing != options.shards) {
      return Status::invalid_argument("topic " + topic + " exists with " + std::to_string(existing) +
                                      " partitions, not " + std::to_string(options.shards) +
                                      ": a cluster's shard count is fixed when its topics are created");
    }
  }
  // Wait until every partition has a leader.
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  for (const std::string& topic : all) {
    while (true) {
      const rd_kafka_metadata_t* md = nullptr;
      bool ready = false;
      if (rd_kafka_metadata(rk.get(), 1, nullptr, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < md->topic_cnt; ++i) {
          if (topic != md->topics[i].topic || md->topics[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
          if (md->topics[i].partition_cnt != options.shards) {
            const int count = md->topics[i].partition_cnt;
            rd_kafka_metadata_destroy(md);
            return Status::invalid_argument("topic " + topic + " has " + std::to_string(count) + " partitions, not " +
                                            std::to_string(options.shards) + " (created by someone else meanwhile?)");
          }
          ready = true;
          for (int p = 0; p < md->topics[i].partition_cnt; ++p)
            ready = ready && md->topics[i].partitions[p].leader >= 0;
        }
        rd_kafka_metadata_destroy(md);
      }
      if (ready) break;
      if (std::chrono::steady_clock::now() > deadline) {
        return Status::unavailable("topic " + topic + ": partitions without a leader after " +
                                   std::to_string(options.timeout.count()) + " ms");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  return Status();
}

}  // namespace nexum::cluster
