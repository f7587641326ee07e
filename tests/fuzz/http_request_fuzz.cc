// libFuzzer target: bytes as they arrive on an admin API connection —
// Boost.Beast's HTTP/1.1 request parser with the server's limits
// (src/http/request_parser.h, the same calls a connection makes), then the
// request a handler sees, its JSON body and parameters. The limits are
// small here (1 KiB of header, 512 bytes of body) so inputs reach them.
// Build and run: `./dev fuzz http_request`.
//
// Properties checked on every input:
//   - no crash, leak or sanitizer report;
//   - bytes the parser refuses get the answer the server writes (400, 413
//     or 431), its body valid JSON; errors that are no protocol error get none;
//   - a parsed request: header names in lower case, the decoded path no
//     longer than the target, the body within the limit; a refused body or
//     parameter is InvalidArgument with a printable-ASCII message.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>

#include "fuzz/fuzz_check.h"
#include "http/http_util.h"
#include "http/request_parser.h"
#include "nexum/http_server.h"

namespace {

using nexum::fuzz::require;

void require_json_answer(const nexum::HttpResponse& r) { nexum::fuzz::require_valid_json(r.body); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace nexum;
  using namespace nexum::http_internal;
  namespace bhttp = boost::beast::http;
  HttpServerOptions options;
  options.max_header_bytes = 1024;
  options.max_body_bytes = 512;
  RequestParser parser;
  configure_parser(parser, options);
  boost::beast::error_code ec;
  std::size_t used = 0;
  while (!ec && !parser.is_done() && used < size) {
    used += parser.put(boost::asio::buffer(data + used, size - used), ec);
    if (ec == bhttp::error::need_more) {
      ec = {};
      break;
    }
  }
  if (!ec && !parser.is_done()) {
    if (!parser.got_some()) return 0;  // closed before a byte: the server closes too, no answer
    parser.put_eof(ec);                // the peer closed the connection here
  }
  if (ec) {
    std::optional<HttpResponse> answer = answer_to_parse_error(ec, options);
    if (answer) {
      require(answer->status == 400 || answer->status == 413 || answer->status == 431, "a refusal is 400, 413 or 431");
      require_json_answer(*answer);
    }
    return 0;
  }
  require(parser.is_done(), "a request without error is complete");
  const HttpRequest request = to_request(parser.release(), "127.0.0.1:1");
  require(request.body.size() <= options.max_body_bytes, "the body is within the limit");
  require(request.path.size() <= request.target.size(), "the path is no longer than the target");
  for (const auto& [name, value] : request.headers) {
    for (char c : name) require(std::tolower(static_cast<unsigned char>(c)) == c, "header names are lower case");
  }
  require_json_answer(status_response(Status::not_found("no route for " + request.path)));
  Result<std::optional<boost::json::value>> body = parse_json_body(request);
  if (!body.has_value()) {
    fuzz::require_clean_refusal(body.error(), StatusCode::kInvalidArgument);
    require_json_answer(status_response(body.error()));
    return 0;
  }
  const boost::json::object* object = body->has_value() && (*body)->is_object() ? &(*body)->as_object() : nullptr;
  const Params params(request, object);
  for (std::string_view name : {"topic", "bus_type", "bootstrap_servers"}) {
    Result<std::optional<std::string>> s = params.string(name);
    if (!s.has_value()) {
      fuzz::require_clean_refusal(s.error(), StatusCode::kInvalidArgument);
      require_json_answer(status_response(s.error()));
    }
  }
  Result<std::optional<std::int64_t>> limit = params.integer("limit", 1, 1000);
  if (!limit.has_value()) fuzz::require_clean_refusal(limit.error(), StatusCode::kInvalidArgument);
  return 0;
}
