#include "projections/projection_runner.h"

#include <chrono>
#include <exception>
#include <string_view>
#include <thread>
#include <utility>

#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/mutex.h"
#include "nexum/json_codec.h"
#include "projections/read_model_keys.h"
#include "store/keys.h"
#include "store/rocks_status.h"
#include "store/rocks_write.h"

namespace nexum::projections {
namespace {

using SteadyClock = std::chrono::steady_clock;

const Clock& clock_of(const ProjectionEngineOptions& o) {
  return o.clock != nullptr ? *o.clock : SystemClock::instance();
}

std::string parked_json(std::int64_t position, std::string_view event_type, std::string_view stream,
                        std::string_view reason, Timestamp at, std::int64_t attempts) {
  boost::json::object o{{"position", position}, {"event_type", event_type},          {"stream", stream},
                        {"reason", reason},     {"parked_at", format_timestamp(at)}, {"attempts", attempts}};
  return boost::json::serialize(o);
}

}  // namespace

ProjectionRunner::ProjectionRunner(EventStore& store, store::LocalStateStore& state,
                                   std::unique_ptr<Projection> projection, const ProjectionEngineOptions& options)
    : store_(store),
      state_(state),
      projection_(std::move(projection)),
      name_(projection_->name()),
      filter_(projection_->filter()),
      policy_(projection_->failure_policy()),
      options_(options),
      readmodels_(state.column_family(store::kCfReadModels)),
      checkpoints_(state.column_family(store::kCfCheckpoints)),
      staged_(state.db(), readmodels_, name_, options.cache_entries) {}

ProjectionRunner::~ProjectionRunner() { stop(); }

Status ProjectionRunner::load() {
  NEXUM_ASSIGN_OR_RETURN(auto checkpoint, store_.load_checkpoint(checkpoint_name(name_)));
  checkpoint_.store(checkpoint);

  std::string value;
  rocksdb::Status s = state_.db()->Get(rocksdb::ReadOptions(), readmodels_, status_key(name_), &value);
  if (s.ok()) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(value, ec);
    if (!ec && v.is_object()) {
      const auto& o = v.get_object();
      std::int64_t position = 0;
      if (auto* p = o.if_contains("position"); p && p->is_int64()) position = p->get_int64();
      std::string reason;
      if (auto* r = o.if_contains("reason"); r && r->is_string()) reason = r->get_string();
      {
        MutexLock lock(mu_);
        durable_error_position_ = position;
      }
      MutexLock lock(status_mu_);
      error_position_ = position;
      error_ = std::move(reason);
    }
  } else if (!s.IsNotFound()) {
    return store::to_status(s, "reading the error record of projection '" + name_ + "'");
  }

  std::int64_t parked = 0;
  std::string prefix = parked_prefix(name_);
  std::string end = prefix_successor(prefix);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(state_.db()->NewIterator(ro, readmodels_));
  for (it->Seek(prefix); it->Valid(); it->Next()) ++parked;
  NEXUM_RETURN_IF_ERROR(store::to_status(it->status(), "counting parked events of '" + name_ + "'"));
  parked_count_.store(parked);
  return Status();
}

Status ProjectionRunner::start() {
  MutexLock control(control_mu_);
  {
    MutexLock lock(mu_);
    if (mode_ != Mode::kIdle) return Status();
  }
  return start_locked();
}

// REQUIRES: control_mu_ held, mode kIdle.
Status ProjectionRunner::start_locked() {
  NEXUM_ASSIGN_OR_RETURN(auto checkpoint, store_.load_checkpoint(checkpoint_name(name_)));
  {
    MutexLock lock(mu_);
    reset_batch_locked();
    staged_.discard_staged();  // the cache stays: this runner is its keys' only writer
    checkpoint_.store(checkpoint);
    mode_ = Mode::kSubscribed;
    ++generation_;
  }
  {
    MutexLock lock(status_mu_);
    failed_ = false;
    external_ = false;
  }
  auto sub = store_.subscribe(checkpoint + 1, EventFilter{}, [this](const EventView& e) { return on_event(e); });
  if (!sub) {
    MutexLock lock(mu_);
    mode_ = Mode::kIdle;
    return sub.error();
  }
  MutexLock lock(status_mu_);
  subscription_ = std::move(sub).value();
  return Status();
}

void ProjectionRunner::stop() {
  MutexLock control(control_mu_);
  stop_locked(/*commit_pending=*/true);
}

