// SagaEngine. Guarantees: doc/sagas.md.
//
// Threads: the store subscription's thread feeds log events to the
// SagaProcessor; the Asio thread runs two timers — the deadline timer (every
// deadline_tick: poll_deadlines() on the injected clock) and the health timer
// (resubscribes from the checkpoint, with backoff, after a storage error);
// the CommandRelay has its own thread. The processor is touched only under
// process_mu_.
#include "nexum/saga_engine.h"

#include <pthread.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include <spdlog/spdlog.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/mutex.h"
#include "sagas/command_relay.h"
#include "sagas/saga_keys.h"
#include "sagas/saga_processor.h"
#include "store/keys.h"

namespace nexum {
namespace {

// While at the end of the log with nothing else to write, the checkpoint is
// persisted only every this many unrelated events (a restart rescans them).
constexpr std::int64_t kCheckpointEvery = 1024;
constexpr std::chrono::milliseconds kHealthTick{100};
// How long poll_deadlines() waits for the engine to catch up with the log.
constexpr std::chrono::milliseconds kCatchUpWait{10000};

}  // namespace

class SagaEngine::Impl {
 public:
  Impl(EventStore& store, store::LocalStateStore& state, EventBus& bus, const Saga& saga, SagaEngineOptions options,
       const Clock& clock)
      : store_(store),
        name_(saga.name()),
        options_(fill_defaults(std::move(options), name_)),
        clock_(clock),
        sync_(state.options().durability == Durability::kSync),
        processor_(store, state, saga, options_.checkpoint_name, options_.max_history, sync_, db_write_mu_),
        relay_(store, state, bus, name_,
               sagas::CommandRelayOptions{options_.relay_max_in_flight, options_.relay_delivery_timeout,
                                          options_.retry_backoff_initial, options_.retry_backoff_max, sync_},
               db_write_mu_),
        deadline_timer_(io_),
        health_timer_(io_) {
    backoff_ = options_.retry_backoff_initial;
  }

  ~Impl() { stop().ignore_error(); }

  Status init() {
    MutexLock lock(process_mu_);
    NEXUM_RETURN_IF_ERROR(processor_.load());
    set_processed(processor_.settled());
    return Status();
  }

  Status start() {
    MutexLock control(control_mu_);
    if (running_.load()) return Status();
    {
      MutexLock lock(process_mu_);
      NEXUM_RETURN_IF_ERROR(processor_.load());
      set_processed(processor_.settled());
    }
    {
      MutexLock lock(sub_mu_);
      NEXUM_RETURN_IF_ERROR(subscribe_locked());
    }
    running_.store(true);
    if (options_.run_command_relay) relay_.start();
    start_io();
    return Status();
  }

  Status stop() {
    MutexLock control(control_mu_);
    if (!running_.load()) return Status();
    running_.store(false);
    stop_io();
    {
      MutexLock lock(sub_mu_);
      if (sub_) sub_->stop();
      sub_.reset();
    }
    Status s;
    {
      MutexLock lock(process_mu_);
      if (!processor_.broken()) s = commit_locked();
    }
    relay_.stop();
    return s;
  }

  // Deadlines fire only once every event already in the log is handled, so
  // an event stamped before a deadline is always handled before it — live
  // as in a replay (doc/sagas.md, "Deadlines").
  Status poll_deadlines() {
    const std::int64_t target = store_.last_position();
    // A stopped engine reads nothing: waiting could not help.
    if (!wait_until_processed(target, running_.load() ? kCatchUpWait : std::chrono::milliseconds(0))) {
      return Status::unavailable("saga " + name_ + ": not caught up with the log (at " + std::to_string(processed()) +
                                 " of " + std::to_string(target) + "); deadlines fire once it is");
    }
    return fire_deadlines(target);
  }

  // The timer's poll: skips the round while behind the log.
  void poll_deadlines_if_caught_up() {
    const std::int64_t target = store_.last_position();
    if (processed() < target) return;
    fire_deadlines(target).ignore_error();  // logged by note_error; retried next tick
  }

  Status fire_deadlines(std::int64_t caught_up_to) {
    MutexLock lock(process_mu_);
    if (processor_.broken()) return Status::unavailable("saga engine is restarting after a storage error");
    if (processor_.position() < caught_up_to) return Status::unavailable("saga " + name_ + ": behind the log");
    bool outbox = false;
    Status s = processor_.fire_due(clock_.now(), outbox);
    if (outbox) relay_.notify();
    if (!s.ok()) {
      note_error(s);
      processor_.mark_broken();  // the health timer resubscribes from the checkpoint
      return s;
    }
    set_processed(processor_.settled());
    return Status();
  }

  bool wait_until_processed(std::int64_t position, std::chrono::milliseconds timeout) const {
    MutexLock lock(wait_mu_);
    return wait_cv_.wait_for(wait_mu_, timeout, [&]() NEXUM_REQUIRES(wait_mu_) { return processed_ >= position; });
  }

