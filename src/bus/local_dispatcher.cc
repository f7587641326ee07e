#include "bus/local_dispatcher.h"

#include <exception>
#include <utility>

#include <spdlog/spdlog.h>

#include "core/mutex.h"
#include "nexum/json_codec.h"

namespace nexum::bus_internal {

Status invoke_handler(const EventHandler& handler, const EventSchema& event) noexcept {
  try {
    return handler(event);
  } catch (const std::exception& e) {
    return Status::internal(std::string("handler threw: ") + e.what());
  } catch (...) {
    return Status::internal("handler threw a non-std exception");
  }
}

LocalDispatcher::LocalDispatcher(std::size_t max_events, std::optional<std::string> log_to)
    : max_events_(max_events), log_to_(std::move(log_to)) {}

Status LocalDispatcher::subscribe(std::string_view topic, EventHandler handler) {
  if (topic.empty()) return Status::invalid_argument("topic: must not be empty");
  if (!handler) return Status::invalid_argument("handler: must not be empty");
  MutexLock lock(mu_);
  auto it = handlers_.find(topic);
  if (it == handlers_.end()) it = handlers_.emplace(std::string(topic), std::vector<HandlerPtr>{}).first;
  it->second.push_back(std::make_shared<const EventHandler>(std::move(handler)));
  return Status();
}

namespace {
std::string_view or_none(const std::string& s) { return s.empty() ? std::string_view("None") : s; }
}  // namespace

std::uint64_t LocalDispatcher::dispatch(PublishedEvent published) {
  std::lock_guard dispatch_lock(dispatch_mu_);
  std::uint64_t index = 0;
  std::vector<HandlerPtr> handlers;
  {
    MutexLock lock(mu_);
    index = stats_.published++;
    if (auto it = handlers_.find(published.topic); it != handlers_.end()) handlers = it->second;
    if (max_events_ > 0) {
      if (events_.size() >= max_events_) {
        events_.pop_front();
        ++stats_.dropped;
      }
      events_.push_back(published);
    }
  }
  if (log_to_) {
    auto logger = spdlog::get(*log_to_);
    if (!logger) logger = spdlog::default_logger();
    logger->info("EVENT: {} - {} - {}:{}", published.topic, published.event.event_type,
                 or_none(published.event.entity_type), or_none(published.event.entity_id));
  }
  for (const HandlerPtr& handler : handlers) {
    Status status = invoke_handler(*handler, published.event);
    if (!status.ok()) {
      {
        MutexLock lock(mu_);
        ++stats_.handler_failures;
      }
      spdlog::warn("event bus: handler for topic {} failed on event {} ({}): {}", published.topic,
                   published.event.event_id.to_string(), published.event.event_type, status.to_string());
    }
  }
  return index;
}

std::vector<PublishedEvent> LocalDispatcher::events(std::string_view topic) const {
  MutexLock lock(mu_);
  std::vector<PublishedEvent> out;
  for (const PublishedEvent& e : events_) {
    if (topic.empty() || e.topic == topic) out.push_back(e);
  }
  return out;
}

void LocalDispatcher::clear() {
  MutexLock lock(mu_);
  events_.clear();
}

Status publish_recorded_locally(LocalDispatcher& dispatcher, const OutgoingMessage& message,
                                const DeliveryCallback& on_delivery) {
  if (message.topic.empty()) return Status::invalid_argument("topic: must not be empty");
  Result<EventSchema> event = decode_event_json(message.value);
  if (!event) return Status::invalid_argument("value: not an event envelope: " + event.error().message());
  std::uint64_t index =
      dispatcher.dispatch(PublishedEvent{message.topic, std::move(event).value(), message.key, message.headers});
  if (on_delivery) {
    DeliveryReport report;
    report.topic = message.topic;
    report.partition = 0;
    report.offset = static_cast<std::int64_t>(index);
    on_delivery(report);
  }
  return Status();
}

EventBusStats LocalDispatcher::stats() const {
  MutexLock lock(mu_);
  return stats_;
}

}  // namespace nexum::bus_internal
