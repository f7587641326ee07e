#include "bus/kafka_config.h"

#include <array>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include <spdlog/spdlog.h>

namespace nexum::kafka_internal {

Status set_property(rd_kafka_conf_t* conf, std::string_view name, std::string_view value) {
  std::array<char, 512> errstr{};
  std::string n(name);
  std::string v(value);
  rd_kafka_conf_res_t res = rd_kafka_conf_set(conf, n.c_str(), v.c_str(), errstr.data(), errstr.size());
  if (res == RD_KAFKA_CONF_OK) return Status();
  if (res == RD_KAFKA_CONF_UNKNOWN) {
    return Status::invalid_argument("kafka property " + n + ": unknown property (" + errstr.data() + ")");
  }
  return Status::invalid_argument("kafka property " + n + "=" + v + ": " + errstr.data());
}

namespace {

Status apply(rd_kafka_conf_t* conf, const KafkaProperties& properties) {
  for (const auto& [name, value] : properties) NEXUM_RETURN_IF_ERROR(set_property(conf, name, value));
  return Status();
}

void log_cb(const rd_kafka_t* rk, int level, const char* facility, const char* buf) {
  // Runs on librdkafka's threads; spdlog loggers are thread-safe.
  auto logger = spdlog::get("rdkafka");
  if (!logger) logger = spdlog::default_logger();
  spdlog::level::level_enum lvl = spdlog::level::debug;
  if (level <= 3) {
    lvl = spdlog::level::err;
  } else if (level == 4) {
    lvl = spdlog::level::warn;
  } else if (level <= 6) {
    lvl = spdlog::level::info;
  }
  logger->log(lvl, "rdkafka {} {}: {}", rd_kafka_name(rk), facility, buf);
}

Result<ConfPtr> common_conf(const KafkaEventBusOptions& options) {
  if (options.bootstrap_servers.empty()) {
    return Status::invalid_argument("bootstrap_servers: required for the Kafka event bus");
  }
  ConfPtr conf(rd_kafka_conf_new());
  install_log_callback(conf.get());
  NEXUM_RETURN_IF_ERROR(set_property(conf.get(), "bootstrap.servers", options.bootstrap_servers));
  NEXUM_RETURN_IF_ERROR(set_property(conf.get(), "client.id", options.client_id));
  return conf;
}

}  // namespace

void install_log_callback(rd_kafka_conf_t* conf) { rd_kafka_conf_set_log_cb(conf, &log_cb); }

Result<ConfPtr> make_producer_conf(const KafkaEventBusOptions& options) {
  Result<ConfPtr> conf = common_conf(options);
  if (!conf) return conf;
  rd_kafka_conf_t* c = conf->get();
  NEXUM_RETURN_IF_ERROR(set_property(c, "linger.ms", std::to_string(options.linger.count())));
  NEXUM_RETURN_IF_ERROR(set_property(c, "batch.num.messages", std::to_string(options.batch_num_messages)));
  NEXUM_RETURN_IF_ERROR(set_property(c, "batch.size", std::to_string(options.batch_size_bytes)));
  NEXUM_RETURN_IF_ERROR(set_property(c, "compression.type", options.compression));
  NEXUM_RETURN_IF_ERROR(set_property(c, "message.timeout.ms", std::to_string(options.message_timeout.count())));
  NEXUM_RETURN_IF_ERROR(set_property(c, "queue.buffering.max.messages", std::to_string(options.queue_max_messages)));
  NEXUM_RETURN_IF_ERROR(apply(c, options.properties));
  NEXUM_RETURN_IF_ERROR(apply(c, options.producer_properties));
  // Never overridable: the outbox's guarantees rest on these.
  NEXUM_RETURN_IF_ERROR(set_property(c, "enable.idempotence", "true"));
  NEXUM_RETURN_IF_ERROR(set_property(c, "acks", "all"));
  return conf;
}

Result<ConfPtr> make_consumer_conf(const KafkaEventBusOptions& options, std::string_view group_id,
                                   std::string_view auto_offset_reset) {
  Result<ConfPtr> conf = common_conf(options);
  if (!conf) return conf;
  rd_kafka_conf_t* c = conf->get();
  NEXUM_RETURN_IF_ERROR(set_property(c, "group.id", group_id));
  if (!options.instance_id.empty()) NEXUM_RETURN_IF_ERROR(set_property(c, "group.instance.id", options.instance_id));
  NEXUM_RETURN_IF_ERROR(set_property(c, "auto.offset.reset", auto_offset_reset));
  NEXUM_RETURN_IF_ERROR(apply(c, options.properties));
  NEXUM_RETURN_IF_ERROR(apply(c, options.consumer_properties));
  NEXUM_RETURN_IF_ERROR(set_property(c, "enable.auto.commit", "false"));
  NEXUM_RETURN_IF_ERROR(set_property(c, "enable.auto.offset.store", "false"));
  NEXUM_RETURN_IF_ERROR(set_property(c, "enable.partition.eof", "false"));
  return conf;
}

void destroy_dead_handle(rd_kafka_t* rk, int flags, std::chrono::milliseconds timeout, std::string_view what) {
  auto destroyed = std::make_shared<std::promise<void>>();
  std::future<void> done = destroyed->get_future();
  std::thread destroyer([rk, flags, destroyed] {
    rd_kafka_destroy_flags(rk, flags);
    destroyed->set_value();
  });
  if (done.wait_for(timeout) == std::future_status::ready) {
    destroyer.join();
    return;
  }
  spdlog::error("{}: destroying the dead librdkafka handle takes over {} ms; left to a thread of its own", what,
                timeout.count());
  destroyer.detach();
}

Status status_from_kafka_error(rd_kafka_resp_err_t err, std::string_view context) {
  std::string message = std::string(context) + ": " + rd_kafka_err2str(err);
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR: return Status();
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED: return Status::invalid_argument(message);
    case RD_KAFKA_RESP_ERR__FATAL: return Status::internal(message);
    default: return Status::unavailable(message);
  }
}

}  // namespace nexum::kafka_internal
