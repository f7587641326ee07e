// The KafkaEventBus's one long-lived producer and its poll thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "core/mutex.h"
#include "nexum/bus.h"
#include "nexum/kafka_bus.h"

namespace nexum::kafka_internal {

// EventBusStats as atomics, shared by the producer and the consumers.
// Thread-safe.
struct KafkaCounters {
  std::atomic<std::uint64_t> produced{0}, delivered{0}, delivery_failures{0}, queue_full_waits{0}, consumed{0},
      handled{0}, handler_retries{0}, dead_lettered{0}, undecodable{0}, commits{0}, commit_failures{0},
      producer_restarts{0};
  EventBusStats snapshot() const;
};

// One idempotent producer. A dedicated poll thread serves delivery reports
// and errors, so every DeliveryCallback runs on that thread. A full local
// queue makes produce() wait for room (the poll thread wakes it) rather than
// drop. A fatal error (the idempotent producer's state lost: sequence
// desynchronized, producer id unknown or fenced) ends the handle for good;
// the poll thread then replaces it: what was queued or in flight is purged
// (reported Unavailable, possibly persisted: the caller sends it again),
// the handle destroyed and a new one created; produce() answers Unavailable
// meanwhile. start()/stop() may be repeated. Thread-safe.
class KafkaProducer {
 public:
  KafkaProducer(const KafkaEventBusOptions& options, KafkaCounters& counters);
  ~KafkaProducer();  // stop()
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  Status start();
  // Drains outstanding messages for up to options.stop_drain_timeout, purges
  // the rest (their callbacks report Unavailable), then destroys the handle.
  void stop();

  // See EventBus::publish_recorded.
  Status produce(const OutgoingMessage& message, DeliveryCallback on_delivery);

  // Produces `messages` and waits for all their reports; returns the first
  // failure. Gives up with Unavailable when `abort` becomes true (the
  // messages may still be delivered later).
  Status produce_and_wait(const std::vector<OutgoingMessage>& messages, const std::atomic<bool>* abort = nullptr);

  // See EventBus::flush.
  Status flush(std::chrono::milliseconds timeout);
  std::uint64_t pending() const { return pending_.load(); }

 private:
  // What rides along with each message as its librdkafka opaque.
  struct PendingDelivery {
    DeliveryCallback callback;
  };
  // A PendingDelivery from the spares (or a new one) holding `callback`.
  std::unique_ptr<PendingDelivery> take_pending(DeliveryCallback callback);
  // Keeps `pending` as a spare (its callback destroyed), up to kMaxSpares.
  void give_back(std::unique_ptr<PendingDelivery> pending);

  static void on_delivery_report(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);
  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  void poll_loop();
  // Poll thread, after a fatal error: purge, destroy, create anew.
  void replace_dead_handle();
  // Creates rk_ and the warm topic handles.
  Status create_handle_locked() NEXUM_REQUIRES(handle_mu_);
  void wake_waiters();
  // REQUIRES: the poll thread is stopped.
  void purge_and_serve_locked() NEXUM_REQUIRES(handle_mu_);

  const KafkaEventBusOptions& options_;
  KafkaCounters& counters_;

  // Shared while producing, exclusive while creating or destroying rk_.
  mutable SharedMutex handle_mu_;
  rd_kafka_t* rk_ NEXUM_GUARDED_BY(handle_mu_) = nullptr;
  // Handles of options_.warm_topics, held so librdkafka keeps their metadata.
  std::vector<rd_kafka_topic_t*> warm_ NEXUM_GUARDED_BY(handle_mu_);
  std::atomic<bool> accepting_{false};  // produce() takes messages.
  std::atomic<bool> fatal_{false};      // The handle hit a fatal error; the poll thread replaces it.
  std::atomic<bool> poll_stop_{false};
  std::thread poll_thread_;  // Only start()/stop() touch it (serialized by the bus).

  std::atomic<std::uint64_t> pending_{0};  // Taken, not yet reported.
  // Spare PendingDelivery objects: one is taken on the producing thread and
  // given back on the delivery thread per message, so reusing them spares
  // the allocator a cross-thread free per message.
  static constexpr std::size_t kMaxSpares = 65536;
  Mutex spares_mu_;
  std::vector<std::unique_ptr<PendingDelivery>> spares_ NEXUM_GUARDED_BY(spares_mu_);
  Mutex wake_mu_;    // Pairs with wake_cv_.
  CondVar wake_cv_;  // Notified after reports are served.
};

}  // namespace nexum::kafka_internal
