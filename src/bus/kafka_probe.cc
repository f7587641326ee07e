#include "bus/kafka_probe.h"

#include <algorithm>
#include <array>

#include <librdkafka/rdkafka.h>

#include "bus/kafka_config.h"
#include "core/mutex.h"

namespace nexum::kafka_internal {

namespace {
constexpr auto kCacheFor = std::chrono::milliseconds(1000);

// The bus's options, under client id "{client_id}-probe".
KafkaEventBusOptions probe_options(KafkaEventBusOptions options) {
  options.client_id += "-probe";
  options.instance_id.clear();  // probes never join a group; the name is the members'
  return options;
}
}  // namespace

struct KafkaProbe::Handle {
  rd_kafka_t* rk = nullptr;
  ~Handle() {
    if (rk != nullptr) rd_kafka_destroy(rk);
  }
};

KafkaProbe::KafkaProbe(KafkaEventBusOptions options, std::vector<std::pair<std::string, std::string>> groups,
                       std::chrono::milliseconds timeout)
    : options_(probe_options(std::move(options))), groups_(std::move(groups)), timeout_(timeout) {}

KafkaProbe::~KafkaProbe() = default;

Result<std::unique_ptr<KafkaProbe>> KafkaProbe::create(const KafkaEventBusOptions& options,
                                                       std::vector<std::pair<std::string, std::string>> groups,
                                                       std::chrono::milliseconds timeout) {
  if (options.bootstrap_servers.empty()) return Status::invalid_argument("bootstrap_servers: required for Kafka");
  return std::unique_ptr<KafkaProbe>(new KafkaProbe(options, std::move(groups), timeout));
}

Result<KafkaProbe::Handle*> KafkaProbe::handle_for(const std::string& group) {
  auto it = handles_.find(group);
  if (it != handles_.end()) return it->second.get();
  Result<ConfPtr> conf = make_consumer_conf(options_, group, options_.auto_offset_reset);
  if (!conf) return Status::invalid_argument("kafka probe: " + conf.error().message());
  // Probes fail often while a broker is down; their answers say so already.
  NEXUM_RETURN_IF_ERROR(set_property(conf->get(), "log_level", "3"));
  std::array<char, 512> err{};
  // rd_kafka_new takes the configuration only when it succeeds.
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), err.data(), err.size());
  if (rk == nullptr) return Status::invalid_argument(std::string("kafka probe: ") + err.data());
  conf->release();
  auto h = std::make_unique<Handle>();
  h->rk = rk;
  Handle* raw = h.get();
  handles_[group] = std::move(h);
  return raw;
}

Status KafkaProbe::ping() {
  MutexLock lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (now - ping_at_ < kCacheFor) return ping_cache_;
  Result<Handle*> h = handle_for(groups_.empty() ? options_.client_id : groups_.front().second);
  if (!h) return h.error();
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata((*h)->rk, 0, nullptr, &md, static_cast<int>(timeout_.count()));
  Status s;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    s = Status::unavailable(std::string("kafka: no broker answered: ") + rd_kafka_err2str(err));
  } else if (md->broker_cnt == 0) {
    s = Status::unavailable("kafka: the cluster reported no brokers");
  }
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  ping_at_ = std::chrono::steady_clock::now();
  ping_cache_ = s;
  return s;
}

Result<std::vector<ConsumerLag>> KafkaProbe::lag() {
  MutexLock lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (now - lag_at_ < kCacheFor) return lag_cache_;
  const int timeout_ms = static_cast<int>(timeout_.count());
  std::vector<ConsumerLag> out;
  for (const auto& [topic, group] : groups_) {
    Result<Handle*> h = handle_for(group);
    if (!h) return h.error();
    rd_kafka_t* rk = (*h)->rk;
    ConsumerLag lag;
    lag.topic = topic;
    lag.group = group;
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
    rd_kafka_topic_destroy(rkt);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::unavailable(std::string("kafka metadata: ") + rd_kafka_err2str(err));
    }
    int partitions = 0;
    if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) partitions = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    lag.partitions = partitions;
    if (partitions > 0) {
      rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
      for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(parts, topic.c_str(), p);
      err = rd_kafka_committed(rk, parts, timeout_ms);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_topic_partition_list_destroy(parts);
        return Status::unavailable(std::string("kafka committed offsets: ") + rd_kafka_err2str(err));
      }
      for (int i = 0; i < parts->cnt; ++i) {
        std::int64_t low = 0, high = 0;
        err = rd_kafka_query_watermark_offsets(rk, topic.c_str(), parts->elems[i].partition, &low, &high, timeout_ms);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          rd_kafka_topic_partition_list_destroy(parts);
          return Status::unavailable(std::string("kafka watermarks: ") + rd_kafka_err2str(err));
        }
        const std::int64_t committed = parts->elems[i].offset;
        if (committed >= 0) {
          lag.committed += committed;
          lag.lag += std::max<std::int64_t>(0, high - committed);
        } else {
          lag.lag += std::max<std::int64_t>(0, high - low);
        }
      }
      rd_kafka_topic_partition_list_destroy(parts);
    }
    out.push_back(std::move(lag));
  }
  lag_at_ = std::chrono::steady_clock::now();
  lag_cache_ = out;
  return out;
}

}  // namespace nexum::kafka_internal
