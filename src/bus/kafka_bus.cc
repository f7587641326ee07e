// KafkaEventBus: the producer plus one consumer per subscriber.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "bus/kafka_config.h"
#include "bus/kafka_consumer.h"
#include "bus/kafka_producer.h"
#include "core/mutex.h"
#include "nexum/kafka_bus.h"
#include "nexum/kafka_message.h"

namespace nexum {
namespace kafka_internal {

// Owns the options, counters, producer and subscriptions. Thread-safe:
// mu_ serializes start/stop/subscribe; publishing goes straight to the
// (thread-safe) producer.
class KafkaBusCore {
 public:
  explicit KafkaBusCore(KafkaEventBusOptions options) : options_(std::move(options)), producer_(options_, counters_) {}

  const KafkaEventBusOptions& options() const { return options_; }
  KafkaProducer& producer() { return producer_; }
  KafkaCounters& counters() { return counters_; }

  Status subscribe(std::string_view topic, EventHandler handler, KafkaSubscriptionOptions sub) {
    if (topic.empty()) return Status::invalid_argument("topic: must not be empty");
    if (!handler) return Status::invalid_argument("handler: must not be empty");
    MutexLock lock(mu_);
    Subscription s;
    s.topic = std::string(topic);
    int n = ++subscribers_per_topic_[s.topic];
    if (!sub.group_id.empty()) {
      s.group_id = std::move(sub.group_id);
    } else {
      s.group_id = options_.client_id + "_" + s.topic;
      if (n > 1) s.group_id += "_" + std::to_string(n);
    }
    if (!options_.instance_id.empty()) {
      // One static member per group and instance id, or the broker fences one of them.
      for (const Subscription& other : subscriptions_) {
        if (other.group_id == s.group_id) {
          --subscribers_per_topic_[s.topic];
          return Status::invalid_argument("group_id: '" + s.group_id +
                                          "' already has a consumer on this bus; with instance_id (static "
                                          "membership) each subscription needs a group of its own");
        }
      }
    }
    s.auto_offset_reset = sub.auto_offset_reset.value_or(options_.auto_offset_reset);
    s.handler = std::move(handler);
    subscriptions_.push_back(std::move(s));
    if (running_) {
      Status status = start_consumer(subscriptions_.back());
      if (!status.ok()) {
        subscriptions_.pop_back();
        --subscribers_per_topic_[std::string(topic)];
        return status;
      }
    }
    return Status();
  }

  Status start() {
    MutexLock lock(mu_);
    if (running_) return Status();
    NEXUM_RETURN_IF_ERROR(producer_.start());
    for (Subscription& s : subscriptions_) {
      Status status = start_consumer(s);
      if (!status.ok()) {
        stop_locked();
        return status;
      }
    }
    running_ = true;
    return Status();
  }

  Status stop() {
    MutexLock lock(mu_);
    stop_locked();
    return Status();
  }

  bool is_running() const {
    MutexLock lock(mu_);
    return running_;
  }

  // "" when every consumer has its assignment; else what is waited for.
  std::string unassigned() const {
    MutexLock lock(mu_);
    std::string groups;
    std::int64_t longest_ms = 0;
    int waiting = 0;
    for (const Subscription& s : subscriptions_) {
      if (s.consumer && s.consumer->assigned()) continue;
      ++waiting;
      if (!groups.empty()) groups += ", ";
      groups += s.group_id;
      if (s.consumer) longest_ms = std::max<std::int64_t>(longest_ms, s.consumer->waiting_for_assignment().count());
    }
    if (waiting == 0) return "";
    return std::to_string(waiting) + " of " + std::to_string(subscriptions_.size()) +
           " consumer(s) wait for the group coordinator to assign their partitions (for " +
           std::to_string(longest_ms / 1000) + "." + std::to_string(longest_ms % 1000 / 100) +
           " s; a rebalance waits for every member the group still lists, up to its session.timeout.ms): " + groups;
  }

 private:
  struct Subscription {
    std::string topic;
    std::string group_id;
    std::string auto_offset_reset;
    EventHandler handler;
    std::unique_ptr<KafkaConsumer> consumer;  // While running.
  };

  Status start_consumer(Subscription& s) {
    auto consumer = std::make_unique<KafkaConsumer>(options_, s.topic, s.group_id, s.auto_offset_reset, s.handler,
                                                    producer_, counters_);
    NEXUM_RETURN_IF_ERROR(consumer->start());
    s.consumer = std::move(consumer);
    return Status();
  }

