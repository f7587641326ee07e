// topic_stats: events per topic and per event type, with first/last event
// time and position — what /kafka/status reports. Fields: projection_builtins.h.
#include <memory>
#include <optional>
#include <string>

#include "nexum/field_reader.h"
#include "nexum/json_codec.h"
#include "nexum/projection_builtins.h"
#include "projections/json_text.h"

namespace nexum {
namespace {

// One counter ("total", "topic/{topic}" or "event_type/{type}"), typed
// (ReadModelValue): every event bumps three of them, so the engine keeps them
// parsed and writes each once per batch. Thread-compatible.
class Counter final : public ReadModelValue {
 public:
  static Result<std::unique_ptr<ReadModelValue>> decode(std::string_view key, std::optional<std::string_view> stored) {
    auto c = std::make_unique<Counter>();
    if (key.starts_with("topic/")) c->label_ = "topic";
    if (key.starts_with("event_type/")) c->label_ = "event_type";
    if (!stored) return std::unique_ptr<ReadModelValue>(std::move(c));
    NEXUM_ASSIGN_OR_RETURN(auto o, projections::parse_stored_object(*stored, key));
    c->present_ = true;
    const FieldReader r(o, StatusCode::kDataLoss, std::string(key) + ".");
    if (!c->label_.empty()) {
      NEXUM_ASSIGN_OR_RETURN(auto label, r.nullable_string(c->label_));
      if (label.has_value()) c->label_value_.emplace(*label);
    }
    NEXUM_ASSIGN_OR_RETURN(auto events, r.optional_integer("events"));
    c->events_ = events.value_or(0);
    NEXUM_ASSIGN_OR_RETURN(c->first_event_at_, r.optional_timestamp("first_event_at"));
    NEXUM_ASSIGN_OR_RETURN(c->last_event_at_, r.optional_timestamp("last_event_at"));
    NEXUM_ASSIGN_OR_RETURN(c->first_position_, r.optional_integer("first_position"));
    NEXUM_ASSIGN_OR_RETURN(c->last_position_, r.optional_integer("last_position"));
    return std::unique_ptr<ReadModelValue>(std::move(c));
  }

  bool present() const override { return present_; }
  void append_json(std::string& out) const override {
    projections::JsonObjectWriter w(out);
    if (!label_.empty()) w.nullable_string(label_, label_value_);
    w.integer("events", events_);
    w.nullable_timestamp("first_event_at", first_event_at_);
    w.nullable_timestamp("last_event_at", last_event_at_);
    w.nullable_integer("first_position", first_position_);
    w.nullable_integer("last_position", last_position_);
  }

  void count(std::string_view label_value, const EventView& e) {
    if (!present_) {
      present_ = true;
      if (!label_.empty()) label_value_.emplace(label_value);
      first_event_at_ = e.envelope.timestamp;
      first_position_ = e.global_position;
    }
    ++events_;
    last_event_at_ = e.envelope.timestamp;
    last_position_ = e.global_position;
  }

 private:
  bool present_ = false;
  std::string_view label_;  // "topic", "event_type", or none for "total"
  std::optional<std::string> label_value_;
  std::int64_t events_ = 0;
  std::optional<Timestamp> first_event_at_;
  std::optional<Timestamp> last_event_at_;
  std::optional<std::int64_t> first_position_;
  std::optional<std::int64_t> last_position_;
};

// Thread-compatible (the engine serializes apply()).
class TopicStats final : public Projection {
 public:
  explicit TopicStats(FailurePolicy policy) : policy_(policy) {}

  std::string_view name() const override { return kTopicStats; }
  FailurePolicy failure_policy() const override { return policy_; }

  Status apply(const EventView& e, ReadModelWrites& writes) override {
    NEXUM_RETURN_IF_ERROR(count(writes, "total", {}, e));
    key_.assign("topic/");
    key_.append(e.topic);
    NEXUM_RETURN_IF_ERROR(count(writes, key_, e.topic, e));
    key_.assign("event_type/");
    key_.append(e.envelope.event_type);
    return count(writes, key_, e.envelope.event_type, e);
  }

 private:
  static Status count(ReadModelWrites& writes, std::string_view key, std::string_view label_value, const EventView& e) {
    NEXUM_ASSIGN_OR_RETURN(auto counter, writes.modify_as<Counter>(key));
    counter->count(label_value, e);
    return Status();
  }

  const FailurePolicy policy_;
  std::string key_;
};

}  // namespace

std::unique_ptr<Projection> make_topic_stats(FailurePolicy policy) { return std::make_unique<TopicStats>(policy); }

}  // namespace nexum
