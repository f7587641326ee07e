// Small pieces the admin API shares: target splitting, percent-decoding,
// request parameters from the query string and/or a JSON body, JSON
// responses, and the constant-time token check. No Beast here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "nexum/http_server.h"
#include "nexum/status.h"

namespace nexum::http_internal {

// "/a%20b?x=1&y" → path "/a b", query {("x","1"),("y","")}.
void split_target(std::string_view target, std::string& path, std::vector<std::pair<std::string, std::string>>& query);
// Percent-decoding; '+' becomes a space when `plus_is_space`. Invalid escapes are kept verbatim.
std::string percent_decode(std::string_view s, bool plus_is_space);

// Parses the body as JSON. nullopt for an empty body; InvalidArgument with
// the parser's reason (and offset) for malformed JSON.
Result<std::optional<boost::json::value>> parse_json_body(const HttpRequest& request);

// The parameters of a request: query parameters overlaid by the fields of a
// JSON object body (the body wins), so both the seed's code (query) and its
// document (JSON body) work. Thread-compatible.
class Params {
 public:
  Params(const HttpRequest& request, const boost::json::object* body) : request_(request), body_(body) {}
  // A string parameter; numbers and booleans in a JSON body are converted.
  // InvalidArgument naming it when the body holds another type.
  Result<std::optional<std::string>> string(std::string_view name) const;
  // An integer parameter in [min, max]. InvalidArgument naming it otherwise.
  Result<std::optional<std::int64_t>> integer(std::string_view name, std::int64_t min, std::int64_t max) const;
  const boost::json::object* body() const { return body_; }

 private:
  const HttpRequest& request_;
  const boost::json::object* body_;
};

// Equal length and bytes, in time independent of where they differ.
bool constant_time_equals(std::string_view a, std::string_view b);

// A 400/404/409/503/500 response for a Status (InvalidArgument 400,
// NotFound 404, Conflict 409, Unavailable 503, others 500).
HttpResponse status_response(const Status& status);
int http_status_for(const Status& status);

// serialize(value) with a trailing newline, as a 200/`status` JSON response.
HttpResponse json_response(const boost::json::value& value, int status = 200);

// ASCII letters, digits, '.', '_', '-'; 1-249 characters (Kafka's rule).
bool is_valid_topic(std::string_view topic);

}  // namespace nexum::http_internal
