// ProjectionRunner: one projection driven by its own store subscription.
//
// Events arrive on the runner's own subscription thread, or — while it
// catches up together with others (SharedReplay) — from a shared scan of
// the log; either way they are applied to a StagedReadModel and commit in
// batches: the staged values, parked-event records and the checkpoint go
// into one rocksdb::WriteBatch (exactly-once effect).
// Guarantees: doc/projections.md.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/mutex.h"
#include "nexum/projection.h"
#include "nexum/projection_engine.h"
#include "projections/staged_read_model.h"
#include "store/local_state_store.h"

namespace nexum::projections {

// Thread-safe. Lock order: control_mu_ → mu_ → status_mu_. The store must
// outlive the runner.
class ProjectionRunner {
 public:
  ProjectionRunner(EventStore& store, store::LocalStateStore& state, std::unique_ptr<Projection> projection,
                   const ProjectionEngineOptions& options);
  ~ProjectionRunner();  // stop()
  ProjectionRunner(const ProjectionRunner&) = delete;
  ProjectionRunner& operator=(const ProjectionRunner&) = delete;

  // Reads the durable state (checkpoint, error record, parked count).
  Status load();
  // Subscribes from checkpoint + 1. OK if already running.
  Status start();
  // Commits what was applied, unsubscribes or detaches from a shared
  // replay. Idempotent.
  void stop();
  Status restart();
  // Stops, then drops keys, parked events and error record, resets the
  // checkpoint to 0 (one write) and calls Projection::reset(). Stays
  // stopped (marked rebuilding) until begin_external() or start().
  Status reset_for_rebuild();

  // ---- being fed by a SharedReplay ----
  // From stopped to fed externally; returns the generation to pass to
  // feed()/end_external(). Conflict when not stopped.
  Result<std::uint64_t> begin_external(bool rebuilding);
  // Applies `e` (skipped when at or before the checkpoint). False once the
  // runner no longer takes events from this feeder: it was stopped,
  // restarted or rebuilt (another generation), or it failed.
  bool feed(const EventView& e, std::uint64_t generation);
  // The feeder failed (e.g. DataLoss in the log): enter the error state.
  void fail_external(std::uint64_t generation, std::int64_t position, const Status& why);
  // Commits and continues on its own subscription from checkpoint + 1.
  void end_external(std::uint64_t generation);

  const std::string& name() const { return name_; }
  std::int64_t checkpoint() const { return checkpoint_.load(std::memory_order_acquire); }
  ProjectionStatus status() const;
  // Until the checkpoint reaches `position`, the runner fails, or `deadline`.
  bool wait_for(std::int64_t position, std::chrono::steady_clock::time_point deadline);

  Result<std::vector<ParkedEvent>> parked(std::size_t limit) const;
  Status retry_parked(std::int64_t position);

 private:
  struct FailedEvent {
    std::int64_t position;
    std::string event_type;
    std::string stream;
    std::string reason;
  };

  enum class Mode : std::uint8_t { kIdle, kSubscribed, kExternal };

  // The subscription handler. REQUIRES: on the subscription thread.
  Status on_event(const EventView& e);
  // Applies one event and commits when the batch is full.
  Status process_locked(const EventView& e) NEXUM_REQUIRES(mu_);
  Status apply_guarded(const EventView& e) NEXUM_REQUIRES(mu_);
  // Re-applies [batch_first_, end) after a failure, skipping parked ones.
  Status replay_batch(std::int64_t end) NEXUM_REQUIRES(mu_);
  Status fail_and_stop(const EventView& e, const Status& why) NEXUM_REQUIRES(mu_);
  Status commit_locked(std::int64_t checkpoint) NEXUM_REQUIRES(mu_);
  void reset_batch_locked() NEXUM_REQUIRES(mu_);
  void set_error(std::int64_t position, std::string reason);
  // start/stop: REQUIRES control_mu_ (they take mu_ and status_mu_ themselves).
  Status start_locked() NEXUM_REQUIRES(control_mu_);
  void stop_locked(bool commit_pending) NEXUM_REQUIRES(control_mu_);
  bool matches(const EventView& e) const { return filter_.empty() || filter_.matches(e); }

  EventStore& store_;
  store::LocalStateStore& state_;
  const std::unique_ptr<Projection> projection_;
  const std::string name_;
  const EventFilter filter_;
  const FailurePolicy policy_;
  const ProjectionEngineOptions options_;
  rocksdb::ColumnFamilyHandle* const readmodels_;
  rocksdb::ColumnFamilyHandle* const checkpoints_;

  Mutex control_mu_;                   // serializes start/stop/rebuild/retry/end_external
  std::atomic<bool> stopping_{false};  // set while stop_locked runs: a commit waiting for storage gives up

  Mutex mu_;                                            // the data path
  Mode mode_ NEXUM_GUARDED_BY(mu_) = Mode::kIdle;       // changed under control_mu_ too
  std::uint64_t generation_ NEXUM_GUARDED_BY(mu_) = 0;  // bumped whenever the mode changes
  StagedReadModel staged_ NEXUM_GUARDED_BY(mu_);
  std::int64_t batch_first_ NEXUM_GUARDED_BY(mu_) = 0;
  std::int64_t batch_last_ NEXUM_GUARDED_BY(mu_) = 0;
  std::size_t batch_events_ NEXUM_GUARDED_BY(mu_) = 0;
  std::chrono::steady_clock::time_point batch_started_ NEXUM_GUARDED_BY(mu_);
  std::vector<FailedEvent> batch_failed_ NEXUM_GUARDED_BY(mu_);    // parked in this batch
  std::optional<FailedEvent> error_record_ NEXUM_GUARDED_BY(mu_);  // to write with the next commit
  std::int64_t durable_error_position_ NEXUM_GUARDED_BY(mu_) = 0;  // a stored error record's position

  mutable Mutex status_mu_;
  CondVar status_cv_;
  std::unique_ptr<Subscription> subscription_ NEXUM_GUARDED_BY(status_mu_);  // (swapped under control_mu_ too)
  bool rebuilding_ NEXUM_GUARDED_BY(status_mu_) = false;
  bool external_ NEXUM_GUARDED_BY(status_mu_) = false;  // fed by a SharedReplay
  bool failed_ NEXUM_GUARDED_BY(status_mu_) = false;
  std::int64_t error_position_ NEXUM_GUARDED_BY(status_mu_) = 0;
  std::string error_ NEXUM_GUARDED_BY(status_mu_);
  std::optional<std::chrono::steady_clock::time_point> rebuild_started_ NEXUM_GUARDED_BY(status_mu_);

  std::atomic<std::int64_t> checkpoint_{0};
  std::atomic<std::int64_t> parked_count_{0};
  std::atomic<std::uint64_t> applied_{0};
};

}  // namespace nexum::projections
