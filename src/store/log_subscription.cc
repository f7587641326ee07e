#include "store/log_subscription.h"

#include <pthread.h>

#include <chrono>

#include <spdlog/spdlog.h>

#include "core/mutex.h"
#include "store/rocks_event_store.h"

namespace nexum::store {

LogSubscription::LogSubscription(RocksEventStore& store, std::int64_t from_position, EventFilter filter,
                                 SubscriptionHandler handler)
    : store_(&store),
      filter_(std::move(filter)),
      handler_(std::move(handler)),
      position_(std::max<std::int64_t>(from_position, 1) - 1) {
  thread_ = std::thread([this, from_position] {
    pthread_setname_np(pthread_self(), "nexum-sub");
    run(std::max<std::int64_t>(from_position, 1));
  });
}

LogSubscription::~LogSubscription() {
  stop();
  if (store_ != nullptr) store_->forget_subscription(this);
}

void LogSubscription::stop() {
  stopping_.store(true);
  if (store_ != nullptr) store_->wake_waiters();
  if (thread_.joinable()) thread_.join();
}

void LogSubscription::detach_from_store() {
  stop();
  store_ = nullptr;
}

Status LogSubscription::status() const {
  MutexLock lock(mu_);
  return status_;
}

void LogSubscription::run(std::int64_t next) {
  const std::size_t batch = store_->options().subscription_batch;
  while (!stopping_.load()) {
    if (next > store_->last_position()) {
      caught_up_.store(true, std::memory_order_release);
      store_->wait_for_position(next, std::chrono::milliseconds(200), &stopping_);
      continue;
    }
    bool stopped = false;
    Status s = store_->scan_log(next, batch, EventFilter{}, [&](const EventView& e) -> Status {
      if (stopping_.load(std::memory_order_relaxed)) {
        stopped = true;
        return Status::unavailable("subscription stopped");
      }
      if (filter_.empty() || filter_.matches(e)) {
        NEXUM_RETURN_IF_ERROR(handler_(e));
      }
      next = e.global_position + 1;
      position_.store(e.global_position, std::memory_order_release);
      return Status();
    });
    if (stopped) return;
    if (!s.ok()) {
      spdlog::error("subscription stopped at position {}: {}", next, s.to_string());
      MutexLock lock(mu_);
      status_ = s;
      return;
    }
  }
}

}  // namespace nexum::store
