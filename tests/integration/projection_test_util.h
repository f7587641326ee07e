// Helpers for projection tests: a counting projection whose read model
// records how many times each event was applied, and its verification.
#pragma once

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>

#include <boost/json/object.hpp>

#include "nexum/projection.h"
#include "nexum/projection_engine.h"

namespace nexum::testing {

// Key of the counting projection's entry for `position`: "p/000000000042"
// (zero-padded, so key order is position order).
inline std::string count_key(std::int64_t position) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "p/%012lld", static_cast<long long>(position));
  return buf;
}

// Records, per event it reads, how many times it was applied ({"count":n}).
// Fails on events whose data contains "poison":true while `poison_fails`.
// Thread-compatible (the engine serializes apply()).
class CountingProjection final : public Projection {
 public:
  explicit CountingProjection(std::string name = "counting", FailurePolicy policy = FailurePolicy::kStop,
                              EventFilter filter = {})
      : name_(std::move(name)), policy_(policy), filter_(std::move(filter)) {}

  std::string_view name() const override { return name_; }
  EventFilter filter() const override { return filter_; }
  FailurePolicy failure_policy() const override { return policy_; }

  Status apply(const EventView& e, ReadModelWrites& writes) override {
    auto slot = writes.modify(count_key(e.global_position));
    if (!slot) return slot.error();
    if ((*slot)->is_null()) {
      **slot = boost::json::object{{"count", 1}, {"stream", e.stream}, {"type", e.envelope.event_type}};
    } else {
      auto& o = (*slot)->as_object();
      o["count"] = o["count"].as_int64() + 1;
    }
    if (poison_fails->load() && e.envelope.data_json.find("\"poison\":true") != std::string_view::npos) {
      return Status::invalid_argument("poisoned event " + std::string(e.envelope.entity_id));
    }
    return Status();
  }

  // Shared so a test can flip it after handing the projection to the engine.
  std::shared_ptr<std::atomic<bool>> poison_fails = std::make_shared<std::atomic<bool>>(true);

 private:
  std::string name_;
  FailurePolicy policy_;
  EventFilter filter_;
};

}  // namespace nexum::testing
