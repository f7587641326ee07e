#include "banking/keyed_workers.h"

#include <algorithm>

#include "core/mutex.h"

namespace nexum::banking_internal {

KeyedWorkers::KeyedWorkers(std::size_t threads) {
  const std::size_t n = std::max<std::size_t>(1, threads);
  for (std::size_t i = 0; i < n; ++i) lanes_.push_back(std::make_unique<Lane>());
  for (auto& lane : lanes_) lane->thread = std::thread([l = lane.get()] { run(*l); });
}

KeyedWorkers::~KeyedWorkers() {
  for (auto& lane : lanes_) {
    {
      MutexLock lock(lane->mu);
      lane->stopping = true;
    }
    lane->cv.notify_one();
  }
  for (auto& lane : lanes_) lane->thread.join();
}

void KeyedWorkers::submit(std::string_view key, std::function<void()> task) {
  Lane& lane = *lanes_[std::hash<std::string_view>{}(key) % lanes_.size()];
  {
    MutexLock lock(lane.mu);
    lane.tasks.push_back(std::move(task));
  }
  lane.cv.notify_one();
}

void KeyedWorkers::run(Lane& lane) {
  while (true) {
    std::function<void()> task;
    {
      MutexLock lock(lane.mu);
      lane.cv.wait(lane.mu, [&]() NEXUM_REQUIRES(lane.mu) { return lane.stopping || !lane.tasks.empty(); });
      if (lane.tasks.empty()) return;  // stopping, and drained
      task = std::move(lane.tasks.front());
      lane.tasks.pop_front();
    }
    task();
  }
}

}  // namespace nexum::banking_internal
