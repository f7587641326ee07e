#include "bus/kafka_probe.h"

#include <algorithm>
#include <array>

#include <librdkafka/rdkafka.h>

#include "bus/kafka_config.h"
#include "core/mutex.h"

namespace nexum::kafka_internal {

namespace {
constexpr auto kPingCacheFor = std::chrono::milliseconds(1000);

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

KafkaProbe::~KafkaProbe() {
  {
    MutexLock lock(snapshot_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (refresher_.joinable()) refresher_.join();
}

Result<std::unique_ptr<KafkaProbe>> KafkaProbe::create(const KafkaEventBusOptions& options,
                                                       std::vector<std::pair<std::string, std::string>> groups,
                                                       std::chrono::milliseconds timeout) {
  if (options.bootstrap_servers.empty()) return Status::invalid_argument("bootstrap_servers: required for Kafka");
  return std::unique_ptr<KafkaProbe>(new KafkaProbe(options, std::move(groups), timeout));
}

void KafkaProbe::start_refresher(std::chrono::milliseconds interval) {
  if (refresher_.joinable()) return;
  refresher_ = std::thread([this, interval] { refresher_loop(interval); });
}

void KafkaProbe::refresher_loop(std::chrono::milliseconds interval) {
  while (true) {
    refresh();
    MutexLock lock(snapshot_mu_);
    const auto next = std::chrono::steady_clock::now() + interval;
    stop_cv_.wait_until(snapshot_mu_, next, [&]() NEXUM_REQUIRES(snapshot_mu_) { return stop_; });
    if (stop_) return;
  }
}

bool KafkaProbe::stopping() const {
  MutexLock lock(snapshot_mu_);
  return stop_;
}

ProbeSnapshot KafkaProbe::snapshot() const {
  MutexLock lock(snapshot_mu_);
  return snapshot_;
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
  MutexLock lock(probe_mu_);
  if (std::chrono::steady_clock::now() - ping_at_ < kPingCacheFor) return ping_cache_;
  return ping_locked();
}

Status KafkaProbe::ping_locked() {
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

Result<ConsumerLag> KafkaProbe::topic_lag(const std::string& topic, const std::string& group) {
  const int timeout_ms = static_cast<int>(timeout_.count());
  NEXUM_ASSIGN_OR_RETURN(Handle * h, handle_for(group));
  rd_kafka_t* rk = h->rk;
  ConsumerLag lag;
  lag.topic = topic;
  lag.group = group;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::unavailable("kafka metadata of " + topic + ": " + rd_kafka_err2str(err));
  }
  int partitions = 0;
  rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
  if (md->topic_cnt == 1) {
    topic_err = md->topics[0].err;
    partitions = md->topics[0].partition_cnt;
  }
  rd_kafka_metadata_destroy(md);
  if (topic_err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
      (topic_err == RD_KAFKA_RESP_ERR_NO_ERROR && partitions == 0)) {
    lag.exists = false;
    return lag;
  }
  if (topic_err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::unavailable("kafka metadata of " + topic + ": " + rd_kafka_err2str(topic_err));
  }
  lag.partitions = partitions;
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(parts, topic.c_str(), p);
  err = rd_kafka_committed(rk, parts, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_topic_partition_list_destroy(parts);
    return Status::unavailable("kafka committed offsets of " + group + ": " + rd_kafka_err2str(err));
  }
  for (int i = 0; i < parts->cnt; ++i) {
    PartitionLag p;
    p.partition = parts->elems[i].partition;
    err = rd_kafka_query_watermark_offsets(rk, topic.c_str(), p.partition, &p.low, &p.high, timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_topic_partition_list_destroy(parts);
      return Status::unavailable("kafka watermarks of " + topic + " [" + std::to_string(p.partition) +
                                 "]: " + rd_kafka_err2str(err));
    }
    const std::int64_t committed = parts->elems[i].offset;
    if (committed >= 0) {
      p.committed = committed;
      p.lag = std::max<std::int64_t>(0, p.high - committed);
      lag.committed += committed;
    } else {
      p.lag = std::max<std::int64_t>(0, p.high - p.low);
    }
    lag.lag += p.lag;
    lag.by_partition.push_back(p);
  }
  rd_kafka_topic_partition_list_destroy(parts);
  std::sort(lag.by_partition.begin(), lag.by_partition.end(),
            [](const PartitionLag& a, const PartitionLag& b) { return a.partition < b.partition; });
  return lag;
}

ProbeSnapshot KafkaProbe::refresh() {
  MutexLock probe_lock(probe_mu_);
  const Status reachable = ping_locked();
  std::vector<ConsumerLag> lags;
  std::vector<std::string> missing;
  Status lag_status = reachable;
  if (reachable.ok()) {
    for (const auto& [topic, group] : groups_) {
      if (stopping()) return snapshot();  // the destructor waits for this round: cut it short
      Result<ConsumerLag> l = topic_lag(topic, group);
      if (!l) {
        lag_status = l.error();
        break;
      }
      if (!l->exists) missing.push_back(topic);
      lags.push_back(std::move(*l));
    }
  }
  const auto now = std::chrono::steady_clock::now();
  MutexLock lock(snapshot_mu_);
  snapshot_.probed = true;
  snapshot_.taken_at = now;
  snapshot_.reachable = reachable;
  snapshot_.lag_up = lag_status.ok();
  if (lag_status.ok()) {
    snapshot_.lag = std::move(lags);
    snapshot_.lag_at = now;
    snapshot_.lag_error.clear();
    snapshot_.missing_topics = std::move(missing);
  } else {
    snapshot_.lag_error = lag_status.message();
  }
  return snapshot_;
}

}  // namespace nexum::kafka_internal
