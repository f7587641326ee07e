// OutboxRelay: carries every stored event to an EventBus, in log order,
// resuming from a durable checkpoint. Guarantees: doc/delivery.md. Each event
// is sent as make_kafka_message(const EventView&) (nexum/kafka_message.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "nexum/bus.h"
#include "nexum/clock.h"
#include "nexum/status.h"
#include "nexum/store.h"

namespace nexum {

struct OutboxRelayOptions {
  // Checkpoint name in the store. Default: "outbox_relay".
  std::string name = "outbox_relay";
  // Messages handed to the bus but not yet confirmed; the relay waits when
  // this many are outstanding. Default: 65536.
  std::size_t max_in_flight = 65536;
  // How often the confirmed position is persisted while running. Default: 100 ms.
  std::chrono::milliseconds checkpoint_interval{100};
  // Backoff after a failed delivery: doubles from initial up to max. Defaults: 100 ms, 5 s.
  std::chrono::milliseconds retry_backoff_initial{100};
  std::chrono::milliseconds retry_backoff_max{5000};
  // How long a pause (failure, bus switch, stop) waits for outstanding
  // deliveries before giving up on them (they are resent). Default: 30 s.
  std::chrono::milliseconds drain_timeout{30000};
};

// What the relay has done. Value type.
struct RelayStats {
  bool running = false;
  std::int64_t checkpoint = 0;     // last position confirmed contiguously (and persisted soon after)
  std::int64_t last_position = 0;  // the store's last position
  std::int64_t lag_positions = 0;  // last_position - checkpoint
  double lag_seconds = 0;          // age of the oldest event not yet confirmed (0 when none)
  std::uint64_t delivered = 0;     // confirmed deliveries, including resends
  std::uint64_t resent = 0;        // events sent again after a pause (the at-least-once window)
  std::uint64_t delivery_failures = 0;
  std::uint64_t restarts = 0;  // pauses caused by failures
  std::string last_error;
  // The bus refused the event at parked_position as undeliverable for good
  // (InvalidArgument: too large, bad topic, not authorized). Retrying it
  // cannot succeed and skipping it would lose it, so the relay stops there
  // until switch_bus() (a reconfigured bus) or a restart. doc/delivery.md.
  bool parked = false;
  std::int64_t parked_position = 0;
  std::string parked_reason;
};

// Thread-safe. The store and bus must outlive the relay (or, for the bus,
// until switch_bus() has returned with another one).
class OutboxRelay {
 public:
  OutboxRelay(EventStore& store, EventBus& bus, OutboxRelayOptions options = {},
              const Clock& clock = SystemClock::instance());
  ~OutboxRelay();  // stop()
  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  // Loads the checkpoint and starts relaying from the event after it.
  Status start();
  // Stops reading, waits for outstanding deliveries (up to drain_timeout),
  // and persists the checkpoint. Idempotent.
  Status stop();
  // Pauses, drains the current bus, persists the checkpoint, and resumes on
  // `bus` from the checkpoint: nothing confirmed is lost, nothing unconfirmed
  // is skipped. The relay never holds two buses at once. A parked relay
  // tries its event again on the new bus.
  Status switch_bus(EventBus& bus);
  // Blocks until the checkpoint reaches `position` (or timeout). For tests and shutdown.
  bool wait_until_relayed(std::int64_t position, std::chrono::milliseconds timeout);

  RelayStats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nexum