// REQUIRES: control_mu_ held.
void ProjectionRunner::stop_locked(bool commit_pending) {
  stopping_.store(true);
  std::unique_ptr<Subscription> sub;
  {
    MutexLock lock(status_mu_);
    sub = std::move(subscription_);
    external_ = false;
  }
  if (sub) sub->stop();  // the handler has returned for the last time
  MutexLock lock(mu_);
  mode_ = Mode::kIdle;
  ++generation_;  // a SharedReplay feeding us lets go at its next event
  if (commit_pending && batch_events_ > 0) {
    Status s = commit_locked(batch_last_);
    if (!s.ok()) spdlog::error("projection {}: final commit failed: {}", name_, s.to_string());
  }
  stopping_.store(false);
}

Status ProjectionRunner::restart() {
  MutexLock control(control_mu_);
  stop_locked(/*commit_pending=*/true);
  {
    MutexLock lock(status_mu_);
    rebuilding_ = false;
  }
  return start_locked();
}

Status ProjectionRunner::reset_for_rebuild() {
  MutexLock control(control_mu_);
  stop_locked(/*commit_pending=*/false);
  {
    MutexLock lock(mu_);
    reset_batch_locked();
    staged_.clear();
    rocksdb::WriteBatch batch;
    std::string model = model_prefix(name_);
    std::string parked = parked_prefix(name_);
    rocksdb::Status s = batch.DeleteRange(readmodels_, model, prefix_successor(model));
    if (s.ok()) s = batch.DeleteRange(readmodels_, parked, prefix_successor(parked));
    if (s.ok()) s = batch.Delete(readmodels_, status_key(name_));
    auto zero = store::encode_u64(0);
    if (s.ok()) s = batch.Put(checkpoints_, checkpoint_name(name_), rocksdb::Slice(zero.data(), zero.size()));
    rocksdb::WriteOptions wo;
    wo.sync = options_.sync_commits;
    if (s.ok()) s = store::write_batch(state_.db(), wo, &batch);
    NEXUM_RETURN_IF_ERROR(store::to_status(s, "resetting projection '" + name_ + "'"));
    durable_error_position_ = 0;
    checkpoint_.store(0);
    parked_count_.store(0);
    applied_.store(0);
    projection_->reset();
  }
  {
    MutexLock lock(status_mu_);
    error_position_ = 0;
    error_.clear();
    failed_ = false;
    rebuilding_ = true;
    rebuild_started_ = SteadyClock::now();
  }
  status_cv_.notify_all();
  return Status();
}

Result<std::uint64_t> ProjectionRunner::begin_external(bool rebuilding) {
  MutexLock control(control_mu_);
  NEXUM_ASSIGN_OR_RETURN(auto checkpoint, store_.load_checkpoint(checkpoint_name(name_)));
  std::uint64_t generation = 0;
  {
    MutexLock lock(mu_);
    if (mode_ != Mode::kIdle) return Status::conflict("projection '" + name_ + "' is already running", -1);
    reset_batch_locked();
    staged_.discard_staged();  // the cache stays: this runner is its keys' only writer
    checkpoint_.store(checkpoint);
    mode_ = Mode::kExternal;
    generation = ++generation_;
  }
  MutexLock lock(status_mu_);
  failed_ = false;
  external_ = true;
  if (rebuilding && !rebuilding_) {
    rebuilding_ = true;
    rebuild_started_ = SteadyClock::now();
  }
  if (!rebuilding) rebuilding_ = false;
  return generation;
}

bool ProjectionRunner::feed(const EventView& e, std::uint64_t generation) {
  MutexLock lock(mu_);
  if (mode_ != Mode::kExternal || generation_ != generation) return false;
  if (e.global_position <= std::max(checkpoint_.load(std::memory_order_relaxed), batch_last_)) return true;
  if (process_locked(e).ok()) return true;
  mode_ = Mode::kIdle;  // in the error state; restart() resumes it
  return false;
}

void ProjectionRunner::fail_external(std::uint64_t generation, std::int64_t position, const Status& why) {
  MutexLock lock(mu_);
  if (mode_ != Mode::kExternal || generation_ != generation) return;
  mode_ = Mode::kIdle;
  set_error(position, why.to_string());
}

void ProjectionRunner::end_external(std::uint64_t generation) {
  MutexLock control(control_mu_);
  {
    MutexLock lock(mu_);
    if (mode_ != Mode::kExternal || generation_ != generation) return;
    if (batch_events_ > 0 && !commit_locked(batch_last_).ok()) {
      mode_ = Mode::kIdle;
      return;
    }
    mode_ = Mode::kIdle;
  }
  Status s = start_locked();
  if (!s.ok()) set_error(checkpoint() + 1, "subscribing after the shared replay: " + s.to_string());
}

