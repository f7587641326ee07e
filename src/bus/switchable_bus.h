// SwitchableBus: the stable EventBus front that the command handler and the
// saga engine hold, forwarding to whichever bus the service runs now. Its
// subscriptions are kept here, once, and applied to each new bus on
// install(), so a bus switch never stacks a second set of handlers (the
// seed's /kafka/config bug) and the old bus, stopped and destroyed, keeps none.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/mutex.h"

#include "nexum/bus.h"

namespace nexum::bus_internal {

// Thread-safe. Calls never hold the lock while inside the target bus, so a
// handler may publish re-entrantly and a switch never waits for a publish.
class SwitchableBus final : public EventBus {
 public:
  // `consumer_group`: Kafka subscriptions use group "{consumer_group}_{topic}".
  explicit SwitchableBus(std::string consumer_group) : consumer_group_(std::move(consumer_group)) {}

  // Applies every subscription to `next` (which may already be running: a
  // KafkaEventBus starts the consumer at once) and makes it current.
  // `apply_subscriptions` false: the subscriptions are kept but not applied
  // to `next` (nor are later ones), because something else consumes those
  // topics from it (the service's Kafka command intake).
  // Returns the previous bus, untouched: the caller stops it (after the
  // relay has left it) and lets it go. On a failed subscribe nothing changes.
  Result<std::shared_ptr<EventBus>> install(std::shared_ptr<EventBus> next, std::string consumer_group,
                                            bool apply_subscriptions = true);
  // The current bus (nullptr before the first install).
  std::shared_ptr<EventBus> current() const;
  // Subscriptions registered here (one per subscribe() call, ever).
  std::size_t subscription_count() const;

  // A front whose target changes promises nothing beyond the interface: no
  // capabilities() (callers that need the current bus's ask current()).
  EventBusKind kind() const override { return EventBusKind::kSwitchable; }
  // The current bus's counters (zero before the first install).
  EventBusStats stats() const override;
  // The current bus's (Unavailable before the first install).
  Status wait_until_assigned(std::chrono::milliseconds timeout) const override;
  // Kept here and applied to every bus installed, as a member of group
  // "{consumer_group}_{topic}" where the bus has consumer groups.
  Status subscribe(std::string_view topic, EventHandler handler) override;
  Status start() override;
  Status stop() override;
  bool is_running() const override;
  Status publish_recorded(const OutgoingMessage& message, DeliveryCallback on_delivery) override;
  Status flush(std::chrono::milliseconds timeout) override;

 protected:
  Status do_publish(std::string_view topic, const EventSchema& event, std::optional<std::string> key) override;
  Status do_publish_batch(std::string_view topic, const std::vector<EventSchema>& events,
                          const std::vector<std::optional<std::string>>& keys) override;

 private:
  struct Sub {
    std::string topic;
    EventHandler handler;
  };
  Status apply(EventBus& bus, const Sub& sub, const std::string& group) const;

  mutable Mutex mu_;
  std::string consumer_group_ NEXUM_GUARDED_BY(mu_);
  std::shared_ptr<EventBus> current_ NEXUM_GUARDED_BY(mu_);
  bool apply_to_current_ NEXUM_GUARDED_BY(mu_) = true;
  std::vector<Sub> subs_ NEXUM_GUARDED_BY(mu_);
  Mutex install_mu_;  // serializes install() and subscribe()
};

}  // namespace nexum::bus_internal
