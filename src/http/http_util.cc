#include "http/http_util.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <system_error>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/json_internal.h"
#include "core/json_strict.h"

namespace nexum {

const std::string* HttpRequest::query_param(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return &v;
  }
  return nullptr;
}

const std::string* HttpRequest::header(std::string_view lower_case_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_case_name) return &v;
  }
  return nullptr;
}

HttpResponse HttpResponse::error(int status, std::string_view detail) {
  boost::json::object o;
  // Details quote what the client sent (a path, a topic): bytes that are not
  // UTF-8 are written as \xNN text, never echoed raw into the JSON.
  if (json_internal::is_valid_utf8(detail)) {
    o["detail"] = detail;
  } else {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string safe;
    for (char c : detail) {
      const auto b = static_cast<unsigned char>(c);
      if (b < 0x80) {
        safe.push_back(c);
      } else {
        safe += "\\x";
        safe.push_back(kHex[b >> 4]);
        safe.push_back(kHex[b & 0xf]);
      }
    }
    o["detail"] = safe;
  }
  return json(status, boost::json::serialize(o) + "\n");
}

HttpResponse HttpResponse::json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Result<std::pair<std::string, std::uint16_t>> parse_http_address(std::string_view address) {
  std::string host = "127.0.0.1";
  std::string_view port = address;
  const auto colon = address.rfind(':');
  if (colon != std::string_view::npos) {
    std::string_view h = address.substr(0, colon);
    if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    if (!h.empty()) host = std::string(h);
    port = address.substr(colon + 1);
  }
  unsigned value = 0;
  const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value > 65535) {
    return Status::invalid_argument("http: '" + json_internal::printable(address) + "' is not host:port");
  }
  return std::make_pair(host, static_cast<std::uint16_t>(value));
}

namespace http_internal {

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

void split_target(std::string_view target, std::string& path, std::vector<std::pair<std::string, std::string>>& query) {
  const auto q = target.find('?');
  path = percent_decode(target.substr(0, q), false);
  query.clear();
  if (q == std::string_view::npos) return;
  std::string_view rest = target.substr(q + 1);
  const auto hash = rest.find('#');
  if (hash != std::string_view::npos) rest = rest.substr(0, hash);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    std::string_view part = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (part.empty()) continue;
    const auto eq = part.find('=');
    std::string key = percent_decode(part.substr(0, eq), true);
    std::string value = eq == std::string_view::npos ? std::string() : percent_decode(part.substr(eq + 1), true);
    query.emplace_back(std::move(key), std::move(value));
  }
}

Result<std::optional<boost::json::value>> parse_json_body(const HttpRequest& request) {
  std::string_view body = request.body;
  while (!body.empty() && std::strchr(" \t\r\n", body.front()) != nullptr) body.remove_prefix(1);
  if (body.empty()) return std::optional<boost::json::value>();
  boost::json::parse_options opts;
  opts.max_depth = 64;
  Result<boost::json::value> v = json_internal::parse_json_strict(body, "body", opts);
  if (!v) return v.error();
  return std::optional<boost::json::value>(std::move(*v));
}

Result<std::optional<std::string>> Params::string(std::string_view name) const {
  if (body_ != nullptr) {
    if (const boost::json::value* v = body_->if_contains(name)) {
      if (v->is_string()) return std::optional<std::string>(std::string(v->get_string()));
      if (v->is_null()) return std::optional<std::string>();
      if (v->is_int64() || v->is_uint64() || v->is_bool()) {
        return std::optional<std::string>(boost::json::serialize(*v));
      }
      return Status::invalid_argument(std::string(name) + ": must be a string");
    }
  }
  if (const std::string* q = request_.query_param(name)) return std::optional<std::string>(*q);
  return std::optional<std::string>();
}

Result<std::optional<std::int64_t>> Params::integer(std::string_view name, std::int64_t min, std::int64_t max) const {
  const std::string range = " (" + std::to_string(min) + ".." + std::to_string(max) + ")";
  std::optional<std::int64_t> value;
  const boost::json::value* v = body_ != nullptr ? body_->if_contains(name) : nullptr;
  if (v != nullptr && !v->is_string()) {
    if (v->is_null()) return std::optional<std::int64_t>();
    if (v->is_int64()) {
      value = v->get_int64();
    } else {
      return Status::invalid_argument(std::string(name) + ": must be an integer" + range);
    }
  } else {
    std::string text;
    if (v != nullptr) {
      text = std::string(v->get_string());
    } else if (const std::string* q = request_.query_param(name)) {
      text = *q;
    } else {
      return std::optional<std::int64_t>();
    }
    std::int64_t parsed = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
      return Status::invalid_argument(std::string(name) + ": '" + json_internal::printable(text) +
                                      "' is not an integer" + range);
    }
    value = parsed;
  }
  if (*value < min || *value > max) {
    return Status::invalid_argument(std::string(name) + ": " + std::to_string(*value) + " is out of range" + range);
  }
  return value;
}

bool constant_time_equals(std::string_view a, std::string_view b) {
  // Compare over the longer length so the time does not depend on a prefix match.
  const std::size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff = static_cast<unsigned char>(diff | (x ^ y));
  }
  // The volatile read keeps the compiler from short-circuiting the loop.
  volatile unsigned char result = diff;
  return result == 0;
}

int http_status_for(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kConflict: return 409;
    case StatusCode::kUnavailable: return 503;
    default: return 500;
  }
}

HttpResponse status_response(const Status& status) {
  return HttpResponse::error(http_status_for(status), status.message());
}

HttpResponse json_response(const boost::json::value& value, int status) {
  return HttpResponse::json(status, boost::json::serialize(value) + "\n");
}

bool is_valid_topic(std::string_view topic) {
  if (topic.empty() || topic.size() > 249 || topic == "." || topic == "..") return false;
  for (char c : topic) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace http_internal
}  // namespace nexum
