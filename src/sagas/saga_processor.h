// SagaProcessor: applies inputs (log events, fired deadlines) to one saga's
// instances. Every write of an input — instance record, facts, deadline
// index, outbox entries — goes into one pending WriteBatchWithIndex (read
// back by later inputs of the same batch), which commit() writes to RocksDB
// together with the checkpoint. Keys: doc/sagas.md.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <rocksdb/utilities/write_batch_with_index.h>

#include "core/mutex.h"
#include "nexum/saga.h"
#include "nexum/store.h"
#include "store/local_state_store.h"

namespace nexum::sagas {

// Counters, readable from any thread.
struct ProcessorCounters {
  std::atomic<std::uint64_t> events_handled{0};
  std::atomic<std::uint64_t> deadlines_fired{0};
  std::atomic<std::uint64_t> started{0};
  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> rejected{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> commands{0};
};

// Thread-compatible: the engine calls it under its processing mutex.
class SagaProcessor {
 public:
  // `write_mu` is held around each RocksDB write; the engine shares it with
  // its CommandRelay, so the two never meet in one RocksDB write group (whose
  // shared buffer TSan cannot see synchronized). It must outlive this.
  SagaProcessor(EventStore& store, store::LocalStateStore& state, const Saga& saga, std::string checkpoint_name,
                std::size_t max_history, bool sync, Mutex& write_mu);
  ~SagaProcessor();

  // Drops anything pending and reloads the durable checkpoint and the next
  // outbox sequence number. Clears broken().
  Status load();

  // Handles the log event at e.global_position (any type; unrelated ones only
  // move the position). Errors are storage errors or DataLoss: the caller
  // must then discard() and restart from the checkpoint.
  Status on_event(const EventView& e);
  // Commits what is pending, then fires every deadline due at or before `now`
  // and commits again. `outbox` is set when outbox entries were committed.
  Status fire_due(Timestamp now, bool& outbox);
  // Writes the pending batch and the checkpoint (= position()) atomically.
  // `outbox` is set when the batch held outbox entries.
  Status commit(bool& outbox);
  // Deletes every key of this saga except the sent ledger, and the checkpoint.
  Status reset();

  bool has_writes() const;
  std::size_t pending_inputs() const { return pending_inputs_; }
  // Every input up to here is handled (committed or pending).
  std::int64_t position() const { return position_; }
  // Every input up to here is committed.
  std::int64_t committed() const { return committed_; }
  // Inputs up to here need nothing more to be durable.
  std::int64_t settled() const { return has_writes() ? committed_ : position_; }
  bool broken() const { return broken_; }
  void mark_broken() { broken_ = true; }
  const ProcessorCounters& counters() const { return counters_; }

 private:
  class Facts;

  Result<std::optional<SagaInstance>> load_instance(std::string_view id);
  Status put_instance(const SagaInstance& instance);
  // Fires the instance's deadlines due at or before `up_to`, in due order.
  Status fire_due_for(SagaInstance& instance, Timestamp up_to);
  // Runs the handler and applies its decision. Writes nothing when the
  // handler ignores the input.
  Status run_handler(SagaInstance& instance, bool exists, const SagaInput& input, const std::string& caused_by,
                     std::int64_t position);
  Status apply(SagaInstance& instance, bool exists, const SagaInput& input, const std::string& caused_by,
               std::int64_t position, SagaDecision decision);
  void fail(SagaInstance& instance, bool exists, const SagaInput& input, std::int64_t position, const Status& why);
  void remove_deadline(SagaInstance& instance, const std::string& name);
  Status check_decision(const SagaInstance& instance, const SagaDecision& d) const;
  void add_history(SagaInstance& instance, const SagaInput& input, std::int64_t position, std::string note);

  EventStore& store_;
  store::LocalStateStore& state_;
  const Saga& saga_;
  const std::string name_;
  const std::string checkpoint_name_;
  const std::size_t max_history_;
  const bool sync_;
  Mutex& write_mu_;
  rocksdb::ColumnFamilyHandle* sagas_cf_;
  rocksdb::ColumnFamilyHandle* checkpoints_cf_;
  std::set<std::string, std::less<>> starting_, continuing_, observed_;

  mutable rocksdb::WriteBatchWithIndex pending_;  // GetWriteBatch() is not const
  std::size_t pending_inputs_ = 0;
  bool pending_outbox_ = false;
  std::int64_t position_ = 0;
  std::int64_t committed_ = 0;
  std::uint64_t next_outbox_seq_ = 0;
  bool broken_ = false;
  ProcessorCounters counters_;
};

}  // namespace nexum::sagas