  bool wait_until_relayed(std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (relay_.pending(1) == 0) return true;
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  Status reset() {
    MutexLock control(control_mu_);
    if (running_.load()) return Status::conflict("saga engine is running: stop() it before reset()", -1);
    MutexLock lock(process_mu_);
    NEXUM_RETURN_IF_ERROR(processor_.reset());
    set_processed(processor_.settled());
    return Status();
  }

  SagaEngineStats stats() const {
    SagaEngineStats s;
    s.running = running_.load();
    {
      MutexLock lock(wait_mu_);
      s.checkpoint = processed_;
    }
    s.last_position = store_.last_position();
    const sagas::ProcessorCounters& c = counters();
    s.events_handled = c.events_handled.load();
    s.deadlines_fired = c.deadlines_fired.load();
    s.instances_started = c.started.load();
    s.instances_completed = c.completed.load();
    s.instances_rejected = c.rejected.load();
    s.instances_failed = c.failed.load();
    s.commands_enqueued = c.commands.load();
    sagas::CommandRelayCounters r = relay_.counters();
    s.commands_sent = r.sent;
    s.commands_deduplicated = r.deduplicated;
    s.commands_rejected = r.rejected;
    s.events_emitted = r.events;
    s.delivery_failures = r.failures;
    s.restarts = restarts_.load();
    s.outbox_pending = relay_.pending();
    MutexLock lock(error_mu_);
    s.last_error = last_error_.empty() ? r.last_error : last_error_;
    return s;
  }

  std::string_view name() const { return name_; }
  EventStore& store() const { return store_; }

 private:
  static SagaEngineOptions fill_defaults(SagaEngineOptions o, const std::string& name) {
    if (o.checkpoint_name.empty()) o.checkpoint_name = "saga/" + name;
    o.max_batch_events = std::max<std::size_t>(1, o.max_batch_events);
    o.deadline_tick = std::max(o.deadline_tick, std::chrono::milliseconds(1));
    o.relay_max_in_flight = std::max<std::size_t>(1, o.relay_max_in_flight);
    return o;
  }

  // REQUIRES: sub_mu_ held.
  // The processor's counters are atomics, read without process_mu_ (which
  // is held while an event is processed).
  const sagas::ProcessorCounters& counters() const NEXUM_NO_THREAD_SAFETY_ANALYSIS { return processor_.counters(); }

  Status subscribe_locked() NEXUM_REQUIRES(sub_mu_) {
    std::int64_t from;
    {
      MutexLock lock(process_mu_);
      from = processor_.committed() + 1;
    }
    auto sub = store_.subscribe(from, {}, [this](const EventView& e) { return on_event(e); });
    if (!sub) return sub.error();
    sub_ = std::move(sub).value();
    return Status();
  }

  // Subscription thread.
  Status on_event(const EventView& e) {
    MutexLock lock(process_mu_);
    if (processor_.broken()) return Status::unavailable("saga engine is restarting after a storage error");
    Status s = processor_.on_event(e);
    if (s.ok()) {
      const bool at_end = e.global_position >= store_.last_position();
      if (processor_.has_writes()) {
        if (at_end || processor_.pending_inputs() >= options_.max_batch_events) s = commit_locked();
      } else if (at_end && processor_.position() - processor_.committed() >= kCheckpointEvery) {
        s = commit_locked();
      }
    }
    if (!s.ok()) {
      note_error(s);
      processor_.mark_broken();
      return s;
    }
    set_processed(processor_.settled());
    return Status();
  }

  Status commit_locked() NEXUM_REQUIRES(process_mu_) {
    bool outbox = false;
    Status s = processor_.commit(outbox);
    if (outbox) relay_.notify();
    if (s.ok()) set_processed(processor_.settled());
    return s;
  }

  std::int64_t processed() const {
    MutexLock lock(wait_mu_);
    return processed_;
  }

  void set_processed(std::int64_t position) {
    {
      MutexLock lock(wait_mu_);
      processed_ = position;
    }
    wait_cv_.notify_all();
  }

  void note_error(const Status& s) {
    spdlog::error("saga {}: {}", name_, s.to_string());
    MutexLock lock(error_mu_);
    last_error_ = s.to_string();
  }

  // ---- Asio thread ----
  void start_io() {
    io_stopping_ = false;
    io_.restart();
    work_.emplace(io_.get_executor());
    arm_deadline_timer();
    arm_health_timer();
    io_thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "nexum-saga-io");
      io_.run();
    });
  }

  void stop_io() {
    boost::asio::post(io_, [this] {
      io_stopping_ = true;
      deadline_timer_.cancel();
      health_timer_.cancel();
    });
    work_.reset();
    if (io_thread_.joinable()) io_thread_.join();
  }

  void arm_deadline_timer() {
    deadline_timer_.expires_after(options_.deadline_tick);
    deadline_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || io_stopping_) return;
      poll_deadlines_if_caught_up();
      arm_deadline_timer();
    });
  }

  void arm_health_timer() {
    health_timer_.expires_after(kHealthTick);
    health_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || io_stopping_) return;
      check_health();
      arm_health_timer();
    });
  }

  // Restarts processing from the checkpoint after a storage error.
  void check_health() {
    MutexLock lock(sub_mu_);
    const auto now = std::chrono::steady_clock::now();
    bool failed = false;
    {
      MutexLock plock(process_mu_);
      failed = processor_.broken();
    }
    if (sub_ && (failed || !sub_->status().ok())) {
      if (!sub_->status().ok()) note_error(sub_->status());
      sub_->stop();
      sub_.reset();
      retry_at_ = now + backoff_;
      backoff_ = std::min(backoff_ * 2, options_.retry_backoff_max);
      restarts_.fetch_add(1);
      return;
    }
    if (!sub_ && now >= retry_at_) {
      Status s;
      {
        MutexLock plock(process_mu_);
        s = processor_.load();
        if (s.ok()) set_processed(processor_.settled());
      }
      if (s.ok()) s = subscribe_locked();
      if (!s.ok()) {
        note_error(s);
        retry_at_ = now + backoff_;
        backoff_ = std::min(backoff_ * 2, options_.retry_backoff_max);
      }
      return;
    }
    if (sub_ && sub_->caught_up()) backoff_ = options_.retry_backoff_initial;
  }

  EventStore& store_;
  const std::string name_;
  const SagaEngineOptions options_;
  const Clock& clock_;
  const bool sync_;

  Mutex control_mu_;   // serializes start/stop/reset
  Mutex db_write_mu_;  // one RocksDB write of this engine at a time (processor and relay)
  std::atomic<bool> running_{false};

  Mutex process_mu_;
  sagas::SagaProcessor processor_ NEXUM_GUARDED_BY(process_mu_);  // (its counters are atomics)

  Mutex sub_mu_;  // ordered before process_mu_
  std::unique_ptr<Subscription> sub_ NEXUM_GUARDED_BY(sub_mu_);
  std::chrono::steady_clock::time_point retry_at_ NEXUM_GUARDED_BY(sub_mu_){};
  std::chrono::milliseconds backoff_ NEXUM_GUARDED_BY(sub_mu_){0};
  std::atomic<std::uint64_t> restarts_{0};

  mutable Mutex wait_mu_;
  mutable CondVar wait_cv_;
  std::int64_t processed_ NEXUM_GUARDED_BY(wait_mu_) = 0;

  mutable Mutex error_mu_;
  std::string last_error_ NEXUM_GUARDED_BY(error_mu_);

  sagas::CommandRelay relay_;

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  boost::asio::steady_timer deadline_timer_;  // Strand-bound: the Asio thread
  boost::asio::steady_timer health_timer_;    // Strand-bound: the Asio thread
  bool io_stopping_ = false;                  // Asio thread only (and start_io before it runs)
  std::thread io_thread_;
};

