#include "cluster/changelog_writer.h"

#include <future>
#include <utility>

#include <spdlog/spdlog.h>

#include "bus/kafka_config.h"
#include "cluster/kafka_handle.h"

namespace nexum::cluster {

Result<std::unique_ptr<ChangelogWriter>> ChangelogWriter::create(const KafkaEventBusOptions& options) {
  NEXUM_ASSIGN_OR_RETURN(kafka_internal::ConfPtr conf, kafka_internal::make_producer_conf(options));
  // Every client agrees on an entity's shard (doc/cluster.md §1).
  NEXUM_RETURN_IF_ERROR(kafka_internal::set_property(conf.get(), "partitioner", "murmur2_random"));
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &ChangelogWriter::on_delivery);
  NEXUM_ASSIGN_OR_RETURN(KafkaHandle rk, new_kafka_handle(RD_KAFKA_PRODUCER, std::move(conf), "changelog producer"));
  return std::unique_ptr<ChangelogWriter>(new ChangelogWriter(rk.release()));
}

ChangelogWriter::ChangelogWriter(rd_kafka_t* rk) : rk_(rk) {
  poll_thread_ = std::thread([this] { poll_loop(); });
}

ChangelogWriter::~ChangelogWriter() {
  if (rd_kafka_flush(rk_, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("changelog writer: {} messages not acknowledged within 10 s; purged", outstanding_.load());
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(rk_, 1000);
  }
  stop_ = true;
  poll_thread_.join();
  rd_kafka_destroy(rk_);
}

void ChangelogWriter::poll_loop() {
  while (!stop_.load()) rd_kafka_poll(rk_, 100);
}

void ChangelogWriter::on_delivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* message, void* /*opaque*/) {
  std::unique_ptr<ChangelogDelivery> done(static_cast<ChangelogDelivery*>(message->_private));
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    (*done)(Status(), message->offset);
  } else {
    (*done)(kafka_internal::status_from_kafka_error(message->err, "changelog write"), -1);
  }
}

void ChangelogWriter::write(const std::string& topic, std::int32_t partition, const std::string& key,
                            const std::string& value, ChangelogDelivery done,
                            const std::vector<std::pair<std::string, std::string>>& headers) {
  outstanding_.fetch_add(1);
  auto* opaque = new ChangelogDelivery([this, done = std::move(done)](Status s, std::int64_t offset) {
    outstanding_.fetch_sub(1);
    done(std::move(s), offset);
  });
  while (true) {
    rd_kafka_headers_t* hdrs = rd_kafka_headers_new(headers.size());
    for (const auto& [name, v] : headers) {
      rd_kafka_header_add(hdrs, name.data(), static_cast<ssize_t>(name.size()), v.data(),
                          static_cast<ssize_t>(v.size()));
    }
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_KEY(key.data(), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_HEADERS(hdrs),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;  // the message owns hdrs
    rd_kafka_headers_destroy(hdrs);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk_, 10);  // wait for room; order is kept (nothing of this message was queued)
      continue;
    }
    std::unique_ptr<ChangelogDelivery> failed(opaque);
    (*failed)(kafka_internal::status_from_kafka_error(err, "changelog write to " + topic), -1);
    return;
  }
}

Result<std::int64_t> ChangelogWriter::write_and_wait(const std::string& topic, std::int32_t partition,
                                                     const std::string& key, const std::string& value) {
  std::promise<Result<std::int64_t>> promise;
  auto future = promise.get_future();
  write(topic, partition, key, value, [&promise](Status s, std::int64_t offset) {
    if (s.ok()) {
      promise.set_value(offset);
    } else {
      promise.set_value(std::move(s));
    }
  });
  return future.get();
}

}  // namespace nexum::cluster
