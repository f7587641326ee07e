// InMemoryEventBus: a thin shell over LocalDispatcher that keeps events.
#include <utility>

#include "bus/local_dispatcher.h"
#include "nexum/bus.h"

namespace nexum {

InMemoryEventBus::InMemoryEventBus(InMemoryEventBusOptions options)
    : dispatcher_(std::make_unique<bus_internal::LocalDispatcher>(options.max_events, std::nullopt)) {}
InMemoryEventBus::~InMemoryEventBus() = default;

Status InMemoryEventBus::subscribe(std::string_view topic, EventHandler handler) {
  return dispatcher_->subscribe(topic, std::move(handler));
}
Status InMemoryEventBus::start() {
  dispatcher_->running = true;
  return Status();
}
Status InMemoryEventBus::stop() {
  dispatcher_->running = false;
  return Status();
}
bool InMemoryEventBus::is_running() const { return dispatcher_->running; }

Status InMemoryEventBus::do_publish(std::string_view topic, const EventSchema& event, std::optional<std::string> key) {
  dispatcher_->dispatch(PublishedEvent{std::string(topic), event, std::move(key), {}});
  return Status();
}

Status InMemoryEventBus::publish_recorded(const OutgoingMessage& message, DeliveryCallback on_delivery) {
  return bus_internal::publish_recorded_locally(*dispatcher_, message, on_delivery);
}

Status InMemoryEventBus::flush(std::chrono::milliseconds /*timeout*/) { return Status(); }

std::vector<PublishedEvent> InMemoryEventBus::get_events(std::string_view topic) const {
  return dispatcher_->events(topic);
}
void InMemoryEventBus::clear_events() { dispatcher_->clear(); }
EventBusStats InMemoryEventBus::stats() const { return dispatcher_->stats(); }

}  // namespace nexum
