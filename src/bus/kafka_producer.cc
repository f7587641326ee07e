#include "bus/kafka_producer.h"

#include <array>
#include <exception>
#include <memory>
#include <utility>

#include <spdlog/spdlog.h>

#include "bus/kafka_config.h"
#include "core/mutex.h"

namespace nexum::kafka_internal {

EventBusStats KafkaCounters::snapshot() const {
  EventBusStats s;
  s.published = produced.load();
  s.delivered = delivered.load();
  s.delivery_failures = delivery_failures.load();
  s.queue_full_waits = queue_full_waits.load();
  s.consumed = consumed.load();
  s.handled = handled.load();
  s.handler_retries = handler_retries.load();
  s.dead_lettered = dead_lettered.load();
  s.undecodable = undecodable.load();
  s.commits = commits.load();
  s.commit_failures = commit_failures.load();
  s.producer_restarts = producer_restarts.load();
  return s;
}

KafkaProducer::KafkaProducer(const KafkaEventBusOptions& options, KafkaCounters& counters)
    : options_(options), counters_(counters) {}

KafkaProducer::~KafkaProducer() { stop(); }

Status KafkaProducer::start() {
  WriterLock lock(handle_mu_);
  if (rk_ != nullptr) return Status();
  NEXUM_RETURN_IF_ERROR(create_handle_locked());
  poll_stop_ = false;
  accepting_ = true;
  poll_thread_ = std::thread([this] { poll_loop(); });
  return Status();
}

Status KafkaProducer::create_handle_locked() {
  NEXUM_ASSIGN_OR_RETURN(ConfPtr conf, make_producer_conf(options_));
  rd_kafka_conf_set_opaque(conf.get(), this);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaProducer::on_delivery_report);
  rd_kafka_conf_set_error_cb(conf.get(), &KafkaProducer::on_error);
  std::array<char, 512> errstr{};
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr.data(), errstr.size());
  if (rk == nullptr) return Status::invalid_argument(std::string("kafka producer: ") + errstr.data());
  (void)conf.release();  // rd_kafka_new took ownership.
  rk_ = rk;
  for (const std::string& topic : options_.warm_topics) {
    // A new topic handle makes librdkafka ask the cluster for its leaders now.
    if (rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr)) warm_.push_back(t);
  }
  fatal_ = false;
  return Status();
}

void KafkaProducer::poll_loop() {
  rd_kafka_t* rk = nullptr;
  {
    ReaderLock lock(handle_mu_);
    rk = rk_;  // Stays valid until stop() has joined this thread (or this thread replaced it).
  }
  while (!poll_stop_.load()) {
    if (rd_kafka_poll(rk, 50) > 0) wake_waiters();
    if (fatal_.load() || rd_kafka_fatal_error(rk, nullptr, 0) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      replace_dead_handle();
      wake_waiters();
      ReaderLock lock(handle_mu_);
      rk = rk_;
      if (rk == nullptr) return;  // stopping before a new handle could be made
    }
  }
  while (rd_kafka_poll(rk, 0) > 0) {
  }
  wake_waiters();
}

