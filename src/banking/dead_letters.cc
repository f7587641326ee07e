#include "banking/dead_letters.h"

#include <future>
#include <map>
#include <thread>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>

#include "nexum/json_codec.h"
#include "nexum/kafka_message.h"

namespace nexum::banking_internal {

namespace {

constexpr auto kPollOutcomeEvery = std::chrono::milliseconds(50);
constexpr auto kPollDlqEvery = std::chrono::milliseconds(500);
// How far back a re-drive looks for the dead letter of its failed command.
constexpr std::size_t kRecentPerPartition = 200;

std::string redrive_ref(const std::string& dlq_topic, const DeadLetterId& id) {
  return dlq_topic + "/" + id.to_string();
}

// Publishes the re-drive of `letter` and waits for the broker.
Result<DeliveryReport> republish(const DeadLetter& letter, const std::string& dlq_topic, EventBus& bus) {
  NEXUM_ASSIGN_OR_RETURN(OutgoingMessage message, kafka_internal::redrive_message(letter, dlq_topic));
  auto report = std::make_shared<std::promise<DeliveryReport>>();
  std::future<DeliveryReport> got = report->get_future();
  NEXUM_RETURN_IF_ERROR(bus.publish_recorded(message, [report](const DeliveryReport& r) { report->set_value(r); }));
  DeliveryReport r = got.get();  // exactly one callback per accepted message
  if (!r.status.ok()) {
    return Status::unavailable("republishing dead letter " + letter.id.to_string() + " to " + letter.source_topic +
                               ": " + r.status.to_string());
  }
  return r;
}

}  // namespace

std::string_view dead_letter_state_name(DeadLetterState state) {
  switch (state) {
    case DeadLetterState::kPending: return "pending";
    case DeadLetterState::kResolved: return "resolved";
    case DeadLetterState::kFailedAgain: return "failed_again";
  }
  return "pending";
}

Result<std::vector<DeadLetterView>> describe_dead_letters(std::vector<DeadLetter> letters, const std::string& dlq_topic,
                                                          EventStore* store) {
  std::map<std::string, std::vector<std::string>> redriven;  // "{dlq}/{id}" → later ids
  for (const DeadLetter& d : letters) {
    if (!d.redrive_of.empty()) redriven[d.redrive_of].push_back(d.id.to_string());
  }
  std::vector<DeadLetterView> out;
  out.reserve(letters.size());
  for (DeadLetter& d : letters) {
    DeadLetterView v;
    Result<EventSchema> command = decode_event_json(d.value);
    if (command) {
      v.command_id = command->event_id.to_string();
      const boost::json::value* action = command->data.if_contains("action");
      if (action != nullptr && action->is_string()) v.action = std::string(action->as_string());
    }
    if (store != nullptr && !v.command_id.empty()) {
      NEXUM_ASSIGN_OR_RETURN(v.outcome, find_command_outcome(*store, v.command_id));
      if (v.outcome) v.outcome->topic = d.source_topic;
      if (v.outcome) v.outcome->action = v.action;
    }
    auto again = redriven.find(redrive_ref(dlq_topic, d.id));
    if (again != redriven.end()) v.redriven_as = again->second;
    v.state = v.outcome                ? DeadLetterState::kResolved
              : !v.redriven_as.empty() ? DeadLetterState::kFailedAgain
                                       : DeadLetterState::kPending;
    v.letter = std::move(d);
    out.push_back(std::move(v));
  }
  return out;
}

boost::json::object outcome_json(const CommandOutcome& outcome) {
  boost::json::object o;
  o["outcome"] = outcome.accepted() ? "accepted" : "rejected";
  o["topic"] = outcome.topic;
  o["action"] = outcome.action;
  o["entity_type"] = outcome.entity_type;
  o["entity_id"] = outcome.entity_id;
  if (!outcome.accepted()) {
    o["reason"] = outcome.reason;
    o["message"] = outcome.message;
  }
  boost::json::array positions;
  for (std::int64_t p : outcome.positions) positions.push_back(p);
  o["positions"] = std::move(positions);
  return o;
}

boost::json::object dead_letter_json(const DeadLetterView& v, bool with_message) {
  const DeadLetter& d = v.letter;
  boost::json::object o;
  o["id"] = d.id.to_string();
  o["partition"] = d.id.partition;
  o["offset"] = d.id.offset;
  o["timestamp_ms"] = d.timestamp_ms;
  boost::json::object source;
  source["topic"] = d.source_topic.empty() ? boost::json::value(nullptr) : boost::json::value(d.source_topic);
  source["partition"] = d.source_partition >= 0 ? boost::json::value(d.source_partition) : boost::json::value(nullptr);
  source["offset"] = d.source_offset >= 0 ? boost::json::value(d.source_offset) : boost::json::value(nullptr);
  source["group"] = d.group.empty() ? boost::json::value(nullptr) : boost::json::value(d.group);
  o["source"] = std::move(source);
  o["error"] = d.error;
  o["attempts"] = d.attempts;
  o["key"] = d.key ? boost::json::value(*d.key) : boost::json::value(nullptr);
  o["command_id"] = v.command_id.empty() ? boost::json::value(nullptr) : boost::json::value(v.command_id);
  o["action"] = v.action.empty() ? boost::json::value(nullptr) : boost::json::value(v.action);
  o["redrive_of"] = d.redrive_of.empty() ? boost::json::value(nullptr) : boost::json::value(d.redrive_of);
  o["state"] = dead_letter_state_name(v.state);
  o["outcome"] = v.outcome ? boost::json::value(outcome_json(*v.outcome)) : boost::json::value(nullptr);
  boost::json::array again;
  for (const std::string& id : v.redriven_as) again.push_back(boost::json::value(id));
  o["redriven_as"] = std::move(again);
  o["bytes"] = d.value.size();
  if (with_message) {
    boost::system::error_code ec;
    boost::json::value parsed = boost::json::parse(d.value, ec);
    o["value"] = ec ? boost::json::value(nullptr) : std::move(parsed);
    o["value_text"] = d.value;
    boost::json::array headers;
    for (const MessageHeader& h : d.headers) {
      boost::json::object hj;
      hj["name"] = h.name;
      hj["value"] = h.value;
      headers.push_back(std::move(hj));
    }
    o["headers"] = std::move(headers);
  }
  return o;
}

boost::json::object redrive_json(const RedriveResult& r, const std::string& dlq_topic) {
  boost::json::object o;
  o["dead_letter"] = r.from.to_string();
  o["command_id"] = r.command_id.empty() ? boost::json::value(nullptr) : boost::json::value(r.command_id);
  boost::json::object to;
  to["topic"] = r.republished.topic;
  to["partition"] = r.republished.partition;
  to["offset"] = r.republished.offset;
  to["header"] = std::string(kHeaderRedriveOf) + ": " + redrive_ref(dlq_topic, r.from);
  o["republished"] = std::move(to);
  if (r.outcome) {
    o["state"] = r.outcome->accepted() ? "accepted" : "rejected";
    o["outcome"] = outcome_json(*r.outcome);
  } else if (r.failed_again) {
    o["state"] = "failed_again";
    o["outcome"] = nullptr;
    o["dead_lettered_as"] = r.failed_again->letter.id.to_string();
    o["error"] = r.failed_again->letter.error;
  } else {
    o["state"] = "sent";  // no outcome seen yet (not waited for, or not handled within the wait)
    o["outcome"] = nullptr;
  }
  return o;
}

namespace {

// Waits until every result has an outcome or a failed_again, or `wait` passed.
Status await_outcomes(DeadLetterTopic& dlq, EventStore& store, std::vector<RedriveResult>& results,
                      std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  auto next_dlq_look = std::chrono::steady_clock::now() + kPollDlqEvery;
  for (;;) {
    std::size_t open = 0;
    for (RedriveResult& r : results) {
      if (r.outcome || r.failed_again) continue;
      if (!r.command_id.empty()) {
        NEXUM_ASSIGN_OR_RETURN(r.outcome, find_command_outcome(store, r.command_id));
        if (r.outcome) {
          r.outcome->topic = r.republished.topic;
          r.outcome->action = r.action;
          continue;
        }
      }
      ++open;
    }
    if (open == 0) return Status();
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_dlq_look || now >= deadline) {
      next_dlq_look = now + kPollDlqEvery;
      Result<DeadLetterTopic::Page> recent = dlq.read(kRecentPerPartition);
      if (recent) {
        std::map<std::string, DeadLetter*> by_origin;
        for (DeadLetter& d : recent->letters) {
          if (!d.redrive_of.empty()) by_origin[d.redrive_of] = &d;
        }
        for (RedriveResult& r : results) {
          if (r.outcome || r.failed_again) continue;
          auto it = by_origin.find(redrive_ref(dlq.topic(), r.from));
          if (it == by_origin.end()) continue;
          NEXUM_ASSIGN_OR_RETURN(std::vector<DeadLetterView> v,
                                 describe_dead_letters({*it->second}, dlq.topic(), nullptr));
          r.failed_again = std::move(v.front());
        }
      }
      if (now >= deadline) return Status();
    }
    std::this_thread::sleep_for(kPollOutcomeEvery);
  }
}

Result<RedriveResult> redrive_letter(const DeadLetter& letter, const std::string& dlq_topic, EventBus& bus) {
  RedriveResult result;
  result.from = letter.id;
  if (Result<EventSchema> command = decode_event_json(letter.value)) {
    result.command_id = command->event_id.to_string();
    const boost::json::value* action = command->data.if_contains("action");
    if (action != nullptr && action->is_string()) result.action = std::string(action->as_string());
  }
  NEXUM_ASSIGN_OR_RETURN(result.republished, republish(letter, dlq_topic, bus));
  return result;
}

}  // namespace

