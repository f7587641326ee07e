// KeyedWorkers: a fixed set of threads where tasks with the same key run on
// the same thread, in submission order (what a Kafka partition gives a
// consumer, for buses that have no partitions).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "core/mutex.h"

namespace nexum::banking_internal {

// Thread-safe. Queues are unbounded: submit() never waits, so a caller that
// holds a lock a task needs cannot deadlock against the workers.
class KeyedWorkers {
 public:
  explicit KeyedWorkers(std::size_t threads);
  // Runs every task already submitted, then joins.
  ~KeyedWorkers();
  KeyedWorkers(const KeyedWorkers&) = delete;
  KeyedWorkers& operator=(const KeyedWorkers&) = delete;

  void submit(std::string_view key, std::function<void()> task);

 private:
  struct Lane {
    Mutex mu;
    CondVar cv;
    std::deque<std::function<void()>> tasks NEXUM_GUARDED_BY(mu);
    bool stopping NEXUM_GUARDED_BY(mu) = false;
    std::thread thread;
  };
  static void run(Lane& lane);

  std::vector<std::unique_ptr<Lane>> lanes_;
};

}  // namespace nexum::banking_internal
