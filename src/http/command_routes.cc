// POST /commands/{topic}: a command over HTTP, through the same
// NexumCommandHandler (and so the same idempotency) as the Kafka consumers.
#include <string>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include "http/admin_api.h"
#include "http/http_util.h"
#include "nexum/json_codec.h"
#include "nexum/topics.h"

namespace nexum::http_internal {

namespace {

bool is_handled_command_topic(std::string_view topic) {
  return topic == topics::kCommandsTransactions || topic == topics::kCommandsCustomers ||
         topic == topics::kCommandsLoans || topic == topics::kCommandsAccounts;
}

// "nexum.commands.loans" → "loan_command" (the type the seed's producers use).
std::string default_command_type(std::string_view topic) {
  if (topic == topics::kCommandsTransactions) return "transaction_command";
  if (topic == topics::kCommandsCustomers) return "customer_command";
  if (topic == topics::kCommandsLoans) return "loan_command";
  return "account_command";
}

// The body is a full envelope (it has "event_id": strict decode, the id is
// the idempotency key), or {"data":{…}, "metadata":{…}?, "event_type":…?},
// or the bare data object ({"action": …}). The last two get a fresh id.
Result<EventSchema> command_from_body(std::string_view topic, const boost::json::object& body) {
  if (body.contains("event_id")) return event_from_json(body);
  boost::json::object data;
  boost::json::object metadata;
  std::string event_type = default_command_type(topic);
  if (const boost::json::value* d = body.if_contains("data")) {
    if (!d->is_object()) return Status::invalid_argument("data: must be a JSON object");
    data = d->as_object();
    if (const boost::json::value* m = body.if_contains("metadata")) {
      if (!m->is_object()) return Status::invalid_argument("metadata: must be a JSON object");
      metadata = m->as_object();
    }
    if (const boost::json::value* t = body.if_contains("event_type")) {
      if (!t->is_string() || t->get_string().empty()) return Status::invalid_argument("event_type: must be a string");
      event_type = std::string(t->get_string());
    }
  } else {
    data = body;
  }
  return EventSchema::make(std::move(event_type), "", "", std::move(data), std::move(metadata),
                           SystemClock::instance());
}

}  // namespace

HttpResponse handle_command(NexumCommandHandler& handler, std::atomic<std::uint64_t>& received,
                            const HttpRequest& request, std::string_view topic) {
  if (!is_handled_command_topic(topic)) {
    return HttpResponse::error(404,
                               "'" + std::string(topic.substr(0, 100)) +
                                   "' is not a command topic (nexum.commands.{transactions,customers,loans,accounts})");
  }
  Result<std::optional<boost::json::value>> body = parse_json_body(request);
  if (!body) return status_response(body.error());
  if (!*body) return HttpResponse::error(400, "body: a command (JSON object) is required");
  if (!(*body)->is_object()) return HttpResponse::error(400, "body: must be a JSON object");
  Result<EventSchema> command = command_from_body(topic, (*body)->as_object());
  if (!command) return status_response(command.error());
  received.fetch_add(1);
  Result<CommandOutcome> outcome = handler.handle(topic, *command);
  if (!outcome) return status_response(outcome.error());
  boost::json::object o;
  o["outcome"] = outcome->accepted() ? "accepted" : "rejected";
  o["command_id"] = command->event_id.to_string();
  o["topic"] = outcome->topic;
  o["action"] = outcome->action;
  o["duplicate"] = outcome->duplicate;
  o["entity_type"] = outcome->entity_type;
  o["entity_id"] = outcome->entity_id;
  if (!outcome->accepted()) {
    o["reason"] = outcome->reason;
    o["message"] = outcome->message;
  }
  boost::json::array positions;
  for (std::int64_t p : outcome->positions) positions.push_back(p);
  o["positions"] = std::move(positions);
  return json_response(o);
}

}  // namespace nexum::http_internal
