// GET /dlq, GET /dlq/{id}, POST /dlq/{id}/redrive, POST /dlq/redrive: the
// dead-letter topic read back from Kafka, with each command's fate, and
// re-drives through the running service's bus. doc/http_api.md, "Dead
// letters"; format and states: doc/dead_letters.md.
#include <string>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "banking/dead_letters.h"
#include "http/admin_api.h"
#include "http/http_util.h"
#include "nexum/bus_config.h"

namespace nexum::http_internal {

namespace {

using banking_internal::DeadLetter;
using banking_internal::DeadLetterId;
using banking_internal::DeadLetterTopic;
using banking_internal::DeadLetterView;

// Each partition is read back this far for listings and "redrive all".
constexpr std::size_t kNewestPerPartition = 1000;
// How long one read of the dead-letter topic may wait for the cluster.
constexpr std::chrono::milliseconds kReadTimeout{10000};
constexpr std::int64_t kDefaultWaitMs = 5000;

Result<std::unique_ptr<DeadLetterTopic>> open_dlq(const DeadLetterSources& sources) {
  const BusConfig& config = sources.bus;
  if (config.type != BusType::kKafka) {
    return Status::conflict("dead letters are kept on Kafka: the bus is " + std::string(bus_type_name(config.type)) +
                                ", where the handler publishes them to nexum.commands.dlq in this process only "
                                "(run with --bus kafka to keep, list and re-drive them)",
                            -1);
  }
  return DeadLetterTopic::create(kafka_bus_options(config), kReadTimeout);
}

Result<std::chrono::milliseconds> wait_param(const HttpRequest& request) {
  Params params(request, nullptr);
  NEXUM_ASSIGN_OR_RETURN(std::optional<std::int64_t> wait, params.integer("wait_ms", 0, 60000));
  return std::chrono::milliseconds(wait.value_or(kDefaultWaitMs));
}

}  // namespace

HttpResponse handle_dlq_list(const DeadLetterSources& sources, const HttpRequest& request) {
  Params params(request, nullptr);
  Result<std::optional<std::int64_t>> limit = params.integer("limit", 1, 1000);
  if (!limit) return status_response(limit.error());
  Result<std::optional<std::string>> state = params.string("state");
  if (!state) return status_response(state.error());
  if (*state && **state != "pending" && **state != "resolved" && **state != "failed_again") {
    return HttpResponse::error(400, "state: one of pending, resolved, failed_again");
  }
  Result<std::unique_ptr<DeadLetterTopic>> dlq = open_dlq(sources);
  if (!dlq) return status_response(dlq.error());
  Result<DeadLetterTopic::Page> page = (*dlq)->read(kNewestPerPartition);
  if (!page) return status_response(page.error());
  const std::int64_t total = page->total;
  Result<std::vector<DeadLetterView>> views =
      banking_internal::describe_dead_letters(std::move(page->letters), (*dlq)->topic(), &sources.store);
  if (!views) return status_response(views.error());
  boost::json::object counts{{"pending", 0}, {"resolved", 0}, {"failed_again", 0}};
  boost::json::array letters;
  const std::size_t max = static_cast<std::size_t>(limit->value_or(100));
  for (auto it = views->rbegin(); it != views->rend(); ++it) {  // newest first
    const std::string_view name = banking_internal::dead_letter_state_name(it->state);
    counts[name] = counts[name].as_int64() + 1;
    if (*state && **state != name) continue;
    if (letters.size() < max) letters.push_back(banking_internal::dead_letter_json(*it, false));
  }
  boost::json::object o;
  o["topic"] = (*dlq)->topic();
  o["total"] = total;               // messages in the topic
  o["read"] = views->size();        // of those, read back (the newest per partition)
  o["counts"] = std::move(counts);  // by state, among those read
  o["count"] = letters.size();
  o["dead_letters"] = std::move(letters);
  return json_response(o);
}

HttpResponse handle_dlq_show(const DeadLetterSources& sources, std::string_view id_text) {
  Result<DeadLetterId> id = DeadLetterId::parse(id_text);
  if (!id) return status_response(id.error());
  Result<std::unique_ptr<DeadLetterTopic>> dlq = open_dlq(sources);
  if (!dlq) return status_response(dlq.error());
  Result<DeadLetter> letter = (*dlq)->read(*id);
  if (!letter) return status_response(letter.error());
  // Its state needs the later letters (a failed re-drive names it).
  Result<DeadLetterTopic::Page> page = (*dlq)->read(kNewestPerPartition);
  if (!page) return status_response(page.error());
  std::vector<DeadLetter> letters{std::move(*letter)};
  for (DeadLetter& d : page->letters) {
    if (!d.redrive_of.empty()) letters.push_back(std::move(d));
  }
  Result<std::vector<DeadLetterView>> views =
      banking_internal::describe_dead_letters(std::move(letters), (*dlq)->topic(), &sources.store);
  if (!views) return status_response(views.error());
  return json_response(banking_internal::dead_letter_json(views->front(), true));
}

HttpResponse handle_dlq_redrive(const DeadLetterSources& sources, const HttpRequest& request,
                                std::string_view id_text) {
  Result<DeadLetterId> id = DeadLetterId::parse(id_text);
  if (!id) return status_response(id.error());
  Result<std::chrono::milliseconds> wait = wait_param(request);
  if (!wait) return status_response(wait.error());
  Result<std::unique_ptr<DeadLetterTopic>> dlq = open_dlq(sources);
  if (!dlq) return status_response(dlq.error());
  Result<banking_internal::RedriveResult> r =
      banking_internal::redrive_dead_letter(**dlq, sources.publisher, *id, &sources.store, *wait);
  if (!r) return status_response(r.error());
  return json_response(banking_internal::redrive_json(*r, (*dlq)->topic()));
}

HttpResponse handle_dlq_redrive_all(const DeadLetterSources& sources, const HttpRequest& request) {
  Result<std::chrono::milliseconds> wait = wait_param(request);
  if (!wait) return status_response(wait.error());
  Result<std::unique_ptr<DeadLetterTopic>> dlq = open_dlq(sources);
  if (!dlq) return status_response(dlq.error());
  Result<std::vector<banking_internal::RedriveResult>> rs =
      banking_internal::redrive_pending(**dlq, sources.publisher, &sources.store, *wait, kNewestPerPartition);
  if (!rs) return status_response(rs.error());
  boost::json::array items;
  boost::json::object counts;
  for (const auto& r : *rs) {
    boost::json::object j = banking_internal::redrive_json(r, (*dlq)->topic());
    const std::string state(j["state"].as_string());
    counts[state] = counts.contains(state) ? counts[state].as_int64() + 1 : 1;
    items.push_back(std::move(j));
  }
  boost::json::object o;
  o["redriven"] = items.size();
  o["counts"] = std::move(counts);
  o["results"] = std::move(items);
  return json_response(o);
}

}  // namespace nexum::http_internal