Result<std::unique_ptr<SagaEngine>> SagaEngine::create(EventStore& store, EventBus& bus, const Saga& saga,
                                                       SagaEngineOptions options, const Clock& clock) {
  NEXUM_RETURN_IF_ERROR(validate_saga_name(saga.name()));
  NEXUM_ASSIGN_OR_RETURN(auto state, store::local_state_of(store, "SagaEngine"));
  auto impl = std::make_unique<Impl>(store, *state, bus, saga, std::move(options), clock);
  NEXUM_RETURN_IF_ERROR(impl->init());
  return std::unique_ptr<SagaEngine>(new SagaEngine(std::move(impl)));
}

SagaEngine::SagaEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SagaEngine::~SagaEngine() = default;
Status SagaEngine::start() { return impl_->start(); }
Status SagaEngine::stop() { return impl_->stop(); }
Status SagaEngine::poll_deadlines() { return impl_->poll_deadlines(); }
bool SagaEngine::wait_until_processed(std::int64_t position, std::chrono::milliseconds timeout) const {
  return impl_->wait_until_processed(position, timeout);
}
bool SagaEngine::wait_until_relayed(std::chrono::milliseconds timeout) const {
  return impl_->wait_until_relayed(timeout);
}
Status SagaEngine::reset() { return impl_->reset(); }
SagaEngineStats SagaEngine::stats() const { return impl_->stats(); }
Result<SagaInstance> SagaEngine::find_instance(std::string_view id) const {
  return load_saga_instance(impl_->store(), impl_->name(), id);
}
std::string_view SagaEngine::saga_name() const { return impl_->name(); }

}  // namespace nexum
