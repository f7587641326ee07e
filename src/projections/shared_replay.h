// SharedReplay: catches several projections up from ONE scan of the log,
// then hands each over to its own live subscription. Used by rebuilds and
// by start() for projections far behind: the log is read once instead of
// once per projection. Why and how: doc/projections.md.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <thread>
#include <vector>

#include "nexum/status.h"
#include "projections/projection_runner.h"
#include "store/local_state_store.h"

namespace nexum::projections {

// Thread-safe. One thread scans the log and copies its records, in chunks,
// to one applying thread per lane; each lane decodes them and feeds its
// members in log order. Runs from construction; the store and the runners
// must outlive it. A member that is stopped, restarted or rebuilt meanwhile
// drops out (its generation changes); one that fails too.
class SharedReplay {
 public:
  struct Member {
    ProjectionRunner* runner;  // not owned
    std::uint64_t generation;  // from ProjectionRunner::begin_external
  };

  // `lanes`: the members applied together on one thread each (empty lanes
  // are ignored).
  SharedReplay(EventStore& store, store::LocalStateStore& state, std::vector<std::vector<Member>> lanes);
  ~SharedReplay();  // stop()
  SharedReplay(const SharedReplay&) = delete;
  SharedReplay& operator=(const SharedReplay&) = delete;

  // Stops scanning and applying and returns once every thread has; members
  // are left to their owner (ProjectionRunner::stop() detaches them).
  void stop();
  // The scan has ended and every remaining member has been handed over.
  bool done() const { return done_.load(std::memory_order_acquire); }

 private:
  struct Chunk;
  class Lane;

  void scan();
  // Reads [from, last] into chunks sent to the lanes; `from` ends past the
  // last record read. DataLoss on a gap, the store's error on a failed
  // read; `abandoned` once no lane takes chunks any more (or stopping).
  Status read(std::int64_t& from, std::int64_t last, bool& abandoned);
  // False once no lane takes chunks any more (or stopping).
  bool send(std::shared_ptr<const Chunk> chunk);
  void apply(Lane& lane);
  void thread_done();

  EventStore& store_;
  store::LocalStateStore& state_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  std::int64_t from_ = std::numeric_limits<std::int64_t>::max();  // the scan's first position
  std::atomic<bool> stopping_{false};
  std::atomic<int> threads_left_{0};
  std::atomic<bool> done_{false};
  std::thread scanner_;
};

}  // namespace nexum::projections
