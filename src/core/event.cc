#include "nexum/event.h"

#include <utility>

namespace nexum {

EventSchema EventSchema::make(std::string event_type, std::string entity_type, std::string entity_id,
                              boost::json::object data, boost::json::object metadata, const Clock& clock) {
  EventSchema e;
  e.timestamp = clock.now();
  e.event_id = EventId::generate(clock);
  e.event_type = std::move(event_type);
  e.entity_type = std::move(entity_type);
  e.entity_id = std::move(entity_id);
  e.data = std::move(data);
  e.metadata = std::move(metadata);
  return e;
}

}  // namespace nexum
