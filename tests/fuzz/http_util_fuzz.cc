// libFuzzer target: what the admin API does with a request's bytes before
// any route runs (src/http/http_util.h) — the target split into a
// percent-decoded path and query, the JSON body parsed strictly, parameters
// read from both — and the error answer built from what it refused. Input:
// the request target, a newline, the body. Build and run: `./dev fuzz http_util`.
//
// Properties checked on every input:
//   - no crash, leak or sanitizer report;
//   - percent-decoding never lengthens its input;
//   - a refused body or parameter is InvalidArgument with a printable-ASCII
//     message, and the 400 answer built from it is valid JSON (so valid UTF-8)
//     whatever bytes the path held.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "http/http_util.h"
#include "nexum/http_server.h"

namespace {

using nexum::fuzz::require;

void require_json_answer(const nexum::HttpResponse& r) { nexum::fuzz::require_valid_json(r.body); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace nexum;
  using namespace nexum::http_internal;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t nl = input.find('\n');
  HttpRequest request;
  request.method = "POST";
  request.target = std::string(input.substr(0, nl));
  if (nl != std::string_view::npos) request.body = std::string(input.substr(nl + 1));
  split_target(request.target, request.path, request.query);
  require(percent_decode(request.target, true).size() <= request.target.size(), "percent-decoding never lengthens");
  require(request.path.size() <= request.target.size(), "the path is no longer than the target");
  require_json_answer(status_response(Status::not_found("no route for " + request.path)));

  Result<std::optional<boost::json::value>> body = parse_json_body(request);
  if (!body.has_value()) {
    fuzz::require_clean_refusal(body.error(), StatusCode::kInvalidArgument);
    require(http_status_for(body.error()) == 400, "a bad body is 400");
    require_json_answer(status_response(body.error()));
    return 0;
  }
  const boost::json::object* object = body->has_value() && (*body)->is_object() ? &(*body)->as_object() : nullptr;
  const Params params(request, object);
  for (std::string_view name : {"topic", "stream", "event_type", "entity_id", "bootstrap_servers"}) {
    Result<std::optional<std::string>> s = params.string(name);
    if (!s.has_value()) {
      fuzz::require_clean_refusal(s.error(), StatusCode::kInvalidArgument);
      require_json_answer(status_response(s.error()));
    } else if (s->has_value()) {
      (void)is_valid_topic(**s);
      require_json_answer(status_response(Status::invalid_argument(std::string(name) + ": '" + **s + "' refused")));
    }
  }
  for (std::string_view name : {"limit", "from", "offset"}) {
    Result<std::optional<std::int64_t>> n = params.integer(name, 0, 1000);
    if (!n.has_value()) {
      fuzz::require_clean_refusal(n.error(), StatusCode::kInvalidArgument);
    } else if (n->has_value()) {
      require(**n >= 0 && **n <= 1000, "an integer parameter is within its bounds");
    }
  }
  return 0;
}
