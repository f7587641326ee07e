#include "projections/shared_replay.h"

#include <pthread.h>

#include <algorithm>
#include <limits>

#include <spdlog/spdlog.h>

namespace nexum::projections {

SharedReplay::SharedReplay(store::RocksEventStore& store, std::vector<Member> members)
    : store_(store), members_(std::move(members)) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "nexum-replay");
    run();
    done_.store(true, std::memory_order_release);
  });
}

SharedReplay::~SharedReplay() { stop(); }

void SharedReplay::stop() {
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
}

void SharedReplay::run() {
  std::int64_t from = std::numeric_limits<std::int64_t>::max();
  for (const Member& m : members_) from = std::min(from, m.runner->checkpoint() + 1);
  std::vector<Member> active = members_;
  // Scan to the end of the log as it is when each pass starts; appends
  // made meanwhile are read by the next pass (or, once a pass finds
  // nothing new, by the members' own subscriptions).
  while (!active.empty() && !stopping_.load()) {
    if (from > store_.last_position()) break;
    bool dropped = false;
    Status s = store_.scan_log(from, SIZE_MAX, EventFilter{}, [&](const EventView& e) -> Status {
      if (stopping_.load(std::memory_order_relaxed)) return Status::unavailable("replay stopped");
      for (Member& m : active) {
        if (m.runner != nullptr && !m.runner->feed(e, m.generation)) {
          m.runner = nullptr;
          dropped = true;
        }
      }
      from = e.global_position + 1;
      if (dropped) {
        std::erase_if(active, [](const Member& m) { return m.runner == nullptr; });
        dropped = false;
        if (active.empty()) return Status::unavailable("no projection left to feed");
      }
      return Status();
    });
    if (stopping_.load() || active.empty()) return;
    if (!s.ok()) {
      spdlog::error("shared replay stopped at position {}: {}", from, s.to_string());
      for (Member& m : active) m.runner->fail_external(m.generation, from, s);
      return;
    }
  }
  if (stopping_.load()) return;
  for (Member& m : active) m.runner->end_external(m.generation);
}

}  // namespace nexum::projections
