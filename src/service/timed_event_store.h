// TimedEventStore: an EventStore that forwards to the real one and times
// every append (the /metrics append latency histogram). The running system
// (service::System) hands it to the command handler; the admin API appends
// publish-test events through it. It forwards
// local_state_store(), so projections and sagas accept it too.
#pragma once

#include <atomic>
#include <cstdint>

#include "nexum/store.h"
#include "service/latency_histogram.h"

namespace nexum::service {

// Thread-safe, like the store it wraps; `inner` must outlive it.
class TimedEventStore final : public EventStore {
 public:
  explicit TimedEventStore(EventStore& inner) : inner_(inner) {}

  Result<AppendResult> append_multi(std::vector<StreamAppend> appends) override;
  void append_async(std::vector<StreamAppend> appends, std::function<void(Result<AppendResult>)> done) override;
  Result<std::vector<RecordedEvent>> read_stream(std::string_view stream, std::int64_t from_version, std::size_t limit,
                                                 ReadDirection direction) override {
    return inner_.read_stream(stream, from_version, limit, direction);
  }
  Status scan_stream(std::string_view stream, std::int64_t from_version, std::size_t limit,
                     const std::function<Status(const EventView&)>& visit) override {
    return inner_.scan_stream(stream, from_version, limit, visit);
  }
  Status scan_log(std::int64_t from_position, std::size_t limit, const EventFilter& filter,
                  const std::function<Status(const EventView&)>& visit) override {
    return inner_.scan_log(from_position, limit, filter, visit);
  }
  Result<StreamInfo> stream_info(std::string_view stream) override { return inner_.stream_info(stream); }
  std::int64_t last_position() const override { return inner_.last_position(); }
  Result<std::int64_t> find_event(const EventId& id) override { return inner_.find_event(id); }
  Result<std::unique_ptr<Subscription>> subscribe(std::int64_t from_position, EventFilter filter,
                                                  SubscriptionHandler handler) override {
    return inner_.subscribe(from_position, std::move(filter), std::move(handler));
  }
  Status save_snapshot(std::string_view stream, const Snapshot& snapshot) override {
    return inner_.save_snapshot(stream, snapshot);
  }
  Result<Snapshot> load_snapshot(std::string_view stream) override { return inner_.load_snapshot(stream); }
  Result<std::int64_t> load_checkpoint(std::string_view consumer) override { return inner_.load_checkpoint(consumer); }
  Status save_checkpoint(std::string_view consumer, std::int64_t position) override {
    return inner_.save_checkpoint(consumer, position);
  }
  Status verify(const std::function<void(std::int64_t checked)>& progress) override { return inner_.verify(progress); }
  const std::string& directory() const override { return inner_.directory(); }
  Status write_health() const override { return inner_.write_health(); }
  store::LocalStateStore* local_state_store() override { return inner_.local_state_store(); }

  const LatencyHistogram& latency() const { return latency_; }
  std::uint64_t appends() const { return appends_.load(); }         // calls that wrote
  std::uint64_t appended_events() const { return events_.load(); }  // events written
  std::uint64_t append_errors() const { return errors_.load(); }    // calls that failed

 private:
  void record(const Result<AppendResult>& r, std::chrono::steady_clock::time_point start);

  EventStore& inner_;
  LatencyHistogram latency_;
  std::atomic<std::uint64_t> appends_{0}, events_{0}, errors_{0};
};

}  // namespace nexum::service
