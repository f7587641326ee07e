// EventStore: durable event streams on RocksDB with a dense global log.
//
// Key layout: doc/key_layout.md. Record format: doc/record_format.md.
//
// Guarantees:
//  - Appends are atomic per call (one WriteBatch), across several streams.
//  - Global positions are dense from 1 and assigned in commit order; a reader
//    never observes position N+1 before N.
//  - Durability::kSync: an acknowledged append has been fsynced (the fsync is
//    shared by every append in the same commit group).
//  - Re-appending already-stored event ids returns their original positions
//    and writes nothing.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nexum/clock.h"
#include "nexum/event.h"
#include "nexum/json_codec.h"
#include "nexum/status.h"

namespace nexum {

enum class Durability : std::uint8_t {
  kSync,      // acknowledged ⇒ fsynced; survives power loss
  kBuffered,  // written to the WAL without fsync; survives a process crash
};

// What the caller believes the stream's last version is. Value type.
class ExpectedVersion {
 public:
  enum class Kind : std::uint8_t { kAny, kNoStream, kStreamExists, kExact };
  static ExpectedVersion any() { return ExpectedVersion(Kind::kAny, 0); }
  static ExpectedVersion no_stream() { return ExpectedVersion(Kind::kNoStream, 0); }
  static ExpectedVersion stream_exists() { return ExpectedVersion(Kind::kStreamExists, 0); }
  // The stream's last event has 0-based version `v`.
  static ExpectedVersion exact(std::int64_t v) { return ExpectedVersion(Kind::kExact, v); }
  Kind kind() const { return kind_; }
  std::int64_t version() const { return version_; }
  // True when a stream whose last version is `actual` (-1: no stream) satisfies this.
  bool matches(std::int64_t actual) const;
  std::string to_string() const;

 private:
  ExpectedVersion(Kind k, std::int64_t v) : kind_(k), version_(v) {}
  Kind kind_;
  std::int64_t version_;
};

// One stream's share of an append.
struct StreamAppend {
  std::string stream;  // "{category}-{id}"
  ExpectedVersion expected = ExpectedVersion::any();
  std::vector<EventSchema> events;
  // The topic to relay these events to. Empty: derived from each event_type
  // by the topic table (topics.h); an event_type with no topic is InvalidArgument.
  std::string topic;
};

struct AppendResult {
  std::vector<std::int64_t> positions;        // one per event, in call order
  std::vector<std::int64_t> stream_versions;  // per StreamAppend: its last version after the append
  bool deduplicated = false;                  // every event was already stored; nothing written
};

// A stored event read in place. Every view points into the store's buffers
// and is valid only for the duration of the callback that received it.
struct EventView {
  std::int64_t global_position = 0;
  std::string_view stream;
  std::int64_t stream_version = 0;
  std::string_view topic;
  EnvelopeView envelope;

  std::string_view category() const;
  // Materializes the event (parses data and metadata).
  Result<RecordedEvent> to_recorded() const;
};

// Which events a read or subscription wants. Empty lists match everything;
// non-empty lists are ORed within a list and ANDed across lists.
struct EventFilter {
  std::vector<std::string> categories;
  std::vector<std::string> event_types;
  std::vector<std::string> topics;
  bool matches(const EventView& e) const;
  bool empty() const { return categories.empty() && event_types.empty() && topics.empty(); }
};

struct StreamInfo {
  bool exists = false;
  std::int64_t last_version = -1;  // -1 when the stream does not exist
  std::int64_t last_position = 0;  // global position of its last event
};

struct Snapshot {
  std::int64_t version = -1;  // the stream version the state includes
  std::string state;          // opaque bytes owned by the aggregate
};

enum class ReadDirection : std::uint8_t { kForward, kBackward };

struct StoreOptions {
  Durability durability = Durability::kSync;
  // Create the directory and an empty store when missing. Default: true.
  bool create_if_missing = true;
  // Open an existing store for reading only, as a RocksDB secondary instance:
  // works while another process (`nexum serve`) holds the store and keeps
  // writing; reads see what that process had written when this one opened.
  // Every write fails with Unavailable. create_if_missing is ignored. Default: false.
  bool read_only = false;
  // The most events one commit group (one WriteBatch, one fsync) may hold. Default: 4096.
  std::size_t max_group_events = 4096;
  // RocksDB block cache shared by all column families. Default: 64 MiB.
  std::size_t block_cache_bytes = 64u << 20;
  // Memtable size per column family. Default: 32 MiB.
  std::size_t write_buffer_bytes = 32u << 20;
  // Stream versions cached for conflict checks; beyond this the cache is
  // dropped and refilled from disk. Default: 1 M streams.
  std::size_t stream_cache_entries = 1u << 20;
  // The largest event an append accepts: a bound on the Kafka message it
  // becomes (envelope JSON with data and metadata, key, headers). Keep it
  // under the bus's message limit (librdkafka's message.max.bytes and the
  // broker's, 1 000 000 by default), or the outbox relay parks on the event.
  // A larger event is InvalidArgument naming this limit. Default: 900 000 bytes.
  std::size_t max_event_bytes = 900000;
  // After a failed write (a full disk) the store is read-only; this often
  // it asks RocksDB to resume, and appends work again once it has. Default: 1 s.
  std::chrono::milliseconds resume_interval{1000};
  // Events read from disk per subscription batch. Default: 1024.
  std::size_t subscription_batch = 1024;
  // Timestamps are not assigned by the store; the clock stamps internal times only.
  const Clock* clock = nullptr;  // Default: SystemClock::instance().
};

// A live subscription. Destroying it unsubscribes (and waits for its
// handler to return). Thread-safe.
class Subscription {
 public:
  virtual ~Subscription() = default;
  // Stops delivery; returns after the handler has returned for the last time.
  // Must not be called from inside the handler.
  virtual void stop() = 0;
  // The last position handed to the handler (or skipped by the filter).
  virtual std::int64_t position() const = 0;
  // True once the subscription has delivered everything committed so far at least once.
  virtual bool caught_up() const = 0;
  // OK while running or stopped cleanly; the handler's error, or DataLoss, if it failed.
  virtual Status status() const = 0;
};

// Called for each matching event in global order, on the subscription's own
// thread. A non-OK return stops the subscription with that status.
using SubscriptionHandler = std::function<Status(const EventView&)>;

namespace store {
class LocalStateStore;  // internal (src/store/local_state_store.h)
}  // namespace store

// The event store. Thread-safe: every method may be called concurrently.
class EventStore {
 public:
  // Opens (or creates) the store in `dir`. A directory holding another
  // format version, a RocksDB that is not a Nexum store, or other files is refused.
  static Result<std::unique_ptr<EventStore>> open(const std::string& dir, const StoreOptions& options = {});
  virtual ~EventStore() = default;

