#include "drivers/relay_drivers.h"

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "bus/kafka_mock_cluster.h"
#include "drivers/append_window.h"
#include "nexum/kafka_bus.h"
#include "nexum/kafka_message.h"
#include "nexum/outbox_relay.h"
#include "nexum/store.h"

namespace nexum::bench {
namespace {

using Clock = std::chrono::steady_clock;

Status fill(EventStore& store, std::int64_t events) {
  AppendWindow window(store, 64);
  for (std::int64_t i = store.last_position(); i < events;) {
    std::string account = "acc_" + std::to_string((i / 50) % 10000);
    std::vector<StreamAppend> a(1);
    a[0].stream = "account-" + account;
    for (int j = 0; j < 50 && i < events; ++j, ++i) {
      a[0].events.push_back(EventSchema::make("account_updated", "account", account,
                                              {{"account_number", "CHK" + std::to_string(1000000 + i % 10000)},
                                               {"balance", std::to_string(i % 100000) + ".25"},
                                               {"state", "active"},
                                               {"transaction_id", "txn_" + std::to_string(i)},
                                               {"description", std::string(120, 'x')}},
                                              {{"correlation_id", "bench"}}, SystemClock::instance()));
    }
    NEXUM_RETURN_IF_ERROR(window.append(std::move(a)));
  }
  return window.drain();
}

struct RawProducer {
  rd_kafka_t* rk = nullptr;
  ~RawProducer() {
    if (rk) rd_kafka_destroy(rk);
  }
};

void count_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* failures = static_cast<std::int64_t*>(opaque);
  if (m->err) ++*failures;
}

// Raw librdkafka: one producer with the relay's settings, every message
// produced with its headers, then flushed: the ceiling for the relay.
Result<double> raw_produce(const std::string& bootstrap, const std::vector<OutgoingMessage>& messages) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::int64_t failures = 0;
  for (auto [k, v] : {std::pair{"bootstrap.servers", bootstrap.c_str()},
                      {"enable.idempotence", "true"},
                      {"acks", "all"},
                      {"linger.ms", "5"},
                      {"batch.num.messages", "10000"},
                      {"queue.buffering.max.messages", "1000000"},
                      {"log_level", "3"}}) {
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return Status::invalid_argument(std::string(k) + ": " + err);
    }
  }
  rd_kafka_conf_set_dr_msg_cb(conf, count_delivery);
  rd_kafka_conf_set_opaque(conf, &failures);
  RawProducer p;
  p.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!p.rk) return Status::unavailable(std::string("raw producer: ") + err);
  auto start = Clock::now();
  for (const OutgoingMessage& m : messages) {
    rd_kafka_headers_t* h = rd_kafka_headers_new(m.headers.size());
    for (const auto& hd : m.headers) {
      rd_kafka_header_add(h, hd.name.data(), static_cast<ssize_t>(hd.name.size()), hd.value.data(),
                          static_cast<ssize_t>(hd.value.size()));
    }
    const void* key = m.key ? m.key->data() : nullptr;
    const std::size_t key_len = m.key ? m.key->size() : 0;
    for (;;) {
      rd_kafka_resp_err_t e =
          rd_kafka_producev(p.rk, RD_KAFKA_V_TOPIC(m.topic.c_str()), RD_KAFKA_V_KEY(key, key_len),
                            RD_KAFKA_V_VALUE(const_cast<char*>(m.value.data()), m.value.size()),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_headers_destroy(h);
        return Status::unavailable(std::string("raw produce: ") + rd_kafka_err2str(e));
      }
      rd_kafka_poll(p.rk, 10);
    }
    rd_kafka_poll(p.rk, 0);
  }
  if (rd_kafka_flush(p.rk, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR) return Status::unavailable("raw flush timed out");
  double rate = static_cast<double>(messages.size()) / std::chrono::duration<double>(Clock::now() - start).count();
  if (failures) return Status::unavailable("raw produce: " + std::to_string(failures) + " deliveries failed");
  return rate;
}

