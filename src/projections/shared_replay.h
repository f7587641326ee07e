// SharedReplay: catches several projections up from ONE scan of the log,
// then hands each over to its own live subscription. Used by rebuilds and
// by start() for projections far behind: the log is read and decoded once
// instead of once per projection. Why: doc/projections.md.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "projections/projection_runner.h"
#include "store/rocks_event_store.h"

namespace nexum::projections {

// Thread-safe. Runs on its own thread from construction; the store and the
// runners must outlive it. A member that is stopped, restarted or rebuilt
// meanwhile drops out (its generation changes); one that fails too.
class SharedReplay {
 public:
  struct Member {
    ProjectionRunner* runner;  // not owned
    std::uint64_t generation;  // from ProjectionRunner::begin_external
  };

  SharedReplay(store::RocksEventStore& store, std::vector<Member> members);
  ~SharedReplay();  // stop()
  SharedReplay(const SharedReplay&) = delete;
  SharedReplay& operator=(const SharedReplay&) = delete;

  // Stops scanning and returns once the thread has; members are left to
  // their owner (ProjectionRunner::stop() detaches them).
  void stop();
  // The scan has ended and every remaining member has been handed over.
  bool done() const { return done_.load(std::memory_order_acquire); }

 private:
  void run();

  store::RocksEventStore& store_;
  std::vector<Member> members_;  // owned by the thread while it runs
  std::atomic<bool> stopping_{false};
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace nexum::projections
