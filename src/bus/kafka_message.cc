// Event → Kafka message. Wire format: doc/wire_format.md, "Kafka message".
#include "nexum/kafka_message.h"

#include <utility>

#include "nexum/json_codec.h"

namespace nexum {
namespace {

void add(std::vector<MessageHeader>& headers, std::string_view name, std::string value) {
  headers.push_back(MessageHeader{std::string(name), std::move(value)});
}

void add_cloudevents_headers(const EventId& id, std::string_view type, std::string_view source, Timestamp time,
                             std::string_view entity_id, std::vector<MessageHeader>& headers) {
  add(headers, kHeaderSpecVersion, std::string(kCloudEventsSpecVersion));
  add(headers, kHeaderId, id.to_string());
  add(headers, kHeaderType, std::string(type));
  add(headers, kHeaderSource, source.empty() ? std::string("nexum") : std::string(source));
  add(headers, kHeaderTime, format_timestamp(time));
  if (!entity_id.empty()) add(headers, kHeaderSubject, std::string(entity_id));
  add(headers, kHeaderContentType, std::string(kJsonContentType));
}

void add_cloudevents_headers(const EventSchema& e, std::vector<MessageHeader>& headers) {
  add_cloudevents_headers(e.event_id, e.event_type, e.source, e.timestamp, e.entity_id, headers);
}

void add_recorded_headers(std::string_view stream, std::int64_t version, std::int64_t position,
                          std::vector<MessageHeader>& headers) {
  add(headers, kHeaderStream, std::string(stream));
  add(headers, kHeaderStreamVersion, std::to_string(version));
  add(headers, kHeaderPosition, std::to_string(position));
}

}  // namespace

OutgoingMessage make_kafka_message(std::string_view topic, const EventSchema& event, std::optional<std::string> key) {
  OutgoingMessage message;
  message.topic = std::string(topic);
  message.key = std::move(key);
  encode_event_json(event, message.value);
  message.headers.reserve(7);
  add_cloudevents_headers(event, message.headers);
  return message;
}

OutgoingMessage make_kafka_message(const RecordedEvent& recorded) {
  OutgoingMessage message;
  message.topic = recorded.topic;
  if (!recorded.event.entity_id.empty()) message.key = recorded.event.entity_id;
  encode_event_json(recorded.event, message.value);
  message.headers.reserve(10);
  add_cloudevents_headers(recorded.event, message.headers);
  add_recorded_headers(recorded.stream, recorded.stream_version, recorded.global_position, message.headers);
  return message;
}

OutgoingMessage make_kafka_message(const EventView& e) {
  const EnvelopeView& env = e.envelope;
  OutgoingMessage message;
  message.topic = std::string(e.topic);
  if (!env.entity_id.empty()) message.key = std::string(env.entity_id);
  message.value.reserve(env.data_json.size() + env.metadata_json.size() + 256);
  encode_event_json(env, message.value);
  message.headers.reserve(10);
  add_cloudevents_headers(env.event_id, env.event_type, env.source, env.timestamp, env.entity_id, message.headers);
  add_recorded_headers(e.stream, e.stream_version, e.global_position, message.headers);
  return message;
}

std::optional<std::string_view> find_header(const std::vector<MessageHeader>& headers, std::string_view name) {
  for (const MessageHeader& h : headers) {
    if (h.name == name) return std::string_view(h.value);
  }
  return std::nullopt;
}

}  // namespace nexum
