// HttpServer on Boost.Beast: one strand per connection, network I/O on a
// few io threads, handlers on a separate worker pool so a slow handler (an
// fsynced append, a bus switch draining Kafka) never stalls other sockets.
#include "nexum/http_server.h"

#include <atomic>
#include <future>
#include <map>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "core/mutex.h"
#include "http/http_util.h"
#include "http/request_parser.h"

namespace nexum {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

class Session;

// State the sessions share with the server; outlives every session.
// Thread-safe (atomics, and mu_ for the session table).
struct ServerShared {
  HttpServerOptions options;
  HttpHandler handler;
  net::thread_pool* workers = nullptr;  // owned by the Impl; joined before it goes

  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> accepted{0}, rejected{0}, evicted{0}, requests{0}, timeouts{0}, protocol_errors{0};
  std::atomic<std::size_t> open{0};

  Mutex mu;
  CondVar idle_cv;  // signalled when in_flight drops
  std::size_t in_flight NEXUM_GUARDED_BY(mu) = 0;
  std::uint64_t next_id NEXUM_GUARDED_BY(mu) = 0;
  std::map<std::uint64_t, std::weak_ptr<Session>> sessions NEXUM_GUARDED_BY(mu);  // oldest first
  std::map<std::string, std::size_t> per_client NEXUM_GUARDED_BY(mu);             // open connections by address

  void request_done() {
    MutexLock lock(mu);
    --in_flight;
    idle_cv.notify_all();
  }
};

// One connection. Strand-bound: every member runs on the stream's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  // REQUIRES: shared->mu held (the constructor counts the client). Not
  // checked: the analysis cannot follow the lock into the moved shared_ptr.
  Session(tcp::socket socket, std::shared_ptr<ServerShared> shared, std::uint64_t id,
          std::string client) NEXUM_NO_THREAD_SAFETY_ANALYSIS : stream_(std::move(socket)),
                                                                shared_(std::move(shared)),
                                                                id_(id),
                                                                client_(std::move(client)) {
    beast::error_code ec;
    const tcp::endpoint ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
    ++shared_->per_client[client_];
  }
  ~Session() {
    shared_->open.fetch_sub(1);
    MutexLock lock(shared_->mu);
    shared_->sessions.erase(id_);
    auto it = shared_->per_client.find(client_);
    if (it != shared_->per_client.end() && --it->second == 0) shared_->per_client.erase(it);
  }

  const std::string& client() const { return client_; }
  // True while no request is in progress (before or between requests) and
  // the session has not been chosen for eviction: it may be closed to admit
  // another. Any thread.
  bool evictable() const { return waiting_.load() && !evicted_.load(); }
  // Marks the session evicted and closes it. Any thread.
  bool evict() {
    if (evicted_.exchange(true)) return false;
    close_from_outside();
    return true;
  }

