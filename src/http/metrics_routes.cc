// GET /metrics: Prometheus text exposition 0.0.4. Metric names and
// meanings: doc/http_api.md, "GET /metrics".
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "http/admin_api.h"
#include "http/prometheus.h"
#include "nexum/kafka_bus.h"

namespace nexum::http_internal {

namespace {

double d(std::uint64_t v) { return static_cast<double>(v); }
double d(std::int64_t v) { return static_cast<double>(v); }

}  // namespace

HttpResponse handle_metrics(const MetricsSources& m) {
  PrometheusWriter w;
  w.family("nexum_up", "gauge", "1 while the service runs.");
  w.sample("nexum_up", 1);

  // ---- store and appends ----
  w.family("nexum_store_last_position", "gauge", "Global position of the last committed event.");
  w.sample("nexum_store_last_position", d(m.store.last_position()));
  w.family("nexum_appends_total", "counter",
           "Appends made by the service (command outcomes and publish-test) that wrote events.");
  w.sample("nexum_appends_total", d(m.appends.appends()));
  w.family("nexum_appended_events_total", "counter", "Events written by those appends.");
  w.sample("nexum_appended_events_total", d(m.appends.appended_events()));
  w.family("nexum_append_errors_total", "counter", "Appends by the service that failed (conflicts included).");
  w.sample("nexum_append_errors_total", d(m.appends.append_errors()));
  w.family("nexum_append_duration_seconds", "histogram", "Latency of the service's appends, until durable.");
  write_histogram(w, "nexum_append_duration_seconds", m.appends.latency());
  w.family("nexum_publish_test_total", "counter", "Events appended through POST /kafka/publish-test.");
  w.sample("nexum_publish_test_total", d(m.publish_tests));

  // ---- relay ----
  const RelayStats r = m.relay.stats();
  w.family("nexum_relay_running", "gauge", "1 while the outbox relay runs.");
  w.sample("nexum_relay_running", r.running ? 1 : 0);
  w.family("nexum_relay_checkpoint", "gauge", "Last position the bus confirmed contiguously.");
  w.sample("nexum_relay_checkpoint", d(r.checkpoint));
  w.family("nexum_relay_lag_events", "gauge", "Stored events not yet confirmed by the bus.");
  w.sample("nexum_relay_lag_events", d(r.lag_positions));
  w.family("nexum_relay_lag_seconds", "gauge", "Age of the oldest stored event not yet confirmed.");
  w.sample("nexum_relay_lag_seconds", r.lag_seconds);
  w.family("nexum_relay_delivered_total", "counter", "Deliveries the bus confirmed, resends included.");
  w.sample("nexum_relay_delivered_total", d(r.delivered));
  w.family("nexum_relay_resent_total", "counter", "Events sent again after a pause (the at-least-once window).");
  w.sample("nexum_relay_resent_total", d(r.resent));
  w.family("nexum_relay_delivery_failures_total", "counter", "Failed deliveries (each retried).");
  w.sample("nexum_relay_delivery_failures_total", d(r.delivery_failures));
  w.family("nexum_relay_parked", "gauge",
           "1 while the relay is parked on an event the bus refuses for good (label reason; position: the event).");
  if (r.parked) {
    w.sample("nexum_relay_parked", {{"reason", r.parked_reason.substr(0, 300)}}, 1);
  } else {
    w.sample("nexum_relay_parked", 0);
  }
  w.family("nexum_relay_parked_position", "gauge", "The event the relay is parked on (0: not parked).");
  w.sample("nexum_relay_parked_position", r.parked ? d(r.parked_position) : 0);

  // ---- bus ----
  auto bus = m.buses.current();
  const BusConfig config = m.buses.config();
  const std::uint64_t switches = m.buses.switches();
  // Over every Kafka bus and command intake since start (never going down).
  const service::KafkaCounters k = m.buses.kafka_counters();
  w.family("nexum_bus_info", "gauge", "The bus in use (label type), 1.");
  w.sample("nexum_bus_info", {{"type", bus_type_name(config.type)}, {"class", bus_class_name(bus.get())}}, 1);
  w.family("nexum_bus_running", "gauge", "1 while the bus runs.");
  w.sample("nexum_bus_running", bus && bus->is_running() ? 1 : 0);
  w.family("nexum_bus_switches_total", "counter", "Bus reconfigurations (POST /kafka/config).");
  w.sample("nexum_bus_switches_total", d(switches));
  w.family("nexum_kafka_consumed_total", "counter", "Messages the command consumers received.");
  w.sample("nexum_kafka_consumed_total", d(k.consumed));
  w.family("nexum_kafka_produced_total", "counter", "Messages taken by the Kafka producer.");
  w.sample("nexum_kafka_produced_total", d(k.produced));
  w.family("nexum_kafka_delivery_failures_total", "counter", "Failed Kafka delivery reports.");
  w.sample("nexum_kafka_delivery_failures_total", d(k.delivery_failures));
  w.family("nexum_kafka_consumer_restarts_total", "counter",
           "Command consumers started over with a new handle after a fatal Kafka error (a fenced static member).");
  w.sample("nexum_kafka_consumer_restarts_total", d(k.consumer_restarts));
  w.family("nexum_kafka_producer_restarts_total", "counter",
           "Producer handles replaced after a fatal Kafka error (idempotent producer state lost).");
  w.sample("nexum_kafka_producer_restarts_total", d(k.producer_restarts));
  std::size_t not_consuming = 0;
  m.buses.commands_health(&not_consuming).ignore_error();
  w.family("nexum_kafka_consumers_not_consuming", "gauge",
           "Command consumers starting over after a fatal Kafka error (see /ready).");
  w.sample("nexum_kafka_consumers_not_consuming", d(not_consuming));

  // ---- commands ----
  const CommandHandlerStats c = m.handler.stats();
  w.family("nexum_commands_total", "counter", "Commands handled, by outcome.");
  w.sample("nexum_commands_total", {{"outcome", "accepted"}}, d(c.accepted));
  w.sample("nexum_commands_total", {{"outcome", "rejected"}}, d(c.rejected));
  w.sample("nexum_commands_total", {{"outcome", "duplicate"}}, d(c.duplicates));
  // Malformed: refused by the handler, or no envelope at all (the Kafka
  // consumers dead-letter those before any handler sees them).
  w.sample("nexum_commands_total", {{"outcome", "malformed"}}, d(c.malformed + k.undecodable));
  w.sample("nexum_commands_total", {{"outcome", "failed"}}, d(c.failed));
  w.family("nexum_commands_accepted_total", "counter", "Accepted commands, by domain.action.");
  for (const auto& [action, n] : c.accepted_by_action)
    w.sample("nexum_commands_accepted_total", {{"action", action}}, d(n));
  w.family("nexum_commands_rejected_total", "counter", "Business rejections, by reason.");
  for (const auto& [reason, n] : c.rejected_by_reason)
    w.sample("nexum_commands_rejected_total", {{"reason", reason}}, d(n));
  w.family("nexum_commands_rejected_by_action_total", "counter", "Business rejections, by domain.action.");
  for (const auto& [action, n] : c.rejected_by_action)
    w.sample("nexum_commands_rejected_by_action_total", {{"action", action}}, d(n));
  w.family("nexum_commands_unknown_fields_total", "counter",
           "Commands accepted with a field outside the vocabulary (commands.unknown_fields = warn), by field.");
  for (const auto& [field, n] : c.unknown_fields)
    w.sample("nexum_commands_unknown_fields_total", {{"field", field}}, d(n));
  w.family("nexum_commands_conflict_retries_total", "counter", "Commands re-decided after a version conflict.");
  w.sample("nexum_commands_conflict_retries_total", d(c.conflict_retries));
  w.family("nexum_dlq_messages_total", "counter",
           "Commands written to the dead-letter topic (by the Kafka consumers or the handler).");
  w.sample("nexum_dlq_messages_total", d(k.dead_lettered + c.dead_letters_published));

  // ---- consumer lag and command topics (Kafka only; the probe's last answer) ----
  if (std::optional<ProbeSnapshot> probe = kafka_snapshot(m.buses)) {
    w.family("nexum_consumer_lag_up", "gauge", "1 when the last consumer lag probe got every answer from Kafka.");
    w.sample("nexum_consumer_lag_up", probe->lag_up ? 1 : 0);
    if (probe->lag_at != std::chrono::steady_clock::time_point{}) {
      w.family("nexum_consumer_lag_age_seconds", "gauge",
               "Age of the consumer lag figures below (the probe asks Kafka once a second, off the request path).");
      w.sample("nexum_consumer_lag_age_seconds", static_cast<double>(age_ms(probe->lag_at)) / 1000.0);
      w.family("nexum_consumer_lag_messages", "gauge",
               "Command messages not yet committed by the consumer group (high watermark - committed).");
      for (const ConsumerLag& l : probe->lag) {
        w.sample("nexum_consumer_lag_messages", {{"topic", l.topic}, {"group", l.group}}, d(l.lag));
      }
      // One gauge family per field of PartitionLag, one sample per partition.
      struct PartitionGauge {
        const char* name;
        const char* help;
        std::int64_t kafka_internal::PartitionLag::*field;
      };
      static constexpr PartitionGauge kPartitionGauges[] = {
          {"nexum_consumer_partition_lag_messages",
           "Per partition: high watermark - committed offset (- low watermark when nothing is committed).",
           &kafka_internal::PartitionLag::lag},
          {"nexum_consumer_partition_committed_offset", "Per partition: the group's committed offset (-1: none yet).",
           &kafka_internal::PartitionLag::committed},
          {"nexum_consumer_partition_high_watermark", "Per partition: the offset the next message will get.",
           &kafka_internal::PartitionLag::high},
      };
      for (const PartitionGauge& gauge : kPartitionGauges) {
        w.family(gauge.name, "gauge", gauge.help);
        for (const ConsumerLag& l : probe->lag) {
          for (const kafka_internal::PartitionLag& p : l.by_partition) {
            w.sample(gauge.name, {{"topic", l.topic}, {"group", l.group}, {"partition", std::to_string(p.partition)}},
                     d(p.*gauge.field));
          }
        }
      }
      w.family("nexum_command_topic_missing", "gauge",
               "1 when the cluster does not know the command topic (its consumer gets UNKNOWN_TOPIC_OR_PART).");
      for (const ConsumerLag& l : probe->lag)
        w.sample("nexum_command_topic_missing", {{"topic", l.topic}}, l.exists ? 0 : 1);
    }
  }

  // ---- projections ----
  const std::vector<ProjectionStatus> projections =
      m.projections != nullptr ? m.projections->status() : std::vector<ProjectionStatus>();
  w.family("nexum_projection_lag_events", "gauge", "Events between the store's last position and the checkpoint.");
  for (const auto& p : projections) w.sample("nexum_projection_lag_events", {{"projection", p.name}}, d(p.lag));
  w.family("nexum_projection_checkpoint", "gauge", "Last committed position of the projection.");
  for (const auto& p : projections) w.sample("nexum_projection_checkpoint", {{"projection", p.name}}, d(p.checkpoint));
  w.family("nexum_projection_parked_events", "gauge", "Events parked by the projection.");
  for (const auto& p : projections) w.sample("nexum_projection_parked_events", {{"projection", p.name}}, d(p.parked));
  w.family("nexum_projection_healthy", "gauge", "0 when the projection stopped on an error.");
  for (const auto& p : projections) {
    w.sample("nexum_projection_healthy", {{"projection", p.name}}, p.state == ProjectionState::kError ? 0 : 1);
  }

  // ---- sagas ----
  if (m.saga_engine != nullptr) {
    const SagaEngineStats s = m.saga_engine->stats();
    const std::string name(m.saga_engine->saga_name());
    w.family("nexum_saga_instances_total", "counter", "Saga instances since start, by event (started/completed/...).");
    w.sample("nexum_saga_instances_total", {{"saga", name}, {"event", "started"}}, d(s.instances_started));
    w.sample("nexum_saga_instances_total", {{"saga", name}, {"event", "completed"}}, d(s.instances_completed));
    w.sample("nexum_saga_instances_total", {{"saga", name}, {"event", "rejected"}}, d(s.instances_rejected));
    w.sample("nexum_saga_instances_total", {{"saga", name}, {"event", "failed"}}, d(s.instances_failed));
    w.family("nexum_saga_commands_sent_total", "counter", "Saga commands the bus confirmed.");
    w.sample("nexum_saga_commands_sent_total", {{"saga", name}}, d(s.commands_sent));
    w.family("nexum_saga_outbox_pending", "gauge", "Saga commands/events waiting for the relay.");
    w.sample("nexum_saga_outbox_pending", {{"saga", name}}, d(static_cast<std::uint64_t>(s.outbox_pending)));
    w.family("nexum_saga_lag_events", "gauge", "Events between the store's last position and the saga checkpoint.");
    w.sample("nexum_saga_lag_events", {{"saga", name}}, d(s.last_position - s.checkpoint));
  }

  HttpResponse resp;
  resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
  resp.body = w.text();
  return resp;
}

}  // namespace nexum::http_internal
