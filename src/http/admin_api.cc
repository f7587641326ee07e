// The admin API's router: path and method matching, bearer-token auth,
// /health and /ready. Endpoints and codes: doc/http_api.md.
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "http/http_util.h"
#include "http/service_core.h"
#include "nexum/kafka_bus.h"

namespace nexum::http_internal {

namespace {

HttpResponse method_not_allowed(std::string_view allow) {
  HttpResponse r = HttpResponse::error(405, "method not allowed; use " + std::string(allow));
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

// nullopt when the request may proceed; otherwise the 401/403 to send.
std::optional<HttpResponse> check_token(const ServiceCore& core, const HttpRequest& request) {
  if (core.options.token.empty()) return std::nullopt;
  const std::string* auth = request.header("authorization");
  if (auth == nullptr || auth->empty()) {
    HttpResponse r = HttpResponse::error(401, "missing Authorization: Bearer <token>");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  std::string_view value = *auth;
  constexpr std::string_view kBearer = "Bearer ";
  const bool bearer = value.size() >= kBearer.size() &&
                      std::equal(kBearer.begin(), kBearer.end(), value.begin(), [](char a, char b) {
                        return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
                      });
  if (!bearer || !constant_time_equals(value.substr(kBearer.size()), core.options.token)) {
    return HttpResponse::error(403, "invalid token");
  }
  return std::nullopt;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

}  // namespace

HttpResponse handle_health(ServiceCore&) {
  boost::json::object o;
  o["status"] = "ok";
  return json_response(o);
}

HttpResponse handle_ready(ServiceCore& core) {
  boost::json::object checks;
  bool ready = true;
  std::string reason;  // what is waited for, check by check
  auto check = [&](std::string_view name, bool ok, std::string detail) {
    boost::json::object c;
    c["ok"] = ok;
    if (!detail.empty()) c["detail"] = detail;
    checks[name] = std::move(c);
    ready = ready && ok;
    if (!ok) reason += (reason.empty() ? "" : "; ") + std::string(name) + ": " + (detail.empty() ? "not ok" : detail);
  };
  const Status writable = core.store ? core.store->write_health() : Status();
  check("store", core.store != nullptr && writable.ok(),
        core.store == nullptr ? "not open" : writable.ok() ? "" : "read-only: " + writable.message());
  const RelayStats relay = core.relay ? core.relay->stats() : RelayStats{};
  check("relay", relay.running && !relay.parked,
        relay.parked    ? "parked: " + relay.parked_reason
        : relay.running ? ""
        : relay.last_error.empty() ? "not running"
                                   : relay.last_error);
  auto bus = core.current_bus();
  check("bus", bus && bus->is_running(), bus && bus->is_running() ? "" : "not running");
  if (auto probe = core.current_probe()) {
    Status s = probe->ping();
    check("kafka", s.ok(), s.ok() ? "" : s.message());
    // Commands are consumed only once every consumer has its partitions.
    if (bus && bus->capabilities().consumer_groups) {
      Status assigned = bus->wait_until_assigned(std::chrono::milliseconds(0));
      check("consumers", assigned.ok(), assigned.ok() ? "" : assigned.message());
    }
  }
  boost::json::object o;
  o["status"] = ready ? "ready" : "not_ready";
  o["reason"] = ready ? boost::json::value(nullptr) : boost::json::value(reason);
  o["checks"] = std::move(checks);
  return json_response(o, ready ? 200 : 503);
}

HttpResponse route(ServiceCore& core, const HttpRequest& request,
                   const std::function<Status(const BusConfig&)>& configure_bus) {
  const std::string_view path = request.path;
  const std::string_view method = request.method;
  const bool get = method == "GET";
  const bool post = method == "POST";
  if (core.store == nullptr) return HttpResponse::error(503, "the service is not running");

  // Mutating endpoints: POST only, token-checked after the path matched.
  auto mutating = [&](auto&& handler) -> HttpResponse {
    if (!post) return method_not_allowed("POST");
    if (auto denied = check_token(core, request)) return *denied;
    return handler();
  };
  auto reading = [&](auto&& handler) -> HttpResponse {
    if (!get) return method_not_allowed("GET");
    return handler();
  };

  if (path == "/health") return reading([&] { return handle_health(core); });
  if (path == "/ready") return reading([&] { return handle_ready(core); });
  if (path == "/metrics") return reading([&] { return handle_metrics(core); });
  if (path == "/kafka/status") return reading([&] { return handle_kafka_status(core, request); });
  if (path == "/kafka/events") return reading([&] { return handle_kafka_events(core, request); });
  if (path == "/kafka/publish-test") {
    if (!post) return method_not_allowed("POST");
    if (core.options.token.empty()) {
      if (!core.options.dev_mode) {
        return HttpResponse::error(403, "publish-test is disabled: run with --dev or configure a token");
      }
      return handle_publish_test(core, request);
    }
    return mutating([&] { return handle_publish_test(core, request); });
  }
  if (path == "/kafka/config") return mutating([&] { return handle_kafka_config(core, request, configure_bus); });
  if (path == "/projections" || path == "/projections/") return reading([&] { return handle_projections(core); });
  if (path == "/ui" || starts_with(path, "/ui/")) return reading([&] { return handle_ui(path); });
  if (path == "/log") return reading([&] { return handle_log(core, request); });
  if (path == "/sagas" || path == "/sagas/") return reading([&] { return handle_sagas(core, request); });
  if (starts_with(path, "/projections/")) {
    std::string_view rest = path.substr(std::string_view("/projections/").size());
    const auto slash = rest.find('/');
    std::string_view name = rest.substr(0, slash);
    std::string_view key = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (key == "rebuild" && post) return mutating([&] { return handle_projection_rebuild(core, name); });
    return reading([&] { return handle_projection_query(core, request, name, key); });
  }
  if (starts_with(path, "/streams/") && path.size() > std::string_view("/streams/").size()) {
    return reading([&] { return handle_stream(core, request, path.substr(std::string_view("/streams/").size())); });
  }
  if (starts_with(path, "/sagas/")) {
    std::string_view rest = path.substr(std::string_view("/sagas/").size());
    const auto slash = rest.find('/');
    if (slash != std::string_view::npos && slash > 0 && slash + 1 < rest.size()) {
      return reading([&] { return handle_saga(core, rest.substr(0, slash), rest.substr(slash + 1)); });
    }
  }
  if (path == "/dlq" || path == "/dlq/") return reading([&] { return handle_dlq_list(core, request); });
  if (path == "/dlq/redrive") return mutating([&] { return handle_dlq_redrive_all(core, request); });
  if (starts_with(path, "/dlq/")) {
    std::string_view rest = path.substr(std::string_view("/dlq/").size());
    constexpr std::string_view kRedrive = "/redrive";
    if (rest.size() > kRedrive.size() && rest.substr(rest.size() - kRedrive.size()) == kRedrive) {
      return mutating([&] { return handle_dlq_redrive(core, request, rest.substr(0, rest.size() - kRedrive.size())); });
    }
    return reading([&] { return handle_dlq_show(core, rest); });
  }
  if (starts_with(path, "/commands/") && path.size() > std::string_view("/commands/").size()) {
    return mutating([&] { return handle_command(core, request, path.substr(std::string_view("/commands/").size())); });
  }
  return HttpResponse::error(404, "no such endpoint: " + std::string(path.substr(0, 200)));
}

}  // namespace nexum::http_internal