  void run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_header(); });
  }

  // Closes the socket (cancelling any read). Safe from any thread.
  void close_from_outside() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->busy_) return;  // the write completion closes it
      beast::error_code ec;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      self->stream_.close();
    });
  }

 private:
  void read_header() {
    if (shared_->stopping.load()) return close();
    waiting_.store(true);
    parser_.emplace();
    http_internal::configure_parser(*parser_, shared_->options);
    stream_.expires_after(requests_ == 0 ? shared_->options.request_timeout : shared_->options.idle_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    waiting_.store(false);  // a request is in progress: never evicted now
    stream_.expires_after(shared_->options.request_timeout);
    auto& req = parser_->get();
    if (beast::iequals(req[bhttp::field::expect], "100-continue")) {
      // Answer before reading the body, or curl waits a second for it.
      continue_ = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_, req.version());
      bhttp::async_write(stream_, *continue_, [self = shared_from_this()](beast::error_code wec, std::size_t) {
        if (wec) return self->close();
        self->read_body();
      });
      return;
    }
    read_body();
  }

  void read_body() {
    bhttp::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->on_read_error(ec);
      self->on_request();
    });
  }

  void on_read_error(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == net::error::eof || ec == net::error::operation_aborted) {
      return close();
    }
    if (ec == beast::error::timeout) {
      shared_->timeouts.fetch_add(1);
      return close();
    }
    if (std::optional<HttpResponse> answer = http_internal::answer_to_parse_error(ec, shared_->options)) {
      shared_->protocol_errors.fetch_add(1);
      HttpResponse r = std::move(*answer);
      keep_alive_ = false;
      busy_ = true;
      {
        MutexLock lock(shared_->mu);
        ++shared_->in_flight;
      }
      return write(std::move(r), 11);
    }
    close();  // reset by peer, etc.
  }

  void on_request() {
    ++requests_;
    shared_->requests.fetch_add(1);
    bhttp::request<bhttp::string_body> req = parser_->release();
    keep_alive_ = req.keep_alive() && !shared_->stopping.load();
    const unsigned version = req.version();
    busy_ = true;
    {
      MutexLock lock(shared_->mu);
      ++shared_->in_flight;
    }
    stream_.expires_never();  // the handler may take a while; the write sets its own
    net::post(*shared_->workers,
              [self = shared_from_this(), req = http_internal::to_request(req, remote_), version]() mutable {
                HttpResponse response;
                try {
                  response = self->shared_->handler(req);
                } catch (const std::exception& e) {
                  spdlog::error("http: handler threw on {} {}: {}", req.method, req.target, e.what());
                  response = HttpResponse::error(500, std::string("internal error: ") + e.what());
                } catch (...) {
                  response = HttpResponse::error(500, "internal error");
                }
                net::post(self->stream_.get_executor(), [self, response = std::move(response), version]() mutable {
                  self->write(std::move(response), version);
                });
              });
  }

  void write(HttpResponse r, unsigned version) {
    res_.emplace(static_cast<bhttp::status>(r.status), version);
    res_->set(bhttp::field::server, "nexum");
    res_->set(bhttp::field::content_type, r.content_type);
    for (auto& [name, value] : r.headers) res_->set(name, value);
    if (shared_->stopping.load()) keep_alive_ = false;
    res_->keep_alive(keep_alive_);
    res_->body() = std::move(r.body);
    res_->prepare_payload();
    stream_.expires_after(shared_->options.write_timeout);
    bhttp::async_write(stream_, *res_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->busy_ = false;
      self->res_.reset();
      self->shared_->request_done();
      if (ec == beast::error::timeout) self->shared_->timeouts.fetch_add(1);
      if (ec || !self->keep_alive_) return self->close();
      self->read_header();
    });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  std::shared_ptr<ServerShared> shared_;
  const std::uint64_t id_;
  const std::string client_;  // remote address without the port
  std::atomic<bool> waiting_{true};
  std::atomic<bool> evicted_{false};
  std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response<bhttp::string_body>> res_;
  std::shared_ptr<bhttp::response<bhttp::empty_body>> continue_;
  bool keep_alive_ = false;
  bool busy_ = false;  // a request is being handled or its response written
  std::uint64_t requests_ = 0;
};

}  // namespace

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, HttpHandler handler)
      : shared_(std::make_shared<ServerShared>()), ioc_(std::max(1, options.io_threads)) {
    workers_ = std::make_unique<net::thread_pool>(static_cast<std::size_t>(std::max(1, options.worker_threads)));
    shared_->options = std::move(options);
    shared_->handler = std::move(handler);
    shared_->workers = workers_.get();
  }
  ~Impl() { stop(); }

  Status listen() {
    beast::error_code ec;
    const net::ip::address address = net::ip::make_address(shared_->options.host, ec);
    if (ec) return Status::invalid_argument("http.host: '" + shared_->options.host + "' is not an IP address");
    const tcp::endpoint endpoint(address, shared_->options.port);
    acceptor_.emplace(net::make_strand(ioc_));
    acceptor_->open(endpoint.protocol(), ec);
    if (!ec) acceptor_->set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(endpoint, ec);
    if (!ec) acceptor_->listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return Status::unavailable("http: cannot listen on " + shared_->options.host + ":" +
                                 std::to_string(shared_->options.port) + ": " + ec.message());
    }
    port_ = acceptor_->local_endpoint().port();
    accept();
    for (int i = 0; i < std::max(1, shared_->options.io_threads); ++i) {
      threads_.emplace_back([this] { ioc_.run(); });
    }
    return Status();
  }

  void accept() {
    acceptor_->async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor_->is_open()) return;
      if (!ec) on_accept(std::move(socket));
      accept();
    });
  }

  void on_accept(tcp::socket socket) {
    beast::error_code ec;
    const tcp::endpoint ep = socket.remote_endpoint(ec);
    std::string client = ec ? std::string() : ep.address().to_string();
    std::shared_ptr<Session> session;
    // Sessions looked at under the lock are released after it: the last
    // reference's ~Session takes that mutex.
    std::vector<std::shared_ptr<Session>> looked_at;
    {
      MutexLock lock(shared_->mu);
      const bool full = shared_->open.load() >= shared_->options.max_connections;
      auto count = shared_->per_client.find(client);
      const bool client_full =
          count != shared_->per_client.end() && count->second >= shared_->options.max_connections_per_client;
      if (shared_->stopping.load() ||
          ((full || client_full) && !evict_oldest_waiting_locked(full ? nullptr : &client, looked_at))) {
        shared_->rejected.fetch_add(1);
        socket.close(ec);
        return;
      }
      shared_->accepted.fetch_add(1);
      shared_->open.fetch_add(1);
      const std::uint64_t id = ++shared_->next_id;
      session = std::make_shared<Session>(std::move(socket), shared_, id, std::move(client));
      shared_->sessions[id] = session;
    }
    session->run();
  }

  // Closes the connection (of `client`, when
  // given) that has waited longest without a request in progress.
  // Every session it locks goes to `looked_at`, to be released unlocked.
  bool evict_oldest_waiting_locked(const std::string* client, std::vector<std::shared_ptr<Session>>& looked_at)
      NEXUM_REQUIRES(shared_->mu) {
    for (auto& [id, weak] : shared_->sessions) {
      std::shared_ptr<Session> s = weak.lock();
      if (!s) continue;
      looked_at.push_back(s);
      if (!s->evictable() || (client != nullptr && s->client() != *client)) continue;
      if (!s->evict()) continue;
      shared_->evicted.fetch_add(1);
      return true;
    }
    return false;
  }

  void stop() {
    if (stopped_.exchange(true)) return;
    shared_->stopping.store(true);
    if (acceptor_) {
      std::promise<void> closed;
      net::post(acceptor_->get_executor(), [this, &closed] {
        beast::error_code ec;
        acceptor_->close(ec);
        closed.set_value();
      });
      if (threads_.empty()) {
        closed.set_value();
      } else {
        closed.get_future().wait();
      }
    }
    std::vector<std::shared_ptr<Session>> open_sessions;
    {
      MutexLock lock(shared_->mu);
      shared_->idle_cv.wait_for(shared_->mu, shared_->options.shutdown_grace,
                                [&]() NEXUM_REQUIRES(shared_->mu) { return shared_->in_flight == 0; });
      for (auto& [id, weak] : shared_->sessions) {
        if (auto s = weak.lock()) open_sessions.push_back(std::move(s));
      }
    }
    // Outside the lock: a session may finish on its strand meanwhile, leaving
    // ours the last reference, and ~Session takes shared_->mu.
    for (const auto& s : open_sessions) s->close_from_outside();
    open_sessions.clear();
    // Let the closes run, then stop whatever is left.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (shared_->open.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    workers_->join();
    ioc_.stop();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

  HttpServerStats stats() const {
    HttpServerStats s;
    s.connections_accepted = shared_->accepted.load();
    s.connections_rejected = shared_->rejected.load();
    s.requests = shared_->requests.load();
    s.timeouts = shared_->timeouts.load();
    s.connections_evicted = shared_->evicted.load();
    s.protocol_errors = shared_->protocol_errors.load();
    s.open_connections = shared_->open.load();
    MutexLock lock(shared_->mu);
    s.in_flight = shared_->in_flight;
    return s;
  }

  std::uint16_t port_ = 0;
  std::shared_ptr<ServerShared> shared_;  // first: outlives the sessions ioc_ destroys

 private:
  net::io_context ioc_;
  std::optional<tcp::acceptor> acceptor_;
  std::unique_ptr<net::thread_pool> workers_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopped_{false};
};

Result<std::unique_ptr<HttpServer>> HttpServer::start(HttpServerOptions options, HttpHandler handler) {
  if (!handler) return Status::invalid_argument("handler: must not be empty");
  if (options.max_connections == 0) return Status::invalid_argument("http.max_connections: must be > 0");
  auto impl = std::make_unique<Impl>(std::move(options), std::move(handler));
  NEXUM_RETURN_IF_ERROR(impl->listen());
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() = default;
std::uint16_t HttpServer::port() const { return impl_->port_; }
const std::string& HttpServer::host() const { return impl_->shared_->options.host; }
void HttpServer::stop() { impl_->stop(); }
HttpServerStats HttpServer::stats() const { return impl_->stats(); }

}  // namespace nexum
