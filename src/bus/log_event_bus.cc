// LogEventBus: a thin shell over LocalDispatcher that logs and keeps nothing.
#include <utility>

#include "bus/local_dispatcher.h"
#include "nexum/bus.h"

namespace nexum {

LogEventBus::LogEventBus(LogEventBusOptions options)
    : logger_name_(std::move(options.logger_name)),
      dispatcher_(std::make_unique<bus_internal::LocalDispatcher>(0, logger_name_)) {}
LogEventBus::~LogEventBus() = default;

Status LogEventBus::subscribe(std::string_view topic, EventHandler handler) {
  return dispatcher_->subscribe(topic, std::move(handler));
}
Status LogEventBus::start() {
  dispatcher_->running = true;
  return Status();
}
Status LogEventBus::stop() {
  dispatcher_->running = false;
  return Status();
}
bool LogEventBus::is_running() const { return dispatcher_->running; }

Status LogEventBus::do_publish(std::string_view topic, const EventSchema& event, std::optional<std::string> key) {
  dispatcher_->dispatch(PublishedEvent{std::string(topic), event, std::move(key), {}});
  return Status();
}

Status LogEventBus::publish_recorded(const OutgoingMessage& message, DeliveryCallback on_delivery) {
  return bus_internal::publish_recorded_locally(*dispatcher_, message, on_delivery);
}

Status LogEventBus::flush(std::chrono::milliseconds /*timeout*/) { return Status(); }
EventBusStats LogEventBus::stats() const { return dispatcher_->stats(); }

}  // namespace nexum
