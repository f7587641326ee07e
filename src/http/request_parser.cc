#include "http/request_parser.h"

#include <cctype>
#include <cstdint>
#include <utility>

#include <boost/beast/http/error.hpp>

#include "http/http_util.h"

namespace nexum::http_internal {

namespace bhttp = boost::beast::http;

void configure_parser(RequestParser& parser, const HttpServerOptions& options) {
  parser.body_limit(options.max_body_bytes);
  parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
}

HttpRequest to_request(const BeastRequest& req, std::string remote) {
  HttpRequest out;
  out.method = std::string(req.method_string());
  out.target = std::string(req.target());
  split_target(out.target, out.path, out.query);
  for (const auto& field : req) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  out.body = req.body();
  out.remote = std::move(remote);
  return out;
}

std::optional<HttpResponse> answer_to_parse_error(boost::beast::error_code ec, const HttpServerOptions& options) {
  if (ec.category() != boost::beast::error_code(bhttp::error::body_limit).category()) return std::nullopt;
  if (ec == bhttp::error::end_of_stream) return std::nullopt;
  if (ec == bhttp::error::body_limit) {
    return HttpResponse::error(413, "request body larger than " + std::to_string(options.max_body_bytes) + " bytes");
  }
  if (ec == bhttp::error::header_limit) {
    return HttpResponse::error(431,
                               "request header larger than " + std::to_string(options.max_header_bytes) + " bytes");
  }
  return HttpResponse::error(400, "malformed HTTP request: " + ec.message());
}

}  // namespace nexum::http_internal
