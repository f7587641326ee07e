// FlakyBus: an EventBus for tests of what publishes through publish_recorded()
// (the outbox relay, the saga engine's command outbox). It refuses or fails
// the messages its test tells it to, and keeps the rest in order.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "nexum/bus.h"

namespace nexum::testing {

// Thread-safe. Per publish_recorded(), in this order: a message keyed
// "poison" is refused for good (InvalidArgument, as a broker refuses a
// message too large); while refuse_all() is on, or for the next
// refuse_next(n) messages, the message is not taken (Unavailable); for the
// next fail_next(n) taken messages the delivery report fails (Unavailable);
// any other message is kept and confirmed. Callbacks run before
// publish_recorded() returns.
class FlakyBus final : public EventBus {
 public:
  FlakyBus() = default;
  FlakyBus(int refuse_next, int fail_next) : refuse_next_(refuse_next), fail_next_(fail_next) {}

  Status subscribe(std::string_view, EventHandler) override { return Status(); }
  Status start() override { return Status(); }
  Status stop() override { return Status(); }
  bool is_running() const override { return true; }
  Status publish_recorded(const OutgoingMessage& m, DeliveryCallback cb) override {
    DeliveryReport r;
    r.topic = m.topic;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (m.key == std::optional<std::string>("poison")) {
        ++refused_for_good_;
        return Status::invalid_argument("message too large");
      }
      if (refuse_all_) return Status::unavailable("broker down");
      if (refuse_next_ > 0) {
        --refuse_next_;
        return Status::unavailable("broker down");
      }
      if (fail_next_ > 0) {
        --fail_next_;
        r.status = Status::unavailable("injected delivery failure");
      } else {
        delivered_.push_back(m);
      }
    }
    cb(r);
    return Status();
  }
  Status flush(std::chrono::milliseconds) override { return Status(); }

  void fail_next(int n) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_next_ = n;
  }
  void refuse_all(bool v) {
    std::lock_guard<std::mutex> lock(mu_);
    refuse_all_ = v;
  }
  // How many "poison" messages were refused.
  int refused_for_good() const {
    std::lock_guard<std::mutex> lock(mu_);
    return refused_for_good_;
  }
  // The confirmed messages, in the order they were taken.
  std::vector<OutgoingMessage> delivered() const {
    std::lock_guard<std::mutex> lock(mu_);
    return delivered_;
  }

 protected:
  Status do_publish(std::string_view, const EventSchema&, std::optional<std::string>) override { return Status(); }

 private:
  mutable std::mutex mu_;
  int refuse_next_ = 0;                     // guarded by mu_
  int fail_next_ = 0;                       // guarded by mu_
  int refused_for_good_ = 0;                // guarded by mu_
  bool refuse_all_ = false;                 // guarded by mu_
  std::vector<OutgoingMessage> delivered_;  // guarded by mu_
};

}  // namespace nexum::testing
