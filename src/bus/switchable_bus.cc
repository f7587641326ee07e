#include "bus/switchable_bus.h"

#include "core/mutex.h"

namespace nexum::bus_internal {

Status SwitchableBus::apply(EventBus& bus, const Sub& sub, const std::string& group) const {
  return bus.subscribe_in_group(sub.topic, sub.handler, group + "_" + sub.topic);
}

Result<std::shared_ptr<EventBus>> SwitchableBus::install(std::shared_ptr<EventBus> next, std::string consumer_group,
                                                         bool apply_subscriptions) {
  if (!next) return Status::invalid_argument("bus: must not be null");
  MutexLock install_lock(install_mu_);
  std::vector<Sub> subs;
  {
    MutexLock lock(mu_);
    subs = subs_;
  }
  if (apply_subscriptions) {
    for (const Sub& s : subs) NEXUM_RETURN_IF_ERROR(apply(*next, s, consumer_group));
  }
  MutexLock lock(mu_);
  consumer_group_ = std::move(consumer_group);
  apply_to_current_ = apply_subscriptions;
  std::shared_ptr<EventBus> old = std::move(current_);
  current_ = std::move(next);
  return old;
}

std::shared_ptr<EventBus> SwitchableBus::current() const {
  MutexLock lock(mu_);
  return current_;
}

std::size_t SwitchableBus::subscription_count() const {
  MutexLock lock(mu_);
  return subs_.size();
}

Status SwitchableBus::subscribe(std::string_view topic, EventHandler handler) {
  if (topic.empty()) return Status::invalid_argument("topic: must not be empty");
  if (!handler) return Status::invalid_argument("handler: must not be empty");
  MutexLock install_lock(install_mu_);
  Sub sub{std::string(topic), std::move(handler)};
  std::shared_ptr<EventBus> bus;
  std::string group;
  {
    MutexLock lock(mu_);
    if (apply_to_current_) bus = current_;
    group = consumer_group_;
  }
  if (bus) NEXUM_RETURN_IF_ERROR(apply(*bus, sub, group));
  MutexLock lock(mu_);
  subs_.push_back(std::move(sub));
  return Status();
}

Status SwitchableBus::start() {
  auto bus = current();
  return bus ? bus->start() : Status::unavailable("no bus configured");
}

Status SwitchableBus::stop() {
  auto bus = current();
  return bus ? bus->stop() : Status();
}

bool SwitchableBus::is_running() const {
  auto bus = current();
  return bus && bus->is_running();
}

EventBusStats SwitchableBus::stats() const {
  auto bus = current();
  return bus ? bus->stats() : EventBusStats{};
}

Status SwitchableBus::wait_until_assigned(std::chrono::milliseconds timeout) const {
  auto bus = current();
  return bus ? bus->wait_until_assigned(timeout) : Status::unavailable("no bus configured");
}

Status SwitchableBus::publish_recorded(const OutgoingMessage& message, DeliveryCallback on_delivery) {
  // The shared_ptr keeps a bus being switched away alive until this returns;
  // a stopped bus answers Unavailable and the caller retries on the new one.
  auto bus = current();
  if (!bus) return Status::unavailable("no bus configured");
  return bus->publish_recorded(message, std::move(on_delivery));
}

Status SwitchableBus::flush(std::chrono::milliseconds timeout) {
  auto bus = current();
  return bus ? bus->flush(timeout) : Status();
}

Status SwitchableBus::do_publish(std::string_view topic, const EventSchema& event, std::optional<std::string> key) {
  auto bus = current();
  if (!bus) return Status::unavailable("no bus configured");
  return bus->publish(topic, event, std::move(key));
}

Status SwitchableBus::do_publish_batch(std::string_view topic, const std::vector<EventSchema>& events,
                                       const std::vector<std::optional<std::string>>& keys) {
  auto bus = current();
  if (!bus) return Status::unavailable("no bus configured");
  std::vector<std::string> plain;
  plain.reserve(keys.size());
  for (const auto& k : keys) plain.push_back(k.value_or(std::string()));
  return bus->publish_batch(topic, events, plain);
}

}  // namespace nexum::bus_internal
