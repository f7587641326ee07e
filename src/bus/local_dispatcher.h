// The shared core of InMemoryEventBus and LogEventBus: subscriber table,
// bounded event list, inline dispatch with failures logged and counted.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/mutex.h"
#include "nexum/bus.h"

namespace nexum::bus_internal {

// Calls `handler`, turning an exception into Internal. Never throws.
Status invoke_handler(const EventHandler& handler, const EventSchema& event) noexcept;

// Thread-safe. Dispatch is serialized by a recursive mutex so that
// subscribers see events in publish order and may publish re-entrantly.
class LocalDispatcher {
 public:
  // max_events: events kept (0: keep none). log_to: logger name for the
  // EVENT line, nullopt: no line.
  LocalDispatcher(std::size_t max_events, std::optional<std::string> log_to);

  Status subscribe(std::string_view topic, EventHandler handler);

  // Stores (if keeping), logs (if logging), then calls the topic's handlers.
  // Returns the event's index among all events ever accepted (0-based).
  std::uint64_t dispatch(PublishedEvent published);

  std::vector<PublishedEvent> events(std::string_view topic) const;
  void clear();
  EventBusStats stats() const;

  std::atomic<bool> running{false};

 private:
  using HandlerPtr = std::shared_ptr<const EventHandler>;

  const std::size_t max_events_;
  const std::optional<std::string> log_to_;
  std::recursive_mutex dispatch_mu_;  // Held across one event's dispatch.
  mutable Mutex mu_;                  // Guards the state below; never held while a handler runs.
  std::map<std::string, std::vector<HandlerPtr>, std::less<>> handlers_ NEXUM_GUARDED_BY(mu_);
  std::deque<PublishedEvent> events_ NEXUM_GUARDED_BY(mu_);
  EventBusStats stats_ NEXUM_GUARDED_BY(mu_);
};

// The publish_recorded() of the local buses: decode the value, dispatch,
// confirm synchronously (offset = the dispatch index).
Status publish_recorded_locally(LocalDispatcher& dispatcher, const OutgoingMessage& message,
                                const DeliveryCallback& on_delivery);

}  // namespace nexum::bus_internal
