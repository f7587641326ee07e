// ProjectionEngine: a registry of ProjectionRunners, one subscription each.
// Why one thread per projection rather than a shared pool: doc/projections.md.
#include "nexum/projection_engine.h"

#include <algorithm>
#include <mutex>
#include <utility>

#include "core/mutex.h"
#include "projections/projection_runner.h"
#include "projections/shared_replay.h"
#include "store/local_state_store.h"

namespace nexum {

std::string_view projection_state_name(ProjectionState state) {
  switch (state) {
    case ProjectionState::kStopped: return "stopped";
    case ProjectionState::kRunning: return "running";
    case ProjectionState::kCaughtUp: return "caught-up";
    case ProjectionState::kRebuilding: return "rebuilding";
    case ProjectionState::kError: return "error";
  }
  return "?";
}

// Thread-safe: runners_ only grows, under mu_; runners are thread-safe.
// Replays are destroyed (joined) before the runners they feed.
class ProjectionEngine::Impl {
 public:
  Impl(EventStore& store, store::LocalStateStore& state, ProjectionEngineOptions options, ReadModelQuery query)
      : store_(store), state_(state), options_(std::move(options)), query_(query) {}

  Status add(std::unique_ptr<Projection> projection) {
    if (!projection) return Status::invalid_argument("projection: null");
    std::string name(projection->name());
    if (!is_valid_projection_name(name)) {
      return Status::invalid_argument("projection name: '" + name + "' is not 1-128 characters of [A-Za-z0-9_.-]");
    }
    MutexLock lock(mu_);
    if (find_locked(name) != nullptr) return Status::conflict("projection '" + name + "' is already added", -1);
    auto runner = std::make_unique<projections::ProjectionRunner>(store_, state_, std::move(projection), options_);
    NEXUM_RETURN_IF_ERROR(runner->load());
    if (started_) NEXUM_RETURN_IF_ERROR(runner->start());
    runners_.push_back(std::move(runner));
    return Status();
  }

  ~Impl() { stop(); }

  Status start() {
    MutexLock lock(mu_);
    started_ = true;
    const std::int64_t last = store_.last_position();
    std::vector<projections::ProjectionRunner*> behind;
    for (auto& r : runners_) {
      if (last - r->checkpoint() >= options_.shared_replay_min_lag) {
        behind.push_back(r.get());
      } else {
        NEXUM_RETURN_IF_ERROR(r->start());
      }
    }
    return replay_locked(behind, /*rebuilding=*/false);
  }

  void stop() {
    MutexLock lock(mu_);
    started_ = false;
    for (auto& replay : replays_) replay->stop();
    replays_.clear();
    for (auto& r : runners_) r->stop();
  }

  // Rebuilds `names` (all when empty) from one shared scan.
  Status rebuild(const std::vector<std::string_view>& names) {
    MutexLock lock(mu_);
    std::vector<projections::ProjectionRunner*> chosen;
    for (auto& r : runners_) {
      if (names.empty() || std::find(names.begin(), names.end(), r->name()) != names.end()) chosen.push_back(r.get());
    }
    if (chosen.size() != names.size() && !names.empty()) {
      return Status::not_found("no projection named '" + std::string(names.front()) + "'");
    }
    for (auto* r : chosen) NEXUM_RETURN_IF_ERROR(r->reset_for_rebuild());
    return replay_locked(chosen, /*rebuilding=*/true);
  }

  Result<projections::ProjectionRunner*> find(std::string_view name) const {
    MutexLock lock(mu_);
    auto* r = find_locked(name);
    if (r == nullptr) return Status::not_found("no projection named '" + std::string(name) + "'");
    return r;
  }

  std::vector<projections::ProjectionRunner*> all() const {
    MutexLock lock(mu_);
    std::vector<projections::ProjectionRunner*> out;
    for (auto& r : runners_) out.push_back(r.get());
    return out;
  }

  const ReadModelQuery& query() const { return query_; }

 private:
  // Feeds `runners` (stopped) from one new SharedReplay.
  Status replay_locked(const std::vector<projections::ProjectionRunner*>& runners, bool rebuilding)
      NEXUM_REQUIRES(mu_) {
    std::erase_if(replays_, [](const auto& replay) { return replay->done(); });
    // Round-robin over replay_threads lanes, in the order projections were
    // added; one scan of the log feeds them all.
    const std::size_t threads = std::max<std::size_t>(1, std::min(options_.replay_threads, runners.size()));
    std::vector<std::vector<projections::SharedReplay::Member>> groups(threads);
    std::size_t next = 0;
    for (auto* r : runners) {
      auto generation = r->begin_external(rebuilding);
      if (!generation && generation.error().code() == StatusCode::kConflict) continue;  // already running
      if (!generation) return generation.error();
      groups[next++ % threads].push_back({r, *generation});
    }
    if (std::any_of(groups.begin(), groups.end(), [](const auto& g) { return !g.empty(); })) {
      replays_.push_back(std::make_unique<projections::SharedReplay>(store_, state_, std::move(groups)));
    }
    return Status();
  }

