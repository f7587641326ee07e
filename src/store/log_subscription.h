// A subscription to the global log: catch-up by scanning, then live by
// waiting for new commits. Reads from RocksDB in batches, so a slow handler
// neither blocks appenders nor buffers events in memory.
#pragma once

#include <atomic>
#include <mutex>
#include <thread>

#include "core/mutex.h"

#include "nexum/store.h"

namespace nexum::store {

class RocksEventStore;

// Thread-safe.
class LogSubscription final : public Subscription {
 public:
  LogSubscription(RocksEventStore& store, std::int64_t from_position, EventFilter filter, SubscriptionHandler handler);
  ~LogSubscription() override;

  void stop() override;
  std::int64_t position() const override { return position_.load(std::memory_order_acquire); }
  bool caught_up() const override { return caught_up_.load(std::memory_order_acquire); }
  Status status() const override;

  // Called by the store when it closes first: stops and forgets the store.
  void detach_from_store();

 private:
  void run(std::int64_t next);

  RocksEventStore* store_;  // not owned; null once detached
  const EventFilter filter_;
  const SubscriptionHandler handler_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::int64_t> position_;
  std::atomic<bool> caught_up_{false};
  mutable Mutex mu_;
  Status status_ NEXUM_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace nexum::store