void ProjectionRunner::reset_batch_locked() {
  batch_first_ = 0;
  batch_last_ = 0;
  batch_events_ = 0;
  batch_failed_.clear();
  error_record_.reset();
}

Status ProjectionRunner::apply_guarded(const EventView& e) {
  try {
    return projection_->apply(e, staged_);
  } catch (const std::exception& ex) {
    return Status::internal(std::string("apply threw: ") + ex.what());
  } catch (...) {
    return Status::internal("apply threw a non-standard exception");
  }
}

Status ProjectionRunner::on_event(const EventView& e) {
  MutexLock lock(mu_);
  return process_locked(e);
}

Status ProjectionRunner::process_locked(const EventView& e) {
  if (batch_events_ == 0) {
    batch_first_ = e.global_position;
    batch_started_ = SteadyClock::now();
  }
  ++batch_events_;
  batch_last_ = e.global_position;
  bool parked = false;
  if (matches(e)) {
    Status s = apply_guarded(e);
    if (s.ok()) {
      applied_.fetch_add(1, std::memory_order_relaxed);
    } else if (policy_ == FailurePolicy::kStop) {
      return fail_and_stop(e, s);
    } else {
      batch_failed_.push_back(
          {e.global_position, std::string(e.envelope.event_type), std::string(e.stream), s.to_string()});
      NEXUM_RETURN_IF_ERROR(replay_batch(e.global_position));
      parked = true;
    }
  }
  // Commit when full; once the batch has changed cache_entries keys (they
  // stay in memory until written); at the end of the log; and right after
  // a park, so the next failure re-applies only the events after this one.
  bool flush = parked || batch_events_ >= options_.max_batch_events || staged_.staged() >= options_.cache_entries ||
               e.global_position >= store_.last_position();
  if (!flush && batch_events_ % 16 == 0) {
    auto delay = mode_ == Mode::kExternal ? options_.replay_batch_delay : options_.max_batch_delay;
    flush = SteadyClock::now() - batch_started_ >= delay;
  }
  return flush ? commit_locked(e.global_position) : Status();
}

Status ProjectionRunner::replay_batch(std::int64_t end) {
  // The lambdas run inside scan_log, on this thread, with mu_ held.
  auto is_parked = [&](std::int64_t position) NEXUM_REQUIRES(mu_) {
    for (const FailedEvent& f : batch_failed_) {
      if (f.position == position) return true;
    }
    return false;
  };
  // Each pass either succeeds or learns one more failing event; a
  // deterministic apply needs one pass.
  for (std::size_t pass = 0; pass <= batch_failed_.size() + 1; ++pass) {
    staged_.discard_staged();
    if (end <= batch_first_) return Status();
    bool learned = false;
    Status s = store_.scan_log(batch_first_, static_cast<std::size_t>(end - batch_first_), EventFilter{},
                               [&](const EventView& ev) NEXUM_REQUIRES(mu_) -> Status {
                                 if (!matches(ev) || is_parked(ev.global_position)) return Status();
                                 Status as = apply_guarded(ev);
                                 if (as.ok()) return Status();
                                 if (policy_ == FailurePolicy::kStop) return as;
                                 batch_failed_.push_back({ev.global_position, std::string(ev.envelope.event_type),
                                                          std::string(ev.stream), as.to_string()});
                                 learned = true;
                                 return Status::unavailable("replay again");
                               });
    if (learned) continue;
    if (s.ok()) return Status();
    spdlog::error("projection {}: re-applying its batch failed: {}", name_, s.to_string());
    set_error(batch_first_, "re-applying the batch after a failure: " + s.to_string());
    return s;
  }
  set_error(batch_first_, "apply is not deterministic: re-applying the batch keeps failing");
  return Status::internal("projection '" + name_ + "': apply is not deterministic");
}

Status ProjectionRunner::fail_and_stop(const EventView& e, const Status& why) {
  std::string reason = why.to_string();
  spdlog::error("projection {} stopped at position {} ({}): {}", name_, e.global_position, e.envelope.event_type,
                reason);
  NEXUM_RETURN_IF_ERROR(replay_batch(e.global_position));
  error_record_ = FailedEvent{e.global_position, std::string(e.envelope.event_type), std::string(e.stream), reason};
  // The events before the failing one keep their effect; the checkpoint
  // stays just before it, so a restart retries it.
  NEXUM_RETURN_IF_ERROR(commit_locked(e.global_position - 1));
  set_error(e.global_position, reason);
  return Status(why.code(), "projection '" + name_ + "' stopped at position " + std::to_string(e.global_position) +
                                ": " + why.message());
}

