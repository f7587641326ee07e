// EventBus's non-virtual entry points (the argument checks every bus shares)
// and the defaults of buses without consumer groups.
#include <utility>

#include "nexum/bus.h"

namespace nexum {

std::string_view event_bus_kind_name(EventBusKind kind) {
  switch (kind) {
    case EventBusKind::kInMemory: return "InMemoryEventBus";
    case EventBusKind::kLog: return "LogEventBus";
    case EventBusKind::kKafka: return "KafkaEventBus";
    case EventBusKind::kSwitchable: return "SwitchableBus";
    case EventBusKind::kOther: return "EventBus";
  }
  return "EventBus";
}

Status EventBus::subscribe_in_group(std::string_view topic, EventHandler handler, const std::string& /*group*/) {
  return subscribe(topic, std::move(handler));
}

Status EventBus::wait_until_assigned(std::chrono::milliseconds /*timeout*/) const { return Status(); }

Status EventBus::publish(std::string_view topic, const EventSchema& event, std::optional<std::string> key) {
  if (topic.empty()) return Status::invalid_argument("topic: must not be empty");
  return do_publish(topic, event, std::move(key));
}

Status EventBus::publish_batch(std::string_view topic, const std::vector<EventSchema>& events,
                               const std::vector<std::string>& keys) {
  if (topic.empty()) return Status::invalid_argument("topic: must not be empty");
  if (!keys.empty() && keys.size() != events.size()) {
    return Status::invalid_argument("keys: " + std::to_string(keys.size()) + " keys for " +
                                    std::to_string(events.size()) + " events; pass one key per event or none");
  }
  std::vector<std::optional<std::string>> per_event(events.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (!keys[i].empty()) per_event[i] = keys[i];
  }
  return do_publish_batch(topic, events, per_event);
}

Status EventBus::do_publish_batch(std::string_view topic, const std::vector<EventSchema>& events,
                                  const std::vector<std::optional<std::string>>& keys) {
  for (std::size_t i = 0; i < events.size(); ++i) {
    NEXUM_RETURN_IF_ERROR(do_publish(topic, events[i], keys[i]));
  }
  return Status();
}

}  // namespace nexum
