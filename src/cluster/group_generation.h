// The consumer group's generation id as this member last joined it: the
// number the coordinator raises at every rebalance and checks on every offset
// commit. librdkafka 2.0 keeps it inside its group metadata without a getter;
// this reads it from the metadata's serialized form and checks the reading by
// rebuilding the same metadata from it (doc/cluster.md §4).
#pragma once

#include <cstdint>

#include <librdkafka/rdkafka.h>

#include "nexum/status.h"

namespace nexum::cluster {

// `rk`: a consumer in a group. Internal when the generation cannot be read
// (a librdkafka whose serialized form this does not recognise).
Result<std::int32_t> group_generation(rd_kafka_t* rk);

}  // namespace nexum::cluster
