#include "cluster/kafka_handle.h"

#include <array>

namespace nexum::cluster {

Result<KafkaHandle> new_kafka_handle(rd_kafka_type_t type, kafka_internal::ConfPtr conf, std::string_view what) {
  std::array<char, 512> errstr{};
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), errstr.data(), errstr.size());
  if (rk == nullptr) return Status::invalid_argument(std::string(what) + ": " + errstr.data());
  (void)conf.release();  // rd_kafka_new took ownership.
  return KafkaHandle(rk);
}

Result<int> topic_partitions(rd_kafka_t* rk, const std::string& topic) {
  // Asks for every topic: a request naming a topic that does not exist
  // would have the broker create it (auto.create.topics.enable) with its
  // default partition count.
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, nullptr, &md, 10000);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return kafka_internal::status_from_kafka_error(err, "metadata of " + topic);
  int count = 0;
  for (int i = 0; i < md->topic_cnt; ++i) {
    if (topic == md->topics[i].topic && md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      count = md->topics[i].partition_cnt;
    }
  }
  rd_kafka_metadata_destroy(md);
  return count;
}

}  // namespace nexum::cluster
