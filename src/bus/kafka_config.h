// Building librdkafka configurations from KafkaEventBusOptions, and turning
// librdkafka error codes into Status.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <librdkafka/rdkafka.h>

#include "nexum/kafka_bus.h"
#include "nexum/status.h"

namespace nexum::kafka_internal {

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

// Sets one property; an unknown name or bad value is InvalidArgument naming it.
Status set_property(rd_kafka_conf_t* conf, std::string_view name, std::string_view value);

// The producer's configuration (idempotent, acks=all, options applied,
// extra properties last, then the settings we never let callers change).
// Callbacks (delivery, error) are installed by the producer itself.
Result<ConfPtr> make_producer_conf(const KafkaEventBusOptions& options);

// A consumer's configuration for `group_id` (manual commit, no auto offset
// store). The rebalance callback is installed by the consumer itself.
Result<ConfPtr> make_consumer_conf(const KafkaEventBusOptions& options, std::string_view group_id,
                                   std::string_view auto_offset_reset);

// Routes librdkafka's log lines to spdlog (logger "rdkafka").
void install_log_callback(rd_kafka_conf_t* conf);

// Destroys a handle that hit a fatal error (rd_kafka_destroy_flags with
// `flags`) on a thread of its own, waiting up to `timeout`; past that the
// destroy is left running (logged, naming `what`) so the caller can go on
// with a new handle. The handle's callbacks must not need the caller's
// objects any more (none is served without a poll).
void destroy_dead_handle(rd_kafka_t* rk, int flags, std::chrono::milliseconds timeout, std::string_view what);

// A delivery or API error as a Status: Unavailable for transient conditions
// (timeouts, transport, broker down, purge), InvalidArgument for a message or
// topic the broker refuses, Internal for fatal errors.
Status status_from_kafka_error(rd_kafka_resp_err_t err, std::string_view context);

}  // namespace nexum::kafka_internal