// Creates `topics` on a real cluster (an existing topic is kept as it is).
Status create_topics(const std::string& bootstrap, const std::vector<std::string>& topics, int partitions,
                     int replication_factor) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return Status::invalid_argument(std::string("--kafka: ") + err);
  }
  RawProducer admin;
  admin.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!admin.rk) return Status::unavailable(std::string("admin client: ") + err);
  std::vector<rd_kafka_NewTopic_t*> specs;
  for (const std::string& t : topics) {
    rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(t.c_str(), partitions, replication_factor, err, sizeof err);
    if (nt == nullptr) {
      for (auto* s : specs) rd_kafka_NewTopic_destroy(s);
      return Status::invalid_argument(t + ": " + err);
    }
    if (replication_factor >= 3) rd_kafka_NewTopic_set_config(nt, "min.insync.replicas", "2");
    specs.push_back(nt);
  }
  rd_kafka_queue_t* q = rd_kafka_queue_new(admin.rk);
  rd_kafka_CreateTopics(admin.rk, specs.data(), specs.size(), nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 60000);
  Status status;
  if (ev == nullptr) {
    status = Status::unavailable("CreateTopics: no answer from " + bootstrap + " within 60 s");
  } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    status = Status::unavailable(std::string("CreateTopics: ") + rd_kafka_event_error_string(ev));
  } else {
    std::size_t n = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    for (std::size_t i = 0; i < n && status.ok(); ++i) {
      rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        status = Status::unavailable(std::string("CreateTopics ") + rd_kafka_topic_result_name(results[i]) + ": " +
                                     rd_kafka_err2str(e));
      }
    }
  }
  if (ev != nullptr) rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  for (auto* s : specs) rd_kafka_NewTopic_destroy(s);
  return status;
}

}  // namespace

Result<std::vector<BenchRow>> run_relay_bench(const RelayBenchOptions& o) {
  StoreOptions fill_options;
  fill_options.durability = Durability::kBuffered;
  auto opened = EventStore::open(o.dir, fill_options);
  if (!opened) return opened.error();
  std::unique_ptr<EventStore> store = std::move(opened).value();
  NEXUM_RETURN_IF_ERROR(fill(*store, o.events));
  const std::int64_t n = std::min<std::int64_t>(o.events, store->last_position());

  std::unique_ptr<KafkaMockCluster> mock;
  std::string bootstrap = o.kafka;
  std::string where;
  if (bootstrap.empty()) {
    auto cluster = KafkaMockCluster::create(o.brokers);
    if (!cluster) return cluster.error();
    mock = std::move(cluster).value();
    NEXUM_RETURN_IF_ERROR(mock->create_topic("nexum.accounts.updated", o.partitions));
    NEXUM_RETURN_IF_ERROR(mock->create_topic("bench.raw.baseline", o.partitions));
    bootstrap = mock->bootstrap_servers();
    where = "Kafka mock cluster (" + std::to_string(o.brokers) + " brokers)";
  } else {
    NEXUM_RETURN_IF_ERROR(
        create_topics(bootstrap, {"nexum.accounts.updated", "bench.raw.baseline"}, o.partitions, o.replication_factor));
    where = "real Kafka " + bootstrap + " (RF " + std::to_string(o.replication_factor) + ")";
  }

  // Baseline input: the relay's own messages, pre-serialized, to another topic.
  std::vector<OutgoingMessage> messages;
  messages.reserve(static_cast<std::size_t>(n));
  NEXUM_RETURN_IF_ERROR(store->scan_log(1, static_cast<std::size_t>(n), {}, [&](const EventView& e) {
    messages.push_back(make_kafka_message(e));
    messages.back().topic = "bench.raw.baseline";
    return Status();
  }));
  auto raw = raw_produce(bootstrap, messages);
  if (!raw) return raw.error();
  std::size_t bytes = 0;
  for (const auto& m : messages) bytes += m.value.size();
  messages.clear();
  messages.shrink_to_fit();

  KafkaEventBusOptions bus_options;
  bus_options.bootstrap_servers = bootstrap;
  bus_options.properties = {{"log_level", "3"}};
  auto bus = KafkaEventBus::create(bus_options);
  if (!bus) return bus.error();
  NEXUM_RETURN_IF_ERROR((*bus)->start());
  OutboxRelayOptions relay_options;
  relay_options.name = "bench_relay_" + std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  OutboxRelay relay(*store, **bus, relay_options);
  auto start = Clock::now();
  NEXUM_RETURN_IF_ERROR(relay.start());
  if (!relay.wait_until_relayed(n, std::chrono::minutes(5))) {
    return Status::unavailable("relay did not finish: " + relay.stats().last_error);
  }
  double ours = static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - start).count();
  NEXUM_RETURN_IF_ERROR(relay.stop());
  RelayStats s = relay.stats();
  std::vector<BenchRow> rows;
  rows.push_back({"outbox relay to " + where + ", " + std::to_string(n) + " events", ours, *raw, "events/s",
                  "baseline: raw librdkafka produce of the same " +
                      std::to_string(bytes / std::max<std::int64_t>(n, 1)) +
                      "-byte messages with headers, idempotent, acks=all"});
  rows.push_back({"relay resends (duplicates)", static_cast<double>(s.resent), 0, "events", ""});
  return rows;
}

}  // namespace nexum::bench
