// Clock: the one source of "now". Passed to constructors, never global,
// so tests can use ManualClock (LevelDB's Env idea).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace nexum {

// UTC wall-clock time with microsecond resolution: the envelope's timestamp.
using Timestamp = std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds>;

// Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp now() const = 0;
};

// The system's real-time clock. Thread-safe.
class SystemClock final : public Clock {
 public:
  Timestamp now() const override;
  // A process-wide instance, for callers that do not inject one.
  static const SystemClock& instance();
};

// A clock that only moves when told. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Timestamp start = Timestamp(std::chrono::seconds(1767225600)))  // 2026-01-01
      : micros_(start.time_since_epoch().count()) {}
  Timestamp now() const override { return Timestamp(std::chrono::microseconds(micros_.load())); }
  void set(Timestamp t) { micros_.store(t.time_since_epoch().count()); }
  void advance(std::chrono::microseconds d) { micros_.fetch_add(d.count()); }

 private:
  std::atomic<std::int64_t> micros_;
};

}  // namespace nexum
