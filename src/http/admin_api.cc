// The admin API's router: path and method matching, bearer-token auth,
// /health and /ready. Endpoints and codes: doc/http_api.md.
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "http/admin_api.h"

#include "http/http_util.h"
#include "nexum/kafka_bus.h"

namespace nexum::http_internal {

namespace {

HttpResponse method_not_allowed(std::string_view allow) {
  HttpResponse r = HttpResponse::error(405, "method not allowed; use " + std::string(allow));
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

// nullopt when the request may proceed; otherwise the 401/403 to send.
std::optional<HttpResponse> check_token(const AdminAccess& access, const HttpRequest& request) {
  if (access.token.empty()) return std::nullopt;
  const std::string* auth = request.header("authorization");
  if (auth == nullptr || auth->empty()) {
    HttpResponse r = HttpResponse::error(401, "missing Authorization: Bearer <token>");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  std::string_view value = *auth;
  constexpr std::string_view kBearer = "Bearer ";
  const bool bearer =
      value.size() >= kBearer.size() && std::equal(kBearer.begin(), kBearer.end(), value.begin(), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
      });
  if (!bearer || !constant_time_equals(value.substr(kBearer.size()), access.token)) {
    return HttpResponse::error(403, "invalid token");
  }
  return std::nullopt;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

}  // namespace

HttpResponse handle_health() {
  boost::json::object o;
  o["status"] = "ok";
  return json_response(o);
}

HttpResponse handle_health(service::BusSwitch& buses) {
  // Liveness: 200 while the process serves HTTP. A command consumer that
  // does not consume (starting over after a fatal Kafka error) makes it
  // "degraded", naming it: it comes back by itself, a restart would not help.
  boost::json::object o;
  const Status consumers = buses.commands_health();
  o["status"] = consumers.ok() ? "ok" : "degraded";
  if (!consumers.ok()) o["reason"] = "consumers: " + consumers.message();
  return json_response(o);
}

HttpResponse handle_ready(EventStore& store, OutboxRelay& relay_part, service::BusSwitch& buses) {
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
  const Status writable = store.write_health();
  check("store", writable.ok(), writable.ok() ? "" : "read-only: " + writable.message());
  const RelayStats relay = relay_part.stats();
  check("relay", relay.running && !relay.parked,
        relay.parked               ? "parked: " + relay.parked_reason
        : relay.running            ? ""
        : relay.last_error.empty() ? "not running"
                                   : relay.last_error);
  auto bus = buses.current();
  check("bus", bus && bus->is_running(), bus && bus->is_running() ? "" : "not running");
  if (std::optional<ProbeSnapshot> probe = kafka_snapshot(buses)) {
    // The probe's last answer (asked once a second off this thread).
    const bool answered = probe->probed && probe->reachable.ok();
    check("kafka", answered, !probe->probed ? "no answer from Kafka yet" : probe->reachable.message());
    if (answered) {
      std::string missing;
      for (const std::string& t : probe->missing_topics) missing += (missing.empty() ? "" : ", ") + t;
      check("topics", missing.empty(),
            missing.empty() ? ""
                            : "command topic(s) missing on the cluster (their consumers get UNKNOWN_TOPIC_OR_PART "
                              "and take nothing): " +
                                  missing);
    }
    // Commands are consumed only once every command consumer consumes (none
    // starting over after a fatal Kafka error) and has its partitions.
    Status consumers = buses.commands_health();
    if (consumers.ok()) consumers = buses.commands_assigned(std::chrono::milliseconds(0));
    check("consumers", consumers.ok(), consumers.ok() ? "" : consumers.message());
  }
  boost::json::object o;
  o["status"] = ready ? "ready" : "not_ready";
  o["reason"] = ready ? boost::json::value(nullptr) : boost::json::value(reason);
  o["checks"] = std::move(checks);
  return json_response(o, ready ? 200 : 503);
}

HttpResponse route(service::System& system, const AdminAccess& access, AdminCounters& counters,
                   const HttpRequest& request) {
  const std::string_view path = request.path;
  const std::string_view method = request.method;
  const bool get = method == "GET";
  const bool post = method == "POST";
  if (!system.running()) return HttpResponse::error(503, "the service is not running");
  if (cluster::ClusterNode* node = system.cluster()) return route_cluster(*node, request);
  EventStore& store = system.store();
  auto with_projections = [&](auto&& handler) -> HttpResponse {
    ProjectionEngine* projections = system.projections();
    if (projections == nullptr) return HttpResponse::error(503, "projections are not running");
    return handler(*projections);
  };

  // Mutating endpoints: POST only, token-checked after the path matched.
  auto mutating = [&](auto&& handler) -> HttpResponse {
    if (!post) return method_not_allowed("POST");
    if (auto denied = check_token(access, request)) return *denied;
    return handler();
  };
  auto reading = [&](auto&& handler) -> HttpResponse {
    if (!get) return method_not_allowed("GET");
    return handler();
  };

  if (path == "/health") return reading([&] { return handle_health(system.buses()); });
  if (path == "/ready") return reading([&] { return handle_ready(store, system.relay(), system.buses()); });
  if (path == "/metrics") {
    return reading([&] {
      return handle_metrics(MetricsSources{store, system.timed_store(), counters.publish_tests.load(), system.relay(),
                                           system.buses(), system.handler(), system.projections(),
                                           system.saga_engine()});
    });
  }
  if (path == "/kafka/status") {
    return reading([&] { return handle_kafka_status(system.buses(), system.relay(), system.projections()); });
  }
  if (path == "/kafka/events")
    return reading([&] { return handle_kafka_events(store, system.projections(), request); });
  if (path == "/kafka/publish-test") {
    auto publish = [&] { return handle_publish_test(system.timed_store(), counters.publish_tests, request); };
    if (!post) return method_not_allowed("POST");
    if (access.token.empty()) {
      if (!access.dev_mode) {
        return HttpResponse::error(403, "publish-test is disabled: run with --dev or configure a token");
      }
      return publish();
    }
    return mutating(publish);
  }
  if (path == "/kafka/config") {
    return mutating([&] {
      return handle_kafka_config(
          system.buses().config(), [&](const BusConfig& c) { return system.configure_bus(c); }, request);
    });
  }
  if (path == "/projections" || path == "/projections/") {
    return reading([&] { return with_projections([](ProjectionEngine& p) { return handle_projections(p); }); });
  }
  if (path == "/ui" || starts_with(path, "/ui/")) return reading([&] { return handle_ui(path); });
  if (path == "/log") return reading([&] { return handle_log(store, request); });
  if (path == "/sagas" || path == "/sagas/") return reading([&] { return handle_sagas(store, request); });
  if (starts_with(path, "/projections/")) {
    std::string_view rest = path.substr(std::string_view("/projections/").size());
    const auto slash = rest.find('/');
    std::string_view name = rest.substr(0, slash);
    std::string_view key = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (key == "rebuild" && post) {
      return mutating([&] {
        return with_projections([&](ProjectionEngine& p) { return handle_projection_rebuild(p, store, name); });
      });
    }
    return reading([&] {
      return with_projections([&](ProjectionEngine& p) { return handle_projection_query(p, request, name, key); });
    });
  }
  if (starts_with(path, "/streams/") && path.size() > std::string_view("/streams/").size()) {
    return reading([&] { return handle_stream(store, request, path.substr(std::string_view("/streams/").size())); });
  }
  if (starts_with(path, "/sagas/")) {
    std::string_view rest = path.substr(std::string_view("/sagas/").size());
    const auto slash = rest.find('/');
    if (slash != std::string_view::npos && slash > 0 && slash + 1 < rest.size()) {
      return reading(
          [&] { return handle_saga(store, system.saga_engine(), rest.substr(0, slash), rest.substr(slash + 1)); });
    }
  }
  if (path == "/dlq" || starts_with(path, "/dlq/")) {
    DeadLetterSources dlq{system.buses().config(), store, system.buses().front()};
    if (path == "/dlq" || path == "/dlq/") return reading([&] { return handle_dlq_list(dlq, request); });
    if (path == "/dlq/redrive") return mutating([&] { return handle_dlq_redrive_all(dlq, request); });
    std::string_view rest = path.substr(std::string_view("/dlq/").size());
    constexpr std::string_view kRedrive = "/redrive";
    if (rest.size() > kRedrive.size() && rest.substr(rest.size() - kRedrive.size()) == kRedrive) {
      return mutating([&] { return handle_dlq_redrive(dlq, request, rest.substr(0, rest.size() - kRedrive.size())); });
    }
    return reading([&] { return handle_dlq_show(dlq, rest); });
  }
  if (starts_with(path, "/commands/") && path.size() > std::string_view("/commands/").size()) {
    return mutating([&] {
      return handle_command(system.handler(), counters.http_commands, request,
                            path.substr(std::string_view("/commands/").size()));
    });
  }
  return HttpResponse::error(404, "no such endpoint: " + std::string(path.substr(0, 200)));
}

}  // namespace nexum::http_internal
