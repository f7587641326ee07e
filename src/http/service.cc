// NexumService: `nexum serve` as a class — the running system
// (service::System, src/service: what it builds and in which order) behind
// the admin API's HTTP server. Endpoints: admin_api.h and the *_routes.cc.
#include "nexum/service.h"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "core/mutex.h"
#include "http/admin_api.h"
#include "nexum/kafka_bus.h"
#include "nexum/topics.h"
#include "service/system.h"

namespace nexum {

namespace {

// "{client_id}-{host}-{FNV-1a of the absolute data directory}": stable across
// restarts, different for every store (one process per store: RocksDB's lock).
std::string default_instance_id(const ServiceOptions& o) {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::error_code ec;
  std::string dir = std::filesystem::absolute(o.data_dir, ec).lexically_normal().string();
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : dir) h = (h ^ c) * 1099511628211ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  std::string id = o.bus.client_id + "-" + std::string(host).substr(0, 64) + "-" + hex;
  for (char& c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '_';
  }
  return id.substr(0, 200);
}

// Every topic the relay produces to and the dead-letter topic: the
// producer looks them up at start, so the first outcome on a topic does not
// wait for its metadata (~0.85 s on the mock cluster, bench/RESULTS.md).
std::vector<std::string> default_warm_topics() {
  std::vector<std::string> out(topics::outbound_topics().begin(), topics::outbound_topics().end());
  out.emplace_back(KafkaEventBusOptions{}.dlq_topic);
  return out;
}

service::SystemOptions system_options(const ServiceOptions& o) {
  service::SystemOptions s;
  s.data_dir = o.data_dir;
  s.durability = o.durability;
  s.bus = o.bus;
  s.relay.checkpoint_interval = o.relay_checkpoint_interval;
  s.commands.unknown_fields = o.unknown_fields;
  s.kafka_probe_timeout = o.kafka_probe_timeout;
  if (o.cluster.enabled) {
    cluster::ClusterOptions c;
    c.bootstrap_servers = o.cluster.bootstrap_servers;
    c.node_id = o.cluster.node_id;
    c.topic_prefix = o.cluster.topic_prefix;
    c.session_timeout = o.cluster.session_timeout;
    c.http_address = o.cluster.advertised_http;
    c.transfer_deadline = o.cluster.transfer_deadline;
    s.cluster = std::move(c);
  }
  return s;
}

// The address other nodes reach this one at: the bound one, the host's name
// for a wildcard address.
std::string advertised_http(const std::string& host, std::uint16_t port) {
  std::string h = host;
  if (h.empty() || h == "0.0.0.0" || h == "::" || h == "[::]") {
    char name[256] = {};
    h = ::gethostname(name, sizeof name - 1) == 0 && name[0] != '\0' ? name : "localhost";
  }
  return h + ":" + std::to_string(port);
}

}  // namespace

class NexumService::Impl {
 public:
  explicit Impl(const ServiceOptions& options) : access_{options.token, options.dev_mode} {}

  Status start(const ServiceOptions& o) {
    if (o.cluster.enabled) return start_cluster_node(o);
    NEXUM_ASSIGN_OR_RETURN(system_, service::System::start(system_options(o)));
    ready_ = system_.get();
    if (o.serve_http) {
      NEXUM_ASSIGN_OR_RETURN(http_, HttpServer::start(o.http, [this](const HttpRequest& r) { return handle(r); }));
    }
    spdlog::info("nexum serve: store {} (last position {}), bus {}, http {}", o.data_dir,
                 system_->store().last_position(), bus_type_name(o.bus.type),
                 http_ ? http_->host() + ":" + std::to_string(http_->port()) : std::string("off"));
    return Status();
  }

  // Cluster mode: the HTTP server first (its address is advertised to the
  // group when the node joins; requests before then are answered 503).
  Status start_cluster_node(const ServiceOptions& o) {
    service::SystemOptions s = system_options(o);
    if (o.serve_http) {
      NEXUM_ASSIGN_OR_RETURN(http_, HttpServer::start(o.http, [this](const HttpRequest& r) { return handle(r); }));
      if (s.cluster->http_address.empty()) s.cluster->http_address = advertised_http(http_->host(), http_->port());
    }
    NEXUM_ASSIGN_OR_RETURN(system_, service::System::start(std::move(s)));
    ready_ = system_.get();
    spdlog::info("nexum serve --cluster: node {}, data {}, http {}", o.cluster.node_id, o.data_dir,
                 http_ ? system_->options().cluster->http_address : std::string("off"));
    return Status();
  }

  // The HTTP server first (no new requests; in-flight ones finish), then the
  // system. Idempotent.
  Status stop() {
    {
      MutexLock lock(stop_mu_);
      if (stopped_) return Status();
      stopped_ = true;
    }
    if (http_) http_->stop();
    Status s = system_ ? system_->stop() : Status();
    spdlog::info("nexum serve: stopped");
    return s;
  }

  HttpResponse handle(const HttpRequest& request) {
    service::System* system = ready_.load();
    if (system == nullptr) return HttpResponse::error(503, "the service is starting");
    return http_internal::route(*system, access_, counters_, request);
  }

  std::unique_ptr<service::System> system_;
  std::atomic<service::System*> ready_{nullptr};  // system_ once started (the HTTP server may run before)
  std::unique_ptr<HttpServer> http_;

 private:
  const http_internal::AdminAccess access_;
  http_internal::AdminCounters counters_;
  Mutex stop_mu_;
  bool stopped_ NEXUM_GUARDED_BY(stop_mu_) = false;
};

Result<std::unique_ptr<NexumService>> NexumService::start(ServiceOptions options) {
  if (options.data_dir.empty()) return Status::invalid_argument("data: the store directory is required");
  if (options.bus.instance_id.empty()) options.bus.instance_id = default_instance_id(options);
  if (options.bus.kafka_warm_topics.empty()) options.bus.kafka_warm_topics = default_warm_topics();
  auto impl = std::make_unique<Impl>(options);
  Status s = impl->start(options);
  if (!s.ok()) {
    impl->stop().ignore_error();
    return s;
  }
  return std::unique_ptr<NexumService>(new NexumService(std::move(impl)));
}

NexumService::NexumService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NexumService::~NexumService() { impl_->stop().ignore_error(); }

std::uint16_t NexumService::http_port() const { return impl_->http_ ? impl_->http_->port() : 0; }
Status NexumService::stop() { return impl_->stop(); }
Status NexumService::health() const {
  return impl_->system_ ? impl_->system_->health() : Status::unavailable("not started");
}
HttpResponse NexumService::handle(const HttpRequest& request) { return impl_->handle(request); }
Status NexumService::configure_bus(const BusConfig& config) { return impl_->system_->configure_bus(config); }
EventStore& NexumService::store() { return impl_->system_->store(); }
std::shared_ptr<EventBus> NexumService::bus() const { return impl_->system_->bus(); }

}  // namespace nexum
