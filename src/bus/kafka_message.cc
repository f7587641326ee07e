// Event → Kafka message. Wire format: doc/wire_format.md, "Kafka message".
#include "nexum/kafka_message.h"

#include <utility>

#include "nexum/json_codec.h"

namespace nexum {
namespace {

void add(std::vector<MessageHeader>& headers, std::string_view name, std::string value) {
  headers.push_back(MessageHeader{std::string(name), std::move(value)});
}

void add_cloudevents_headers(const EventSchema& event, std::vector<MessageHeader>& headers) {
  add(headers, kHeaderSpecVersion, std::string(kCloudEventsSpecVersion));
  add(headers, kHeaderId, event.event_id.to_string());
  add(headers, kHeaderType, event.event_type);
  add(headers, kHeaderSource, event.source.empty() ? std::string("nexum") : event.source);
  add(headers, kHeaderTime, format_timestamp(event.timestamp));
  if (!event.entity_id.empty()) add(headers, kHeaderSubject, event.entity_id);
  add(headers, kHeaderContentType, std::string(kJsonContentType));
}

}  // namespace

OutgoingMessage make_kafka_message(std::string_view topic, const EventSchema& event,
                                   std::optional<std::string> key) {
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
  add(message.headers, kHeaderStream, recorded.stream);
  add(message.headers, kHeaderStreamVersion, std::to_string(recorded.stream_version));
  add(message.headers, kHeaderPosition, std::to_string(recorded.global_position));
  return message;
}

std::optional<std::string_view> find_header(const std::vector<MessageHeader>& headers,
                                            std::string_view name) {
  for (const MessageHeader& h : headers) {
    if (h.name == name) return std::string_view(h.value);
  }
  return std::nullopt;
}

}  // namespace nexum
