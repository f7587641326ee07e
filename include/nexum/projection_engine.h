// ProjectionEngine: runs projections over the global log, each from its own
// checkpoint (catch-up, then live), committing read-model writes and the
// checkpoint in one atomic write. Guarantees: doc/projections.md.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "nexum/clock.h"
#include "nexum/projection.h"
#include "nexum/projection_query.h"
#include "nexum/status.h"
#include "nexum/store.h"

namespace nexum {

struct ProjectionEngineOptions {
  // A batch commits once it holds this many events (matching or not).
  // Larger batches write a key changed by several events once: a rebuild
  // over a log whose events spread uniformly over N keys writes about
  // N values per batch, whatever the batch's length. Default: 1048576.
  std::size_t max_batch_events = 1 << 20;
  // ... or once its first event is this old. Default: 50 ms. A batch also
  // commits as soon as it has reached the end of the log, so a projection
  // that keeps up commits each event (group) as it arrives; and once it has
  // changed cache_entries keys (they stay in memory until written), and
  // right after an event it parked.
  std::chrono::milliseconds max_batch_delay{50};
  // The same bound while catching up in a shared replay (rebuilds): long
  // enough for batches to be large; also how much work a crash mid-rebuild
  // can lose and how often its progress moves. Default: 2000 ms.
  std::chrono::milliseconds replay_batch_delay{2000};
  // Threads a shared replay applies its projections on (round-robin), fed
  // by one more thread that scans the log once for all. Default: 2.
  std::size_t replay_threads = 2;
  // At start(), projections at least this many events behind the end of
  // the log catch up together from one shared scan of the log (each from
  // its own checkpoint) before following it live on their own; rebuilds
  // always replay that way. Default: 100000.
  std::int64_t shared_replay_min_lag = 100000;
  // Read-model values each projection keeps parsed in memory between
  // batches; past it, half are evicted. A batch that has changed this many
  // keys commits. Default: 65536.
  std::size_t cache_entries = 65536;
  // fsync every commit. Default: false — a commit survives a process crash;
  // after a power loss a projection may fall back to an earlier
  // (read model, checkpoint) pair, never to a mix, and re-applies from there.
  bool sync_commits = false;
  // Called after every commit with the projection's name and new
  // checkpoint, on the projection's thread (keep it short). Default: none.
  std::function<void(std::string_view projection, std::int64_t checkpoint)> on_commit;
  // Stamps parked events. Default: SystemClock::instance().
  const Clock* clock = nullptr;
};

enum class ProjectionState : std::uint8_t {
  kStopped,     // not started (or stopped)
  kRunning,     // catching up: the log holds events it has not reached yet
  kCaughtUp,    // has reached the end of the log and follows it live
  kRebuilding,  // replaying after a rebuild, not yet caught up
  kError,       // stopped by a failed apply or commit (see error_position/error)
};
// "stopped", "running", "caught-up", "rebuilding", "error".
std::string_view projection_state_name(ProjectionState state);

// A projection's progress. Value type.
struct ProjectionStatus {
  std::string name;
  ProjectionState state = ProjectionState::kStopped;
  FailurePolicy policy = FailurePolicy::kStop;
  std::int64_t checkpoint = 0;      // last committed position (its effects are in the read model)
  std::int64_t last_position = 0;   // the store's last position when sampled
  std::int64_t lag = 0;             // last_position - checkpoint
  std::int64_t error_position = 0;  // kError (or a durable error record): the failing event, 0 otherwise
  std::string error;                // kError: why
  std::int64_t parked = 0;          // parked events waiting for a retry
  std::uint64_t applied = 0;        // events applied since this engine started it
  // While kRebuilding (and after): when the current rebuild started.
  std::optional<std::chrono::steady_clock::time_point> rebuild_started;
};

// An event a kPark projection could not apply. Value type.
struct ParkedEvent {
  std::int64_t position = 0;
  std::string event_type;
  std::string stream;
  std::string reason;
  std::string parked_at;  // UTC, format_timestamp() form
  std::int64_t attempts = 1;
};

// Thread-safe. `store` must be the EventStore returned by EventStore::open,
// or a decorator of it (one that forwards local_state_store()), and must
// outlive the engine. Read models and checkpoints live in that store.
class ProjectionEngine {
 public:
  static Result<std::unique_ptr<ProjectionEngine>> create(EventStore& store, ProjectionEngineOptions options = {});
  ~ProjectionEngine();  // stop()
  ProjectionEngine(const ProjectionEngine&) = delete;
  ProjectionEngine& operator=(const ProjectionEngine&) = delete;

  // Registers a projection (started at once if the engine is running).
  // InvalidArgument for a bad name, Conflict for a name already added.
  Status add(std::unique_ptr<Projection> projection);

  // Starts every added projection from its checkpoint. A projection with a
  // durable error record retries the failing event (and fails again, or
  // moves on if the cause was fixed).
  Status start();
  // Commits what each projection has applied and stops them. Idempotent.
  void stop();
  // Stops one projection and starts it again from its checkpoint (e.g. to
  // retry after an error). NotFound for an unknown name.
  Status restart(std::string_view name);

  // Online rebuild: drops the projection's keys, parked events and error
  // record and resets its checkpoint to 0 (one atomic write), calls
  // reset(), and replays the log from the start while appends continue
  // (state kRebuilding until caught up). Returns once replay has started.
  Status rebuild(std::string_view name);
  // Rebuilds every projection, replaying them all from one scan of the log.
  Status rebuild_all();

  // Blocks until every named projection (all when empty) has committed
  // through `position` (or is in the error state, or `timeout` passes).
  // True when all reached it.
  bool wait_for(std::int64_t position, std::chrono::milliseconds timeout, std::string_view name = {});

  std::vector<std::string> names() const;
  std::vector<ProjectionStatus> status() const;
  Result<ProjectionStatus> status(std::string_view name) const;

  // Parked events of a projection, by position, at most `limit`.
  Result<std::vector<ParkedEvent>> parked(std::string_view name, std::size_t limit = 1000) const;
  // Applies the parked event at `position` again (after later events: the
  // order is lost for parked events). OK: applied, committed and unparked.
  // Otherwise the event stays parked with the new reason and the error is
  // returned. NotFound when nothing is parked there.
  Status retry_parked(std::string_view name, std::int64_t position);

  // Committed read-model values (projection_query.h). NotFound for an
  // unknown projection.
  Result<std::optional<boost::json::value>> get(std::string_view name, std::string_view key) const;
  Result<std::vector<ReadModelEntry>> scan(std::string_view name, std::string_view prefix, std::size_t limit,
                                           std::string_view start_after = {}) const;

 private:
  class Impl;
  explicit ProjectionEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace nexum