Result<RedriveResult> redrive_dead_letter(DeadLetterTopic& dlq, EventBus& bus, const DeadLetterId& id,
                                          EventStore* store, std::chrono::milliseconds wait) {
  NEXUM_ASSIGN_OR_RETURN(DeadLetter letter, dlq.read(id));
  NEXUM_ASSIGN_OR_RETURN(RedriveResult result, redrive_letter(letter, dlq.topic(), bus));
  if (store == nullptr || wait.count() <= 0) return result;
  std::vector<RedriveResult> one{std::move(result)};
  NEXUM_RETURN_IF_ERROR(await_outcomes(dlq, *store, one, wait));
  return std::move(one.front());
}

Result<std::vector<RedriveResult>> redrive_pending(DeadLetterTopic& dlq, EventBus& bus, EventStore* store,
                                                   std::chrono::milliseconds wait, std::size_t newest_per_partition) {
  NEXUM_ASSIGN_OR_RETURN(DeadLetterTopic::Page page, dlq.read(newest_per_partition));
  NEXUM_ASSIGN_OR_RETURN(std::vector<DeadLetterView> views,
                         describe_dead_letters(std::move(page.letters), dlq.topic(), store));
  std::vector<RedriveResult> results;
  for (const DeadLetterView& v : views) {
    if (v.state != DeadLetterState::kPending) continue;
    if (v.letter.source_topic.empty() || v.letter.source_topic == dlq.topic()) continue;  // nowhere to send it
    NEXUM_ASSIGN_OR_RETURN(RedriveResult r, redrive_letter(v.letter, dlq.topic(), bus));
    results.push_back(std::move(r));
  }
  if (store != nullptr && wait.count() > 0 && !results.empty()) {
    NEXUM_RETURN_IF_ERROR(await_outcomes(dlq, *store, results, wait));
  }
  return results;
}

}  // namespace nexum::banking_internal
