// CommandRelay: delivers a saga's outbox. Commands go to their topics on an
// EventBus; each entry is deleted — and its command id written to the sent
// ledger — only after the bus confirmed delivery. Emitted events are appended
// to the store (their deterministic ids make a repeat a no-op).
// Guarantees: doc/sagas.md, "Delivery".
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/mutex.h"
#include "nexum/bus.h"
#include "nexum/status.h"
#include "store/local_state_store.h"

namespace nexum::sagas {

struct CommandRelayOptions {
  std::size_t max_in_flight = 1024;
  std::chrono::milliseconds delivery_timeout{30000};
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{5000};
  bool sync = true;  // fsync the ledger writes
};

// Value type.
struct CommandRelayCounters {
  std::uint64_t sent = 0;          // commands confirmed by the bus
  std::uint64_t deduplicated = 0;  // commands dropped: already in the sent ledger
  std::uint64_t rejected = 0;      // commands the bus refused for good (InvalidArgument)
  std::uint64_t events = 0;        // events appended (or already stored)
  std::uint64_t failures = 0;      // failed rounds
  std::string last_error;
};

// One relay thread per saga. A command the bus refuses as InvalidArgument
// (too large, bad topic) would be refused forever and block every command
// behind it: it is logged, removed from the outbox and recorded in the sent
// ledger with its error. Thread-safe. The store and bus must outlive it.
class CommandRelay {
 public:
  // `write_mu` serializes this relay's RocksDB writes with its engine's
  // (see SagaProcessor); it must outlive the relay.
  CommandRelay(EventStore& store, store::LocalStateStore& state, EventBus& bus, std::string saga,
               CommandRelayOptions options, Mutex& write_mu);
  ~CommandRelay();  // stop()
  CommandRelay(const CommandRelay&) = delete;
  CommandRelay& operator=(const CommandRelay&) = delete;

  void start();
  // Finishes the current round (bounded by delivery_timeout) and joins.
  void stop();
  // New entries were committed: run a round soon.
  void notify();
  CommandRelayCounters counters() const;
  // Entries in the outbox now (not yet delivered, appended or dropped),
  // counting up to `limit`.
  std::size_t pending(std::size_t limit = SIZE_MAX) const;

 private:
  struct Deliveries;  // shared with delivery callbacks, which may outlive a round
  void run();
  // One pass over up to max_in_flight entries. `more`: entries may remain.
  Status round(bool& more);

  EventStore& store_;
  store::LocalStateStore& state_;
  EventBus& bus_;
  const std::string saga_;
  const CommandRelayOptions options_;
  std::shared_ptr<Deliveries> deliveries_;
  Mutex& write_mu_;

  mutable Mutex mu_;
  CondVar cv_;
  bool running_ NEXUM_GUARDED_BY(mu_) = false;
  bool stop_ NEXUM_GUARDED_BY(mu_) = false;
  bool notified_ NEXUM_GUARDED_BY(mu_) = false;
  CommandRelayCounters counters_ NEXUM_GUARDED_BY(mu_);
  // Every outbox entry below this sequence number is deleted. Written by the
  // relay thread; read by pending().
  std::atomic<std::uint64_t> first_pending_seq_{0};
  std::thread thread_;
};

// Keys under `prefix` (from `from`, a key under it, when not empty). Costs
// one step per deleted key in the range too: start past known deletions.
std::size_t count_keys(store::LocalStateStore& state, const std::string& prefix, std::string_view from = {},
                       std::size_t limit = SIZE_MAX);

}  // namespace nexum::sagas
