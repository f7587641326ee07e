// topic_stats: events per topic and per event type, with first/last event
// time and position — what /kafka/status reports. Fields: projection_builtins.h.
#include <memory>

#include "nexum/json_codec.h"
#include "nexum/projection_builtins.h"
#include "projections/builtin_fields.h"

namespace nexum {
namespace {

// Thread-compatible (the engine serializes apply()).
class TopicStats final : public Projection {
 public:
  explicit TopicStats(FailurePolicy policy) : policy_(policy) {}

  std::string_view name() const override { return kTopicStats; }
  FailurePolicy failure_policy() const override { return policy_; }

  Status apply(const EventView& e, ReadModelWrites& writes) override {
    timestamp_.clear();
    append_timestamp(e.envelope.timestamp, timestamp_);
    NEXUM_RETURN_IF_ERROR(count(writes, "total", {}, {}, e));
    key_.assign("topic/");
    key_.append(e.topic);
    NEXUM_RETURN_IF_ERROR(count(writes, key_, "topic", e.topic, e));
    key_.assign("event_type/");
    key_.append(e.envelope.event_type);
    return count(writes, key_, "event_type", e.envelope.event_type, e);
  }

 private:
  Status count(ReadModelWrites& writes, std::string_view key, std::string_view label, std::string_view value,
               const EventView& e) {
    auto slot = writes.modify(key);
    if (!slot) return slot.error();
    auto obj = projections::as_object(*slot, key);
    if (!obj) return obj.error();
    boost::json::object& o = **obj;
    if (o.empty()) {
      if (!label.empty()) o[label] = value;
      o["events"] = 0;
      o["first_event_at"] = timestamp_;
      o["last_event_at"] = nullptr;
      o["first_position"] = e.global_position;
      o["last_position"] = 0;
    }
    o["events"] = projections::int_or(o, "events", 0) + 1;
    o["last_event_at"] = timestamp_;
    o["last_position"] = e.global_position;
    return Status();
  }

  const FailurePolicy policy_;
  std::string timestamp_;
  std::string key_;
};

}  // namespace

std::unique_ptr<Projection> make_topic_stats(FailurePolicy policy) { return std::make_unique<TopicStats>(policy); }

std::vector<std::unique_ptr<Projection>> make_builtin_projections(FailurePolicy policy) {
  std::vector<std::unique_ptr<Projection>> out;
  out.push_back(make_account_balances(policy));
  out.push_back(make_customer_directory(policy));
  out.push_back(make_loan_portfolio(policy));
  out.push_back(make_topic_stats(policy));
  return out;
}

std::vector<std::string_view> builtin_projection_names() {
  return {kAccountBalances, kCustomerDirectory, kLoanPortfolio, kTopicStats};
}

}  // namespace nexum