void ProjectionRunner::set_error(std::int64_t position, std::string reason) {
  {
    MutexLock lock(status_mu_);
    failed_ = true;
    error_position_ = position;
    error_ = std::move(reason);
  }
  status_cv_.notify_all();
}

Status ProjectionRunner::commit_locked(std::int64_t checkpoint) {
  rocksdb::WriteBatch batch;
  staged_.write_staged(batch);
  const Timestamp now = clock_of(options_).now();
  for (const FailedEvent& f : batch_failed_) {
    batch
        .Put(readmodels_, parked_key(name_, f.position),
             parked_json(f.position, f.event_type, f.stream, f.reason, now, 1))
        .PermitUncheckedError();
  }
  const std::string skey = status_key(name_);
  std::int64_t error_position = durable_error_position_;
  if (error_record_) {
    boost::json::object o{{"state", "error"},
                          {"position", error_record_->position},
                          {"event_type", error_record_->event_type},
                          {"stream", error_record_->stream},
                          {"reason", error_record_->reason},
                          {"at", format_timestamp(now)}};
    batch.Put(readmodels_, skey, boost::json::serialize(o)).PermitUncheckedError();
    error_position = error_record_->position;
  } else if (durable_error_position_ > 0 && checkpoint >= durable_error_position_) {
    batch.Delete(readmodels_, skey).PermitUncheckedError();  // got past the event that failed before
    error_position = 0;
  }
  auto cp = store::encode_u64(static_cast<std::uint64_t>(checkpoint));
  batch.Put(checkpoints_, checkpoint_name(name_), rocksdb::Slice(cp.data(), cp.size())).PermitUncheckedError();
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync_commits;
  rocksdb::Status s = store::write_batch(state_.db(), wo, &batch);
  // A write the storage refuses (a full disk: RocksDB stays read-only until
  // the store resumes it, doc/reliability.md) is waited out rather than
  // turned into the error state that only a restart leaves: the same batch
  // is written again every 200 ms until it succeeds or the runner stops.
  // Meanwhile the status says error, naming the cause.
  static constexpr std::string_view kWaiting = "waiting for storage: ";
  bool waited = false;
  while (s.IsIOError() && !stopping_.load()) {
    if (!waited) {
      spdlog::warn("projection {}: commit refused by storage, retrying: {}", name_, s.ToString());
      set_error(batch_first_, std::string(kWaiting) + s.ToString());
      waited = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    s = store::write_batch(state_.db(), wo, &batch);
  }
  if (waited && s.ok()) {
    spdlog::info("projection {}: storage writable again, commit done", name_);
    MutexLock lock(status_mu_);
    if (failed_ && std::string_view(error_).substr(0, kWaiting.size()) == kWaiting) {
      failed_ = false;
      error_position_ = 0;
      error_.clear();
    }
  }
  if (!s.ok()) {
    Status st = store::to_status(s, "committing projection '" + name_ + "'");
    staged_.clear();  // the cache may hold values that never reached the store
    set_error(batch_first_, st.to_string());
    return st;
  }
  staged_.mark_committed();
  parked_count_.fetch_add(static_cast<std::int64_t>(batch_failed_.size()));
  const bool cleared = durable_error_position_ > 0 && error_position == 0;
  durable_error_position_ = error_position;
  reset_batch_locked();
  {
    MutexLock lock(status_mu_);
    checkpoint_.store(checkpoint, std::memory_order_release);
    if (cleared && !failed_) {
      error_position_ = 0;
      error_.clear();
    }
  }
  status_cv_.notify_all();
  if (options_.on_commit) options_.on_commit(name_, checkpoint);
  return Status();
}

ProjectionStatus ProjectionRunner::status() const {
  ProjectionStatus st;
  st.name = name_;
  st.policy = policy_;
  st.last_position = store_.last_position();
  st.parked = parked_count_.load();
  st.applied = applied_.load(std::memory_order_relaxed);
  MutexLock lock(status_mu_);
  st.checkpoint = checkpoint_.load(std::memory_order_acquire);
  st.lag = std::max<std::int64_t>(0, st.last_position - st.checkpoint);
  st.error_position = error_position_;
  st.error = error_;
  st.rebuild_started = rebuild_started_;
  if (failed_) {
    st.state = ProjectionState::kError;
  } else if (external_) {
    st.state = rebuilding_ ? ProjectionState::kRebuilding : ProjectionState::kRunning;
  } else if (!subscription_) {
    st.state = ProjectionState::kStopped;
  } else if (Status ss = subscription_->status(); !ss.ok()) {
    st.state = ProjectionState::kError;
    st.error_position = subscription_->position() + 1;
    st.error = ss.to_string();
  } else if (subscription_->caught_up()) {
    st.state = ProjectionState::kCaughtUp;
  } else {
    st.state = rebuilding_ ? ProjectionState::kRebuilding : ProjectionState::kRunning;
  }
  return st;
}

bool ProjectionRunner::wait_for(std::int64_t position, SteadyClock::time_point deadline) {
  MutexLock lock(status_mu_);
  status_cv_.wait_until(status_mu_, deadline,
                        [&]() NEXUM_REQUIRES(status_mu_) { return checkpoint_.load() >= position || failed_; });
  return checkpoint_.load() >= position;
}

Result<std::vector<ParkedEvent>> ProjectionRunner::parked(std::size_t limit) const {
  std::vector<ParkedEvent> out;
  std::string prefix = parked_prefix(name_);
  std::string end = prefix_successor(prefix);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(state_.db()->NewIterator(ro, readmodels_));
  for (it->Seek(prefix); it->Valid() && out.size() < limit; it->Next()) {
    ParkedEvent p;
    p.position = parked_key_position(store::to_view(it->key())).value_or(0);
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(store::to_view(it->value()), ec);
    if (ec || !v.is_object()) return Status::data_loss("parked event record of '" + name_ + "' is not a JSON object");
    const auto& o = v.get_object();
    auto str = [&](const char* k) -> std::string {
      auto* f = o.if_contains(k);
      return f && f->is_string() ? std::string(f->get_string()) : std::string();
    };
    p.event_type = str("event_type");
    p.stream = str("stream");
    p.reason = str("reason");
    p.parked_at = str("parked_at");
    if (auto* a = o.if_contains("attempts"); a && a->is_int64()) p.attempts = a->get_int64();
    out.push_back(std::move(p));
  }
  NEXUM_RETURN_IF_ERROR(store::to_status(it->status(), "listing parked events of '" + name_ + "'"));
  return out;
}

Status ProjectionRunner::retry_parked(std::int64_t position) {
  MutexLock control(control_mu_);
  MutexLock lock(mu_);
  // Commit the running batch first so only the retried event is staged.
  if (batch_events_ > 0) NEXUM_RETURN_IF_ERROR(commit_locked(batch_last_));
  const std::string key = parked_key(name_, position);
  std::string record;
  rocksdb::Status rs = state_.db()->Get(rocksdb::ReadOptions(), readmodels_, key, &record);
  if (rs.IsNotFound()) {
    return Status::not_found("projection '" + name_ + "' has no parked event at position " + std::to_string(position));
  }
  NEXUM_RETURN_IF_ERROR(store::to_status(rs, "reading a parked event"));
  std::int64_t attempts = 1;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(record, ec);
  if (!ec && v.is_object()) {
    if (auto* a = v.get_object().if_contains("attempts"); a && a->is_int64()) attempts = a->get_int64();
  }

  bool found = false;
  Status applied;
  std::string event_type, stream;
  NEXUM_RETURN_IF_ERROR(
      store_.scan_log(position, 1, EventFilter{}, [&](const EventView& e) NEXUM_REQUIRES(mu_) -> Status {
        found = e.global_position == position;
        event_type = std::string(e.envelope.event_type);
        stream = std::string(e.stream);
        if (found) applied = apply_guarded(e);
        return Status();
      }));
  if (!found) return Status::not_found("position " + std::to_string(position) + " is not in the log");

  rocksdb::WriteBatch batch;
  if (applied.ok()) {
    staged_.write_staged(batch);
    batch.Delete(readmodels_, key).PermitUncheckedError();
  } else {
    staged_.discard_staged();
    batch
        .Put(readmodels_, key,
             parked_json(position, event_type, stream, applied.to_string(), clock_of(options_).now(), attempts + 1))
        .PermitUncheckedError();
  }
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync_commits;
  rocksdb::Status s = store::write_batch(state_.db(), wo, &batch);
  if (!s.ok()) {
    staged_.clear();
    return store::to_status(s, "committing the retry of a parked event");
  }
  staged_.mark_committed();
  if (applied.ok()) parked_count_.fetch_sub(1);
  return applied;
}

}  // namespace nexum::projections
