// SagaEngine: runs one Saga over the global log. Guarantees, keys and
// deadline semantics: doc/sagas.md.
//
//  - Reads the log from a durable checkpoint (catch-up, then live).
//  - Per input, in ONE RocksDB WriteBatch: the instance's new state, the
//    facts, the checkpoint, the deadline index and the outgoing commands and
//    events (the saga outbox). A crash loses either all of it or none.
//  - A command relay sends outbox commands to their topics on an EventBus and
//    deletes each entry only after the bus confirmed delivery (at-least-once,
//    same event_id every time); emitted events are appended to the store
//    (deduplicated by their deterministic ids). Every delivered command id is
//    remembered in a sent ledger that reset() keeps, so replaying the log
//    into a fresh engine issues no command again.
//  - Deadlines are durable and fire through an Asio timer that re-reads the
//    injected Clock every deadline_tick, or when poll_deadlines() is called.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nexum/bus.h"
#include "nexum/clock.h"
#include "nexum/saga.h"
#include "nexum/status.h"
#include "nexum/store.h"

namespace nexum {

struct SagaEngineOptions {
  // Checkpoint name in the store. Default (empty): "saga/{saga name}".
  std::string checkpoint_name;
  // Inputs gathered into one WriteBatch while catching up; a batch is also
  // committed whenever the engine reaches the end of the log. Default: 256.
  std::size_t max_batch_events = 256;
  // How often the deadline timer re-reads the clock. Default: 1 s.
  std::chrono::milliseconds deadline_tick{1000};
  // Handled inputs kept in each instance's history. Default: 64.
  std::size_t max_history = 64;
  // Run the command relay. false leaves commands and events in the outbox
  // (a separate process, or a test, relays them). Default: true.
  bool run_command_relay = true;
  // Commands handed to the bus and not yet confirmed, at most. Default: 1024.
  std::size_t relay_max_in_flight = 1024;
  // How long the relay waits for the bus to confirm a round of commands
  // before treating the rest as failed (they are resent). Default: 30 s.
  std::chrono::milliseconds relay_delivery_timeout{30000};
  // Backoff after a failure (delivery, storage): doubles from initial up to
  // max. Defaults: 100 ms, 5 s.
  std::chrono::milliseconds retry_backoff_initial{100};
  std::chrono::milliseconds retry_backoff_max{5000};
};

// What the engine has done since start(). Value type.
struct SagaEngineStats {
  bool running = false;
  std::int64_t checkpoint = 0;       // durable: every input up to here is committed
  std::int64_t last_position = 0;    // the store's
  std::uint64_t events_handled = 0;  // inputs the handler accepted (events)
  std::uint64_t deadlines_fired = 0;
  std::uint64_t instances_started = 0;
  std::uint64_t instances_completed = 0;
  std::uint64_t instances_rejected = 0;
  std::uint64_t instances_failed = 0;
  std::uint64_t commands_enqueued = 0;      // written to the outbox
  std::uint64_t commands_sent = 0;          // confirmed by the bus
  std::uint64_t commands_deduplicated = 0;  // dropped: the sent ledger had the id
  std::uint64_t commands_rejected = 0;      // refused by the bus for good (InvalidArgument): logged, dropped
  std::uint64_t events_emitted = 0;         // appended (or found already stored)
  std::uint64_t delivery_failures = 0;
  std::uint64_t restarts = 0;      // resubscriptions after a storage error
  std::size_t outbox_pending = 0;  // entries not yet delivered
  std::string last_error;
};

// Thread-safe. The store (opened with EventStore::open, or a decorator of it
// that forwards local_state_store()), the bus and the saga
// must outlive the engine.
class SagaEngine {
 public:
  // InvalidArgument when the saga's name is invalid or `store` has no
  // RocksDB store underneath (local_state_store() is null).
  static Result<std::unique_ptr<SagaEngine>> create(EventStore& store, EventBus& bus, const Saga& saga,
                                                    SagaEngineOptions options = {},
                                                    const Clock& clock = SystemClock::instance());
  ~SagaEngine();  // stop()
  SagaEngine(const SagaEngine&) = delete;
  SagaEngine& operator=(const SagaEngine&) = delete;

  // Loads the checkpoint, subscribes from the position after it, starts the
  // deadline timer and the command relay. Idempotent.
  Status start();
  // Stops reading, commits what was handled, stops the timer, and lets the
  // relay finish its round (up to relay_delivery_timeout). Idempotent.
  Status stop();

  // Fires every deadline due at clock.now() and commits the result before
  // returning. The timer does the same every deadline_tick; tests call it
  // after advancing a ManualClock. Deadlines fire only once every event
  // already in the log is handled (so an event stamped before a deadline is
  // handled before it, as in a replay): a running engine waits up to 10 s for
  // that. Errors: Unavailable when still behind the log (or stopped and
  // behind), or after a storage error.
  Status poll_deadlines();

  // Blocks until every input up to `position` is committed, or `timeout`.
  bool wait_until_processed(std::int64_t position, std::chrono::milliseconds timeout) const;
  // Blocks until the outbox is empty (every command confirmed, every event
  // appended), or `timeout`.
  bool wait_until_relayed(std::chrono::milliseconds timeout) const;

  // Drops this saga's instances, facts, deadlines, outbox and checkpoint, so
  // the next start() replays the log from position 1. The sent ledger stays:
  // replayed commands are recognised and not sent again.
  // REQUIRES: stopped. Errors: Conflict while running.
  Status reset();

  SagaEngineStats stats() const;
  // NotFound when there is no such instance.
  Result<SagaInstance> find_instance(std::string_view id) const;
  std::string_view saga_name() const;

 private:
  class Impl;
  explicit SagaEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// ---- Read-only queries (what `nexum sagas` prints); no engine needed ----

// Per saga found in the store. Value type.
struct SagaSummary {
  std::string saga;
  std::int64_t checkpoint = 0;  // of the default checkpoint name, "saga/{saga}"
  std::size_t instances = 0, active = 0, completed = 0, rejected = 0, failed = 0;
  std::size_t outbox = 0;     // entries waiting for the relay
  std::size_t deadlines = 0;  // pending
  std::size_t sent = 0;       // command ids in the sent ledger
};

// Every saga with keys in the store. InvalidArgument for a store with no
// RocksDB store underneath.
Result<std::vector<SagaSummary>> list_sagas(EventStore& store);
Result<SagaSummary> summarize_saga(EventStore& store, std::string_view saga);
// Instances of `saga` in id order, at most `limit`.
Result<std::vector<SagaInstance>> list_saga_instances(EventStore& store, std::string_view saga,
                                                      std::size_t limit = SIZE_MAX);
// NotFound when absent.
Result<SagaInstance> load_saga_instance(EventStore& store, std::string_view saga, std::string_view id);

}  // namespace nexum
