// nexum::Mutex, MutexLock and CondVar: std::mutex and
// std::condition_variable with the clang thread-safety attributes, so that
// `NEXUM_GUARDED_BY(mu_)` on a member is checked by the clang build
// (-Wthread-safety, `./dev test --clang`). std::mutex itself carries no
// attributes in libstdc++, so a member guarded by one is never checked.
//
//   mutable Mutex mu_;
//   int count_ NEXUM_GUARDED_BY(mu_) = 0;
//   void add() { MutexLock l(mu_); ++count_; }
//   void wait_positive() {
//     MutexLock l(mu_);
//     cv_.wait(mu_, [&]() NEXUM_REQUIRES(mu_) { return count_ > 0; });
//   }
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "core/thread_annotations.h"

namespace nexum {

// Thread-safe. Not recursive.
class NEXUM_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() NEXUM_ACQUIRE() { mu_.lock(); }
  void unlock() NEXUM_RELEASE() { mu_.unlock(); }
  bool try_lock() NEXUM_TRY_ACQUIRE(true) { return mu_.try_lock(); }
  // For a function the analysis cannot follow (a callback run under the lock).
  void assert_held() const NEXUM_ASSERT_CAPABILITY(this) {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Thread-safe: exclusive (lock) or shared (lock_shared) holders.
class NEXUM_CAPABILITY("mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void lock() NEXUM_ACQUIRE() { mu_.lock(); }
  void unlock() NEXUM_RELEASE() { mu_.unlock(); }
  void lock_shared() NEXUM_ACQUIRE_SHARED() { mu_.lock_shared(); }
  void unlock_shared() NEXUM_RELEASE_SHARED() { mu_.unlock_shared(); }

 private:
  std::shared_mutex mu_;
};

// Holds a SharedMutex shared / exclusively for its scope.
class NEXUM_SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex& mu) NEXUM_ACQUIRE_SHARED(mu) : mu_(mu) { mu_.lock_shared(); }
  ~ReaderLock() NEXUM_RELEASE() { mu_.unlock_shared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex& mu_;
};
class NEXUM_SCOPED_CAPABILITY WriterLock {
 public:
  explicit WriterLock(SharedMutex& mu) NEXUM_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~WriterLock() NEXUM_RELEASE() { mu_.unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex& mu_;
};

// Holds `mu` for its scope; unlock()/lock() release and retake it inside.
class NEXUM_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) NEXUM_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() NEXUM_RELEASE() {
    if (held_) mu_.unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void unlock() NEXUM_RELEASE() {
    mu_.unlock();
    held_ = false;
  }
  void lock() NEXUM_ACQUIRE() {
    mu_.lock();
    held_ = true;
  }

 private:
  Mutex& mu_;
  bool held_ = true;
};

// A condition variable used with a nexum::Mutex the caller holds.
//
// A predicate reads guarded members, and the analysis checks a lambda's body
// as a function of its own: annotate it with the mutex it runs under,
//   cv_.wait(mu_, [&]() NEXUM_REQUIRES(mu_) { return !queue_.empty(); });
// The waits themselves require `mu`; the predicate is only called under it.
class CondVar {
 public:
  // Releases `mu`, waits for a notify (or a spurious wake-up), retakes `mu`.
  void wait(Mutex& mu) NEXUM_REQUIRES(mu) {
    std::unique_lock<std::mutex> l(mu.mu_, std::adopt_lock);
    cv_.wait(l);
    l.release();
  }
  // Waits until pred() holds.
  template <class Pred>
  void wait(Mutex& mu, Pred pred) NEXUM_REQUIRES(mu) NEXUM_NO_THREAD_SAFETY_ANALYSIS {
    while (!pred()) wait(mu);
  }
  // As wait(); false when `deadline` passed first.
  template <class Clock, class Duration>
  bool wait_until(Mutex& mu, const std::chrono::time_point<Clock, Duration>& deadline) NEXUM_REQUIRES(mu) {
    std::unique_lock<std::mutex> l(mu.mu_, std::adopt_lock);
    const bool woken = cv_.wait_until(l, deadline) == std::cv_status::no_timeout;
    l.release();
    return woken;
  }
  // Waits until pred() holds or `deadline` passes; returns pred().
  template <class Clock, class Duration, class Pred>
  bool wait_until(Mutex& mu, const std::chrono::time_point<Clock, Duration>& deadline, Pred pred)
      NEXUM_REQUIRES(mu) NEXUM_NO_THREAD_SAFETY_ANALYSIS {
    while (!pred()) {
      if (!wait_until(mu, deadline)) return pred();
    }
    return true;
  }
  template <class Rep, class Period>
  bool wait_for(Mutex& mu, const std::chrono::duration<Rep, Period>& timeout) NEXUM_REQUIRES(mu) {
    return wait_until(mu, std::chrono::steady_clock::now() + timeout);
  }
  template <class Rep, class Period, class Pred>
  bool wait_for(Mutex& mu, const std::chrono::duration<Rep, Period>& timeout, Pred pred) NEXUM_REQUIRES(mu) {
    return wait_until(mu, std::chrono::steady_clock::now() + timeout, std::move(pred));
  }
  void notify_one() { cv_.notify_one(); }
  void notify_all() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace nexum
