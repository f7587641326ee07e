// The cluster module's librdkafka handles: created from a configuration,
// destroyed with it; and the partition count of a topic.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <librdkafka/rdkafka.h>

#include "bus/kafka_config.h"
#include "nexum/status.h"

namespace nexum::cluster {

struct KafkaHandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaHandleDeleter>;

// rd_kafka_new, which takes `conf` on success. InvalidArgument naming `what` otherwise.
Result<KafkaHandle> new_kafka_handle(rd_kafka_type_t type, kafka_internal::ConfPtr conf, std::string_view what);

// Partitions of `topic`; 0 when it does not exist (never creates it).
Result<int> topic_partitions(rd_kafka_t* rk, const std::string& topic);

}  // namespace nexum::cluster