  void stop_locked() NEXUM_REQUIRES(mu_) {
    // Consumers first: they may still be writing to the DLQ via the producer.
    for (Subscription& s : subscriptions_) {
      if (s.consumer) s.consumer->stop();
      s.consumer.reset();
    }
    producer_.stop();
    running_ = false;
  }

  const KafkaEventBusOptions options_;
  KafkaCounters counters_;
  KafkaProducer producer_;
  mutable Mutex mu_;
  std::vector<Subscription> subscriptions_ NEXUM_GUARDED_BY(mu_);
  std::map<std::string, int> subscribers_per_topic_ NEXUM_GUARDED_BY(mu_);
  bool running_ NEXUM_GUARDED_BY(mu_) = false;
};

}  // namespace kafka_internal

Result<std::unique_ptr<KafkaEventBus>> KafkaEventBus::create(KafkaEventBusOptions options) {
  // Validate every property now, so a typo fails here, not at start().
  NEXUM_RETURN_IF_ERROR(kafka_internal::make_producer_conf(options).status());
  NEXUM_RETURN_IF_ERROR(
      kafka_internal::make_consumer_conf(options, options.client_id + "_validate", options.auto_offset_reset).status());
  if (options.dlq_topic.empty()) return Status::invalid_argument("dlq_topic: must not be empty");
  if (options.instance_id.size() > 200 ||
      options.instance_id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
          std::string::npos) {
    return Status::invalid_argument("instance_id: at most 200 of [a-zA-Z0-9._-]");
  }
  if (options.max_handler_retries < 0) return Status::invalid_argument("max_handler_retries: must be >= 0");
  if (options.retry_backoff.count() < 0 || options.retry_backoff_max < options.retry_backoff) {
    return Status::invalid_argument("retry_backoff: must be >= 0 and <= retry_backoff_max");
  }
  return std::unique_ptr<KafkaEventBus>(
      new KafkaEventBus(std::make_unique<kafka_internal::KafkaBusCore>(std::move(options))));
}

KafkaEventBus::KafkaEventBus(std::unique_ptr<kafka_internal::KafkaBusCore> core) : core_(std::move(core)) {}

KafkaEventBus::~KafkaEventBus() { core_->stop().ignore_error(); }

Status KafkaEventBus::subscribe(std::string_view topic, EventHandler handler) {
  return core_->subscribe(topic, std::move(handler), KafkaSubscriptionOptions{});
}

Status KafkaEventBus::subscribe(std::string_view topic, EventHandler handler, KafkaSubscriptionOptions options) {
  return core_->subscribe(topic, std::move(handler), std::move(options));
}

Status KafkaEventBus::subscribe_in_group(std::string_view topic, EventHandler handler, const std::string& group) {
  KafkaSubscriptionOptions options;
  options.group_id = group;
  return core_->subscribe(topic, std::move(handler), std::move(options));
}

EventBusCapabilities KafkaEventBus::capabilities() const {
  return EventBusCapabilities{.consumer_groups = true, .dead_letter_topic = true};
}

Status KafkaEventBus::start() { return core_->start(); }
Status KafkaEventBus::stop() { return core_->stop(); }
bool KafkaEventBus::is_running() const { return core_->is_running(); }

Status KafkaEventBus::publish_recorded(const OutgoingMessage& message, DeliveryCallback on_delivery) {
  return core_->producer().produce(message, std::move(on_delivery));
}

Status KafkaEventBus::flush(std::chrono::milliseconds timeout) { return core_->producer().flush(timeout); }

Status KafkaEventBus::do_publish(std::string_view topic, const EventSchema& event, std::optional<std::string> key) {
  return core_->producer().produce_and_wait({make_kafka_message(topic, event, std::move(key))});
}

Status KafkaEventBus::do_publish_batch(std::string_view topic, const std::vector<EventSchema>& events,
                                       const std::vector<std::optional<std::string>>& keys) {
  std::vector<OutgoingMessage> messages;
  messages.reserve(events.size());
  for (std::size_t i = 0; i < events.size(); ++i) messages.push_back(make_kafka_message(topic, events[i], keys[i]));
  return core_->producer().produce_and_wait(messages);
}

Status KafkaEventBus::wait_until_assigned(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::string waiting = core_->unassigned();
    if (waiting.empty()) return Status();
    if (std::chrono::steady_clock::now() >= deadline) return Status::unavailable(waiting);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::uint64_t KafkaEventBus::pending_deliveries() const { return core_->producer().pending(); }

EventBusStats KafkaEventBus::stats() const { return core_->counters().snapshot(); }

}  // namespace nexum