  projections::ProjectionRunner* find_locked(std::string_view name) const NEXUM_REQUIRES(mu_) {
    for (auto& r : runners_) {
      if (r->name() == name) return r.get();
    }
    return nullptr;
  }

  EventStore& store_;
  store::LocalStateStore& state_;
  const ProjectionEngineOptions options_;
  const ReadModelQuery query_;
  mutable Mutex mu_;
  bool started_ NEXUM_GUARDED_BY(mu_) = false;
  std::vector<std::unique_ptr<projections::ProjectionRunner>> runners_ NEXUM_GUARDED_BY(mu_);  // only grows
  std::vector<std::unique_ptr<projections::SharedReplay>> replays_ NEXUM_GUARDED_BY(mu_);
};

Result<std::unique_ptr<ProjectionEngine>> ProjectionEngine::create(EventStore& store, ProjectionEngineOptions options) {
  NEXUM_ASSIGN_OR_RETURN(auto state, store::local_state_of(store, "ProjectionEngine"));
  NEXUM_ASSIGN_OR_RETURN(auto query, ReadModelQuery::create(store));
  if (options.max_batch_events == 0) return Status::invalid_argument("max_batch_events: must be > 0");
  return std::unique_ptr<ProjectionEngine>(
      new ProjectionEngine(std::make_unique<Impl>(store, *state, std::move(options), query)));
}

ProjectionEngine::ProjectionEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ProjectionEngine::~ProjectionEngine() { stop(); }

Status ProjectionEngine::add(std::unique_ptr<Projection> projection) { return impl_->add(std::move(projection)); }

Status ProjectionEngine::start() { return impl_->start(); }

void ProjectionEngine::stop() { impl_->stop(); }

Status ProjectionEngine::restart(std::string_view name) {
  NEXUM_ASSIGN_OR_RETURN(auto r, impl_->find(name));
  return r->restart();
}

Status ProjectionEngine::rebuild(std::string_view name) { return impl_->rebuild({name}); }

Status ProjectionEngine::rebuild_all() { return impl_->rebuild({}); }

bool ProjectionEngine::wait_for(std::int64_t position, std::chrono::milliseconds timeout, std::string_view name) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool all = true;
  for (auto* r : impl_->all()) {
    if (!name.empty() && r->name() != name) continue;
    all = r->wait_for(position, deadline) && all;
  }
  return all;
}

std::vector<std::string> ProjectionEngine::names() const {
  std::vector<std::string> out;
  for (auto* r : impl_->all()) out.push_back(r->name());
  return out;
}

std::vector<ProjectionStatus> ProjectionEngine::status() const {
  std::vector<ProjectionStatus> out;
  for (auto* r : impl_->all()) out.push_back(r->status());
  return out;
}

Result<ProjectionStatus> ProjectionEngine::status(std::string_view name) const {
  NEXUM_ASSIGN_OR_RETURN(auto r, impl_->find(name));
  return r->status();
}

Result<std::vector<ParkedEvent>> ProjectionEngine::parked(std::string_view name, std::size_t limit) const {
  NEXUM_ASSIGN_OR_RETURN(auto r, impl_->find(name));
  return r->parked(limit);
}

Status ProjectionEngine::retry_parked(std::string_view name, std::int64_t position) {
  NEXUM_ASSIGN_OR_RETURN(auto r, impl_->find(name));
  return r->retry_parked(position);
}

Result<std::optional<boost::json::value>> ProjectionEngine::get(std::string_view name, std::string_view key) const {
  NEXUM_RETURN_IF_ERROR(impl_->find(name).status());
  return impl_->query().get(name, key);
}

Result<std::vector<ReadModelEntry>> ProjectionEngine::scan(std::string_view name, std::string_view prefix,
                                                           std::size_t limit, std::string_view start_after) const {
  NEXUM_RETURN_IF_ERROR(impl_->find(name).status());
  return impl_->query().scan(name, prefix, limit, start_after);
}

}  // namespace nexum