void KafkaProducer::replace_dead_handle() {
  WriterLock lock(handle_mu_);  // produce() refuses a fatal handle at once, so none holds the lock long
  std::array<char, 512> errstr{};
  const rd_kafka_resp_err_t err = rd_kafka_fatal_error(rk_, errstr.data(), errstr.size());
  const std::string fatal = std::string(rd_kafka_err2name(err)) + ": " + errstr.data();
  counters_.producer_restarts.fetch_add(1);
  spdlog::error(
      "kafka producer: fatal error {}; this handle will never produce again: replacing it (what it held is reported "
      "failed and sent again by its callers)",
      fatal);
  // Every message the dead handle holds gets its report now (purged:
  // Unavailable; in flight ones possibly persisted).
  purge_and_serve_locked();
  for (rd_kafka_topic_t* t : warm_) rd_kafka_topic_destroy(t);
  warm_.clear();
  rd_kafka_t* dead = rk_;
  rk_ = nullptr;
  destroy_dead_handle(dead, 0, std::chrono::seconds(10), "kafka producer");
  while (!poll_stop_.load()) {
    Status s = create_handle_locked();
    if (s.ok()) {
      spdlog::info("kafka producer: new handle after the fatal error");
      return;
    }
    spdlog::error("kafka producer: a new handle: {}; trying again in 1 s", s.to_string());
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

void KafkaProducer::wake_waiters() {
  MutexLock lock(wake_mu_);
  wake_cv_.notify_all();
}

std::unique_ptr<KafkaProducer::PendingDelivery> KafkaProducer::take_pending(DeliveryCallback callback) {
  std::unique_ptr<PendingDelivery> pending;
  {
    MutexLock lock(spares_mu_);
    if (!spares_.empty()) {
      pending = std::move(spares_.back());
      spares_.pop_back();
    }
  }
  if (!pending) pending = std::make_unique<PendingDelivery>();
  pending->callback = std::move(callback);
  return pending;
}

void KafkaProducer::give_back(std::unique_ptr<PendingDelivery> pending) {
  pending->callback = nullptr;  // what the callback captured goes now, not when the spare is reused
  MutexLock lock(spares_mu_);
  if (spares_.size() < kMaxSpares) spares_.push_back(std::move(pending));
}

void KafkaProducer::on_delivery_report(rd_kafka_t* /*rk*/, const rd_kafka_message_t* message, void* opaque) {
  // Runs on the poll thread (rd_kafka_poll) or, at the very end of stop(),
  // on the stopping thread once the poll thread is gone.
  auto* self = static_cast<KafkaProducer*>(opaque);
  std::unique_ptr<PendingDelivery> pending(static_cast<PendingDelivery*>(message->_private));
  // One report per thread, refilled for each message: the topic name is
  // copied into a buffer that is already large enough.
  thread_local DeliveryReport report;
  report.status = Status();
  report.possibly_persisted = false;
  if (message->rkt != nullptr) {
    report.topic.assign(rd_kafka_topic_name(message->rkt));
  } else {
    report.topic.clear();
  }
  report.partition = message->partition;
  report.offset = message->offset;
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    report.status = status_from_kafka_error(message->err, "delivery to " + report.topic);
    report.possibly_persisted = rd_kafka_message_status(message) != RD_KAFKA_MSG_STATUS_NOT_PERSISTED;
    self->counters_.delivery_failures.fetch_add(1);
    spdlog::warn("kafka: delivery to {} [{}] failed: {}", report.topic, report.partition, report.status.to_string());
  } else {
    self->counters_.delivered.fetch_add(1);
  }
  if (pending && pending->callback) {
    try {
      pending->callback(report);
    } catch (const std::exception& e) {
      spdlog::error("kafka: delivery callback threw: {}", e.what());
    } catch (...) {
      spdlog::error("kafka: delivery callback threw");
    }
  }
  if (pending) self->give_back(std::move(pending));
  self->pending_.fetch_sub(1);
}

void KafkaProducer::on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  // Served by rd_kafka_poll on the poll thread.
  auto* self = static_cast<KafkaProducer*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    std::array<char, 512> errstr{};
    rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, errstr.data(), errstr.size());
    self->fatal_ = true;
    spdlog::error("kafka producer: fatal error {}: {}; the poll thread replaces the handle", rd_kafka_err2name(orig),
                  errstr.data());
    return;
  }
  // librdkafka has already logged transport failures; only say more once
  // every broker is gone.
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  spdlog::log(code == RD_KAFKA_RESP_ERR__TRANSPORT ? spdlog::level::debug : spdlog::level::warn,
              "kafka producer: {}: {}", rd_kafka_err2name(code), reason);
}

