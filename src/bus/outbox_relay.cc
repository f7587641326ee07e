// OutboxRelay. Delivery guarantees: doc/delivery.md.
//
// Two threads: the store subscription's thread reads the log in order and
// hands each event to the bus (waiting when max_in_flight are outstanding);
// the control thread persists the checkpoint and handles pauses. A pause
// (delivery failure, bus switch, stop) stops the subscription, drains the
// bus, persists the contiguous confirmed position, and resubscribes after it.
// A refusal for good (InvalidArgument) parks the relay instead: it waits,
// visibly, for a bus switch or stop rather than retrying forever.
#include "nexum/outbox_relay.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <pthread.h>
#include <spdlog/spdlog.h>

#include "core/mutex.h"
#include "nexum/kafka_message.h"

namespace nexum {
class OutboxRelay::Impl {
 public:
  Impl(EventStore& store, EventBus& bus, OutboxRelayOptions options, const Clock& clock)
      : store_(store), bus_(&bus), options_(std::move(options)), clock_(clock) {}

  ~Impl() { stop().ignore_error(); }

  Status start() {
    MutexLock lock(mu_);
    if (running_) return Status();
    NEXUM_ASSIGN_OR_RETURN(auto checkpoint, store_.load_checkpoint(options_.name));
    confirmed_ = persisted_ = checkpoint;
    stop_requested_ = false;
    running_ = true;
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "nexum-relay");
      run();
    });
    return Status();
  }

  Status stop() {
    {
      MutexLock lock(mu_);
      if (!running_) return Status();
      stop_requested_ = true;
    }
    control_cv_.notify_all();
    window_cv_.notify_all();
    thread_.join();
    MutexLock lock(mu_);
    running_ = false;
    return last_persist_;
  }

  Status switch_bus(EventBus& bus) {
    MutexLock lock(mu_);
    if (!running_) {
      bus_ = &bus;
      return Status();
    }
    pending_bus_ = &bus;
    control_cv_.notify_all();
    window_cv_.notify_all();
    control_cv_.wait(mu_, [&]() NEXUM_REQUIRES(mu_) { return pending_bus_ == nullptr || !running_; });
    return Status();
  }

  bool wait_until_relayed(std::int64_t position, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    MutexLock lock(mu_);
    return progress_cv_.wait_until(mu_, deadline, [&]() NEXUM_REQUIRES(mu_) { return confirmed_ >= position; });
  }

  RelayStats stats() const {
    RelayStats s;
    std::int64_t oldest_micros = 0;
    {
      MutexLock lock(mu_);
      s.running = running_;
      s.checkpoint = confirmed_;
      s.delivered = delivered_;
      s.resent = resent_;
      s.delivery_failures = delivery_failures_;
      s.restarts = restarts_;
      s.last_error = last_error_;
      s.parked = parked_;
      s.parked_position = parked_position_;
      s.parked_reason = parked_reason_;
      for (std::size_t i = 0; i < window_.size() && oldest_micros == 0; ++i) {
        if (!window_[i].confirmed) oldest_micros = window_[i].timestamp_micros;
      }
    }
    s.last_position = store_.last_position();
    s.lag_positions = std::max<std::int64_t>(0, s.last_position - s.checkpoint);
    if (s.lag_positions > 0 && oldest_micros == 0) {
      // Behind, with nothing in flight: the oldest unrelayed event is the next one.
      store_
          .scan_log(s.checkpoint + 1, 1, {},
                    [&](const EventView& e) {
                      oldest_micros = e.envelope.timestamp.time_since_epoch().count();
                      return Status();
                    })
          .ignore_error();
    }
    if (s.lag_positions > 0 && oldest_micros != 0) {
      s.lag_seconds = std::max(0.0, static_cast<double>(clock_.now().time_since_epoch().count() - oldest_micros) / 1e6);
    }
    return s;
  }

 private:
  struct InFlight {
    bool confirmed = false;
    std::int64_t timestamp_micros = 0;
  };

  // Control thread.
  void run() {
    auto backoff = options_.retry_backoff_initial;
    for (;;) {
      std::uint64_t epoch;
      std::int64_t from;
      {
        MutexLock lock(mu_);
        epoch = ++epoch_;
        failure_ = false;
        // Tickets of earlier epochs stay below this one's first.
        window_base_ticket_ += window_.size();
        window_.clear();
        window_base_ = confirmed_ + 1;
        from = window_base_;
      }
      std::int64_t confirmed_at_start = from - 1;
      auto sub = store_.subscribe(from, {}, [this, epoch](const EventView& e) { return relay(epoch, e); });
      if (!sub) {
        note_failure(sub.error());
      } else {
        MutexLock lock(mu_);
        while (!stop_requested_ && pending_bus_ == nullptr && !failure_) {
          control_cv_.wait_for(mu_, options_.checkpoint_interval);
          lock.unlock();
          persist();
          Status sub_status = (*sub)->status();
          lock.lock();
          if (!sub_status.ok() && !failure_) {  // e.g. DataLoss while reading the log
            failure_ = true;
            last_error_ = sub_status.to_string();
          }
        }
      }
      // Pause: stop reading, drain the bus, persist what is confirmed.
      window_cv_.notify_all();
      if (sub) (*sub)->stop();
      EventBus* bus = current_bus();
      Status flushed = bus->flush(options_.drain_timeout);
      if (!flushed.ok()) spdlog::warn("outbox relay: draining the bus: {}", flushed.to_string());
      bool failed, stopping;
      {
        MutexLock lock(mu_);
        for (const InFlight& f : window_) resent_ += f.confirmed ? 1 : 0;  // confirmed out of order: sent again
        window_base_ticket_ += window_.size();                             // late callbacks of this epoch are ignored
        window_.clear();
        ++epoch_;  // late callbacks of this epoch are ignored
        failed = failure_;
        stopping = stop_requested_;
        if (pending_bus_ != nullptr) {
          bus_ = pending_bus_;
          pending_bus_ = nullptr;
        }
        if (failed) ++restarts_;
      }
      control_cv_.notify_all();
      persist();
      if (stopping) return;
      if (wait_while_parked()) return;
      if (!failed) {
        backoff = options_.retry_backoff_initial;
        continue;
      }
      if (confirmed() > confirmed_at_start) backoff = options_.retry_backoff_initial;
      MutexLock lock(mu_);
      control_cv_.wait_for(mu_, backoff, [&]() NEXUM_REQUIRES(mu_) { return stop_requested_; });
      if (stop_requested_) return;
      backoff = std::min(backoff * 2, options_.retry_backoff_max);
    }
  }

  // Subscription thread: one event, in log order.
  Status relay(std::uint64_t epoch, const EventView& e) {
    EventBus* bus;
    std::uint64_t ticket;
    {
      MutexLock lock(mu_);
      window_cv_.wait(mu_,
                      [&]() NEXUM_REQUIRES(mu_) { return window_.size() < options_.max_in_flight || pausing(epoch); });
      if (pausing(epoch)) return Status::unavailable("outbox relay pausing");
      ticket = window_base_ticket_ + window_.size();
      window_.push_back(InFlight{false, e.envelope.timestamp.time_since_epoch().count()});
      bus = bus_;
    }
    // One message object for every event: its buffers are reused, so
    // building a message allocates nothing (the bus copies what it keeps).
    make_kafka_message(e, message_);
    // Two words of capture: std::function keeps them without a heap
    // allocation (the report arrives on the bus's delivery thread, which
    // would free it there).
    Status s = bus->publish_recorded(message_, [this, ticket](const DeliveryReport& r) { on_delivery(ticket, r); });
    if (!s.ok()) {
      note_failure(s, e.global_position);
      return s;
    }
    return Status();
  }

  // Control thread, after a pause. Returns true when stopping.
  bool wait_while_parked() {
    MutexLock lock(mu_);
    if (!parked_) return false;
    spdlog::error("outbox relay parked at position {}: {}; relaying resumes after a bus switch or a restart",
                  parked_position_, parked_reason_);
    control_cv_.wait(mu_, [&]() NEXUM_REQUIRES(mu_) { return stop_requested_ || pending_bus_ != nullptr; });
    if (stop_requested_) return true;
    bus_ = pending_bus_;  // the parked event is the first one tried on it
    pending_bus_ = nullptr;
    parked_ = false;
    parked_reason_.clear();
    control_cv_.notify_all();
    return false;
  }

  // Bus delivery thread (or inline, for local buses). `ticket` is the
  // window slot's ticket given in relay(); one from an earlier epoch is
  // below window_base_ticket_ or was never given in this one.
  void on_delivery(std::uint64_t ticket, const DeliveryReport& r) {
    MutexLock lock(mu_);
    if (ticket < window_base_ticket_ || ticket - window_base_ticket_ >= window_.size()) return;
    const std::size_t index = static_cast<std::size_t>(ticket - window_base_ticket_);
    const std::int64_t position = window_base_ + static_cast<std::int64_t>(index);
    if (!r.status.ok()) {
      ++delivery_failures_;
      last_error_ = "position " + std::to_string(position) + ": " + r.status.to_string();
      failure_ = true;
      park_if_permanent_locked(r.status, position);
      lock.unlock();
      control_cv_.notify_all();
      window_cv_.notify_all();
      return;
    }
    ++delivered_;
    window_[index].confirmed = true;
    bool was_full = window_.size() >= options_.max_in_flight;
    bool advanced = false;
    while (!window_.empty() && window_.front().confirmed) {
      window_.pop_front();
      confirmed_ = window_base_++;
      ++window_base_ticket_;
      advanced = true;
    }
    lock.unlock();
    if (was_full) window_cv_.notify_all();
    if (advanced) progress_cv_.notify_all();
  }

  bool pausing(std::uint64_t epoch) const NEXUM_REQUIRES(mu_) {
    return failure_ || stop_requested_ || pending_bus_ != nullptr || epoch != epoch_;
  }

  // REQUIRES: mu_ held. InvalidArgument from a bus is a refusal for good
  // (bus.h: too large, bad topic); the first one parks the relay.
  void park_if_permanent_locked(const Status& s, std::int64_t position) NEXUM_REQUIRES(mu_) {
    if (s.code() != StatusCode::kInvalidArgument || parked_) return;
    parked_ = true;
    parked_position_ = position;
    parked_reason_ = "position " + std::to_string(position) + " refused by the bus: " + s.to_string();
  }

  void note_failure(const Status& s, std::int64_t position = 0) {
    {
      MutexLock lock(mu_);
      failure_ = true;
      ++delivery_failures_;
      last_error_ = s.to_string();
      if (position > 0) park_if_permanent_locked(s, position);
    }
    spdlog::warn("outbox relay: {}", s.to_string());
    control_cv_.notify_all();
    window_cv_.notify_all();
  }

  void persist() {
    std::int64_t c;
    {
      MutexLock lock(mu_);
      if (confirmed_ <= persisted_) return;
      c = confirmed_;
    }
    Status s = store_.save_checkpoint(options_.name, c);
    MutexLock lock(mu_);
    last_persist_ = s;
    if (s.ok()) persisted_ = std::max(persisted_, c);
  }

  std::int64_t confirmed() const {
    MutexLock lock(mu_);
    return confirmed_;
  }

  EventBus* current_bus() const {
    MutexLock lock(mu_);
    return bus_;
  }

  EventStore& store_;
  EventBus* bus_ NEXUM_GUARDED_BY(mu_);  // not owned
  const OutboxRelayOptions options_;
  const Clock& clock_;

  mutable Mutex mu_;
  CondVar control_cv_;   // stop, switch, failure, pause finished
  CondVar window_cv_;    // room in the in-flight window
  CondVar progress_cv_;  // confirmed_ advanced
  bool running_ NEXUM_GUARDED_BY(mu_) = false;
  bool stop_requested_ NEXUM_GUARDED_BY(mu_) = false;
  bool failure_ NEXUM_GUARDED_BY(mu_) = false;
  EventBus* pending_bus_ NEXUM_GUARDED_BY(mu_) = nullptr;
  std::uint64_t epoch_ NEXUM_GUARDED_BY(mu_) = 0;
  std::int64_t confirmed_ NEXUM_GUARDED_BY(mu_) = 0;
  std::int64_t persisted_ NEXUM_GUARDED_BY(mu_) = 0;
  std::int64_t window_base_ NEXUM_GUARDED_BY(mu_) = 1;  // position of window_.front()
  // Every message sent gets the next ticket, across epochs; window_.front()
  // holds ticket window_base_ticket_, so a delivery callback carries one
  // number that names both its epoch and its position.
  std::uint64_t window_base_ticket_ NEXUM_GUARDED_BY(mu_) = 0;
  std::deque<InFlight> window_ NEXUM_GUARDED_BY(mu_);
  std::uint64_t delivered_ NEXUM_GUARDED_BY(mu_) = 0;
  std::uint64_t resent_ NEXUM_GUARDED_BY(mu_) = 0;
  std::uint64_t delivery_failures_ NEXUM_GUARDED_BY(mu_) = 0;
  std::uint64_t restarts_ NEXUM_GUARDED_BY(mu_) = 0;
  std::string last_error_ NEXUM_GUARDED_BY(mu_);
  Status last_persist_ NEXUM_GUARDED_BY(mu_);
  bool parked_ NEXUM_GUARDED_BY(mu_) = false;
  std::int64_t parked_position_ NEXUM_GUARDED_BY(mu_) = 0;
  std::string parked_reason_ NEXUM_GUARDED_BY(mu_);
  // The message being sent: touched only by the subscription's thread.
  OutgoingMessage message_;
  std::thread thread_;
};

OutboxRelay::OutboxRelay(EventStore& store, EventBus& bus, OutboxRelayOptions options, const Clock& clock)
    : impl_(std::make_unique<Impl>(store, bus, std::move(options), clock)) {}
OutboxRelay::~OutboxRelay() = default;
Status OutboxRelay::start() { return impl_->start(); }
Status OutboxRelay::stop() { return impl_->stop(); }
Status OutboxRelay::switch_bus(EventBus& bus) { return impl_->switch_bus(bus); }
bool OutboxRelay::wait_until_relayed(std::int64_t position, std::chrono::milliseconds timeout) {
  return impl_->wait_until_relayed(position, timeout);
}
RelayStats OutboxRelay::stats() const { return impl_->stats(); }

}  // namespace nexum