  // ---- writes ----
  Result<AppendResult> append(std::string_view stream, ExpectedVersion expected, std::vector<EventSchema> events);
  // All streams or none. Each stream may appear once.
  virtual Result<AppendResult> append_multi(std::vector<StreamAppend> appends) = 0;
  // The async form: `done` runs on the store's commit thread once the group is
  // durable (keep it short). Lets one thread keep many appends in flight.
  virtual void append_async(std::vector<StreamAppend> appends, std::function<void(Result<AppendResult>)> done) = 0;
  std::future<Result<AppendResult>> append_future(std::vector<StreamAppend> appends);

  // ---- reads ----
  // Events of one stream starting at `from_version` (kBackward: going down
  // from it; -1 means "from the end"), at most `limit`.
  virtual Result<std::vector<RecordedEvent>> read_stream(std::string_view stream, std::int64_t from_version,
                                                         std::size_t limit,
                                                         ReadDirection direction = ReadDirection::kForward) = 0;
  // read_stream in place: `visit` sees each event of the stream as an
  // EventView (no payload parsing): the fast path for folding aggregates.
  virtual Status scan_stream(std::string_view stream, std::int64_t from_version, std::size_t limit,
                             const std::function<Status(const EventView&)>& visit) = 0;
  // Global log in place: calls `visit` for positions >= from_position up to
  // the last committed one (or `limit` events), in order. A record that
  // fails to decode stops the scan with DataLoss naming its position.
  // `visit` returning non-OK stops the scan with that status.
  virtual Status scan_log(std::int64_t from_position, std::size_t limit, const EventFilter& filter,
                          const std::function<Status(const EventView&)>& visit) = 0;
  // Materialized global-log reads, filtered (by category / event type: a
  // filtered scan; see doc/key_layout.md for why there is no index).
  Result<std::vector<RecordedEvent>> read_all(std::int64_t from_position, std::size_t limit,
                                              const EventFilter& filter = {});
  virtual Result<StreamInfo> stream_info(std::string_view stream) = 0;
  // Position of the last committed event (0 for an empty store).
  virtual std::int64_t last_position() const = 0;
  // Position of the event with this id, NotFound otherwise. Answers only once
  // a log read (scan_log, read_all) at that position returns the event.
  virtual Result<std::int64_t> find_event(const EventId& id) = 0;

  // ---- subscriptions ----
  // Delivers every matching event with position >= from_position: catch-up
  // from the log, then live. No gap, no duplicate. A slow handler never
  // blocks appenders and costs no memory beyond one read batch.
  virtual Result<std::unique_ptr<Subscription>> subscribe(std::int64_t from_position, EventFilter filter,
                                                          SubscriptionHandler handler) = 0;

  // ---- snapshots and checkpoints ----
  virtual Status save_snapshot(std::string_view stream, const Snapshot& snapshot) = 0;
  // NotFound when the stream has no snapshot.
  virtual Result<Snapshot> load_snapshot(std::string_view stream) = 0;
  // A consumer's durable position (0 when it has none).
  virtual Result<std::int64_t> load_checkpoint(std::string_view consumer) = 0;
  virtual Status save_checkpoint(std::string_view consumer, std::int64_t position) = 0;

  // ---- maintenance ----
  // Checks every invariant (dense positions, each index entry agrees with its
  // record, every record decodes); the first violation is returned.
  virtual Status verify(const std::function<void(std::int64_t checked)>& progress = {}) = 0;
  virtual const std::string& directory() const = 0;
  // OK while appends are accepted. After a failed write (a full disk) the
  // store is read-only: this is the Unavailable status appends fail with,
  // naming the cause; reads go on, and writing resumes by itself once the
  // disk takes writes again (nothing acknowledged is lost).
  virtual Status write_health() const { return Status(); }

  // Internal: the database projections and sagas keep their state in
  // (src/store/local_state_store.h); nullptr when there is none. A decorator
  // returns its inner store's, so it can be handed to the engines.
  virtual store::LocalStateStore* local_state_store() { return nullptr; }
};

// The id of the process holding the store in `dir` open for writing (this
// process's own when it does); nullopt when none does or `dir` has no store.
std::optional<long> store_holder_pid(const std::string& dir);

// "{category}-{id}": non-empty, the category before the first '-', neither
// part empty, no NUL or control characters, at most 512 bytes.
Status validate_stream_id(std::string_view stream);
std::string_view stream_category(std::string_view stream);

}  // namespace nexum