Status KafkaProducer::produce(const OutgoingMessage& message, DeliveryCallback on_delivery) {
  if (message.topic.empty()) return Status::invalid_argument("topic: must not be empty");
  ReaderLock lock(handle_mu_);
  if (!accepting_.load()) return Status::unavailable("kafka bus is not running");
  if (rk_ == nullptr || fatal_.load()) {
    return Status::unavailable("kafka producer: replacing its handle after a fatal error; try again");
  }

  std::unique_ptr<PendingDelivery> pending = take_pending(std::move(on_delivery));
  // Stack storage for the usual ≤ 16 headers; the heap only past that.
  constexpr std::size_t kInline = 21;
  std::array<rd_kafka_vu_t, kInline> inline_vus;
  std::vector<rd_kafka_vu_t> heap_vus;
  rd_kafka_vu_t* vus = inline_vus.data();
  if (5 + message.headers.size() > kInline) {
    heap_vus.resize(5 + message.headers.size());
    vus = heap_vus.data();
  }
  std::size_t n = 0;
  vus[n].vtype = RD_KAFKA_VTYPE_TOPIC;
  vus[n++].u.cstr = message.topic.c_str();
  if (message.key) {
    vus[n].vtype = RD_KAFKA_VTYPE_KEY;
    vus[n].u.mem.ptr = const_cast<char*>(message.key->data());
    vus[n++].u.mem.size = message.key->size();
  }
  vus[n].vtype = RD_KAFKA_VTYPE_VALUE;
  vus[n].u.mem.ptr = const_cast<char*>(message.value.data());
  vus[n++].u.mem.size = message.value.size();
  vus[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
  vus[n++].u.i = RD_KAFKA_MSG_F_COPY;
  vus[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
  vus[n++].u.ptr = pending.get();
  for (const MessageHeader& h : message.headers) {
    vus[n].vtype = RD_KAFKA_VTYPE_HEADER;
    vus[n].u.header.name = h.name.c_str();
    vus[n].u.header.val = h.value.data();
    vus[n++].u.header.size = static_cast<ssize_t>(h.value.size());
  }

  const auto deadline = std::chrono::steady_clock::now() + options_.enqueue_timeout;
  pending_.fetch_add(1);
  while (true) {
    rd_kafka_error_t* error = rd_kafka_produceva(rk_, vus, n);
    if (error == nullptr) {
      (void)pending.release();  // Owned by the delivery report now.
      counters_.produced.fetch_add(1);
      return Status();
    }
    rd_kafka_resp_err_t code = rd_kafka_error_code(error);
    rd_kafka_error_destroy(error);
    if (code == RD_KAFKA_RESP_ERR__FATAL) {
      pending_.fetch_sub(1);
      return Status::unavailable("produce to " + message.topic +
                                 ": the producer hit a fatal error and its handle is being replaced; try again");
    }
    if (code != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      pending_.fetch_sub(1);
      return status_from_kafka_error(code, "produce to " + message.topic);
    }
    // Backpressure: wait for the poll thread to serve delivery reports.
    counters_.queue_full_waits.fetch_add(1);
    if (!accepting_.load() || std::chrono::steady_clock::now() >= deadline) {
      pending_.fetch_sub(1);
      wake_waiters();
      return Status::unavailable("produce to " + message.topic + ": local queue full for " +
                                 std::to_string(options_.enqueue_timeout.count()) + " ms");
    }
    MutexLock wake(wake_mu_);
    wake_cv_.wait_for(wake_mu_, std::chrono::milliseconds(10));
  }
}

namespace {

// Collects the reports of one produce_and_wait() call. Thread-safe.
struct BatchWaiter {
  Mutex mu;
  CondVar cv;
  std::size_t remaining = 0;
  Status first_error;
};

}  // namespace

Status KafkaProducer::produce_and_wait(const std::vector<OutgoingMessage>& messages, const std::atomic<bool>* abort) {
  auto waiter = std::make_shared<BatchWaiter>();
  waiter->remaining = messages.size();
  Status produce_error;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    Status s = produce(messages[i], [waiter](const DeliveryReport& report) {
      MutexLock lock(waiter->mu);
      if (!report.status.ok() && waiter->first_error.ok()) waiter->first_error = report.status;
      if (--waiter->remaining == 0) waiter->cv.notify_all();
    });
    if (!s.ok()) {
      produce_error = s;
      MutexLock lock(waiter->mu);
      waiter->remaining -= messages.size() - i;
      break;
    }
  }
  // librdkafka reports every message within message.timeout.ms; the margin
  // only guards against a bug leaving us waiting forever.
  const auto deadline = std::chrono::steady_clock::now() + options_.message_timeout + std::chrono::seconds(30);
  MutexLock lock(waiter->mu);
  while (waiter->remaining > 0) {
    if (abort != nullptr && abort->load()) return Status::unavailable("gave up waiting for delivery: stopping");
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::unavailable("no delivery report within message timeout");
    }
    waiter->cv.wait_for(waiter->mu, std::chrono::milliseconds(100));
  }
  if (!produce_error.ok()) return produce_error;
  return waiter->first_error;
}

Status KafkaProducer::flush(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock lock(wake_mu_);
  while (pending_.load() > 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::unavailable("flush: " + std::to_string(pending_.load()) + " messages still outstanding after " +
                                 std::to_string(timeout.count()) + " ms");
    }
    wake_cv_.wait_for(wake_mu_, std::chrono::milliseconds(10));
  }
  return Status();
}

void KafkaProducer::stop() {
  accepting_ = false;
  if (!poll_thread_.joinable()) return;
  if (!flush(options_.stop_drain_timeout).ok()) {
    spdlog::warn("kafka producer: {} messages undelivered after {} ms; purging them", pending_.load(),
                 options_.stop_drain_timeout.count());
    {
      ReaderLock lock(handle_mu_);
      if (rk_ != nullptr) rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    }
    flush(std::chrono::seconds(5)).ignore_error();  // Purged reports arrive quickly.
  }
  poll_stop_ = true;
  poll_thread_.join();
  WriterLock lock(handle_mu_);
  purge_and_serve_locked();
  for (rd_kafka_topic_t* t : warm_) rd_kafka_topic_destroy(t);
  warm_.clear();
  if (rk_ != nullptr) rd_kafka_destroy(rk_);
  rk_ = nullptr;
}

void KafkaProducer::purge_and_serve_locked() {
  // A produce() that raced with stop() may have slipped a message in after
  // the drain; no other thread can produce now, so report it here.
  if (rk_ == nullptr) return;
  for (int i = 0; i < 100 && pending_.load() > 0; ++i) {
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(rk_, 50);
  }
  if (pending_.load() > 0) {
    spdlog::error("kafka producer: {} messages never reported before destroy", pending_.load());
  }
  wake_waiters();
}

}  // namespace nexum::kafka_internal
