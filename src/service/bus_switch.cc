#include "service/bus_switch.h"

#include <utility>

#include <spdlog/spdlog.h>

namespace nexum::service {

using kafka_internal::KafkaProbe;

BusSwitch::BusSwitch(std::chrono::milliseconds probe_timeout, CommandIntakeOptions intake)
    : probe_timeout_(probe_timeout), intake_options_(std::move(intake)), front_("") {}

namespace {
// How often the probe asks Kafka for reachability, topics and consumer lag
// (what /ready, /metrics and /kafka/status show, with the answer's age).
constexpr std::chrono::milliseconds kProbeInterval{1000};
}  // namespace

BusSwitch::~BusSwitch() { stop_commands(); }

Result<std::shared_ptr<KafkaProbe>> BusSwitch::make_probe(const BusConfig& config) const {
  if (config.type != BusType::kKafka) return std::shared_ptr<KafkaProbe>();
  // The topics and groups the intake consumes: serve's (a group per topic)
  // unless the intake was given one group for its topics.
  std::vector<std::pair<std::string, std::string>> groups = command_groups(config);
  if (!intake_options_.group_id.empty()) {
    if (!intake_options_.topics.empty()) {
      groups.clear();
      for (const std::string& t : intake_options_.topics) groups.emplace_back(t, "");
    }
    for (auto& [topic, group] : groups) group = intake_options_.group_id;
  }
  NEXUM_ASSIGN_OR_RETURN(auto probe, KafkaProbe::create(kafka_bus_options(config), std::move(groups), probe_timeout_));
  return std::shared_ptr<KafkaProbe>(std::move(probe));
}

Status BusSwitch::start(const BusConfig& config) {
  MutexLock switch_lock(switch_mu_);
  if (current()) return Status::internal("bus: already started");
  NEXUM_ASSIGN_OR_RETURN(std::shared_ptr<EventBus> bus, make_bus(config));
  NEXUM_ASSIGN_OR_RETURN(std::shared_ptr<KafkaProbe> probe, make_probe(config));
  NEXUM_RETURN_IF_ERROR(bus->start());
  // On Kafka the command intake consumes the command topics, not the
  // handler's subscriptions.
  NEXUM_RETURN_IF_ERROR(front_.install(bus, config.consumer_group, config.type != BusType::kKafka).status());
  if (probe) probe->start_refresher(kProbeInterval);
  MutexLock lock(mu_);
  bus_ = std::move(bus);
  config_ = config;
  probe_ = std::move(probe);
  return Status();
}

Status BusSwitch::start_intake(const BusConfig& config, EventBus& bus) {
  NEXUM_ASSIGN_OR_RETURN(auto intake, CommandIntake::start(config, intake_options_, *handler_, bus));
  MutexLock lock(mu_);
  intake_ = std::move(intake);
  return Status();
}

Status BusSwitch::start_commands(NexumCommandHandler& handler) {
  MutexLock switch_lock(switch_mu_);
  if (handler_ != nullptr) return Status::internal("bus: commands already started");
  handler_ = &handler;
  std::shared_ptr<EventBus> bus = current();
  if (!bus) return Status::internal("bus: start() first");
  const BusConfig c = config();
  return c.type == BusType::kKafka ? start_intake(c, *bus) : Status();
}

void BusSwitch::retire(EventBus& old, const CommandIntake* intake) {
  KafkaCounters add;
  if (old.kind() == EventBusKind::kKafka) {
    const EventBusStats s = old.stats();
    add.consumed = s.consumed;
    add.produced = s.published;
    add.delivery_failures = s.delivery_failures;
    add.dead_lettered = s.dead_lettered;
    add.undecodable = s.undecodable;
    add.producer_restarts = s.producer_restarts;
  }
  if (intake != nullptr) {
    const PipelinedConsumerStats s = intake->stats();
    add.consumed += s.consumed;
    add.dead_lettered += s.dead_lettered;
    add.undecodable += s.undecodable;
    add.consumer_restarts += s.restarts;
  }
  MutexLock lock(mu_);
  retired_.consumed += add.consumed;
  retired_.produced += add.produced;
  retired_.delivery_failures += add.delivery_failures;
  retired_.dead_lettered += add.dead_lettered;
  retired_.undecodable += add.undecodable;
  retired_.consumer_restarts += add.consumer_restarts;
  retired_.producer_restarts += add.producer_restarts;
}

Status BusSwitch::switch_to(const BusConfig& config, OutboxRelay& relay) {
  if (!switch_mu_.try_lock()) return Status::conflict("another bus reconfiguration is in progress", -1);
  Status s = switch_locked(config, relay);
  switch_mu_.unlock();
  return s;
}

Status BusSwitch::switch_locked(const BusConfig& config, OutboxRelay& relay) {
  if (closed_) return Status::unavailable("the service is stopping");
  NEXUM_ASSIGN_OR_RETURN(std::shared_ptr<EventBus> next, make_bus(config));
  NEXUM_ASSIGN_OR_RETURN(std::shared_ptr<KafkaProbe> probe, make_probe(config));
  if (probe) {
    // librdkafka connects lazily: a bus on brokers nobody answers starts
    // "fine" and would take the relay and the command intake with it. Ask
    // for metadata first; the current bus stays unless a broker answers.
    Status reachable = probe->ping();
    if (!reachable.ok()) {
      return Status::unavailable("bootstrap_servers '" + config.bootstrap_servers + "': no broker answered within " +
                                 std::to_string(probe_timeout_.count()) + " ms (" + reachable.message() +
                                 "); the bus was not switched");
    }
  }
  Status started = next->start();
  if (!started.ok()) return Status::unavailable("the new bus did not start: " + started.to_string());

  // 1. The relay drains the old bus, persists its checkpoint, resumes on the new one.
  Status switched = relay.switch_bus(*next);
  if (!switched.ok()) {
    next->stop().ignore_error();
    return Status::unavailable("relay switch failed: " + switched.to_string());
  }
  // 2. The old command intake stops: the outcomes of the commands it started
  //    are durable, their offsets committed, its consumers leave their groups.
  std::shared_ptr<CommandIntake> old_intake;
  {
    MutexLock lock(mu_);
    old_intake = std::move(intake_);
  }
  if (old_intake) old_intake->stop();
  // 3. The old bus stops: its consumers commit and leave their groups, its
  //    producer drains (saga commands in flight are confirmed or retried).
  std::shared_ptr<EventBus> old = current();
  if (old) {
    Status s = old->stop();
    if (!s.ok()) spdlog::warn("bus switch: stopping the old bus: {}", s.to_string());
    retire(*old, old_intake.get());
  }
  // 4. The command subscriptions move to the new bus (once: they live in the
  //    front), unless the new bus is Kafka, where the intake takes them.
  Result<std::shared_ptr<EventBus>> previous =
      front_.install(next, config.consumer_group, config.type != BusType::kKafka);
  if (probe) probe->start_refresher(kProbeInterval);
  // The old probe is destroyed after mu_ is released: its destructor waits
  // for a probe round, which may be waiting for a broker.
  std::shared_ptr<KafkaProbe> old_probe;
  {
    // The relay is on the new bus either way: report that.
    MutexLock lock(mu_);
    bus_ = next;
    config_ = config;
    old_probe = std::exchange(probe_, std::move(probe));
    ++switches_;
  }
  old_probe.reset();
  if (!previous) {
    // Events flow, but commands are not consumed until a later switch succeeds.
    spdlog::error("bus switch: moving the command subscriptions failed: {}", previous.error().to_string());
    return Status::unavailable("the relay switched, but moving the command subscriptions failed: " +
                               previous.error().to_string());
  }
  // 5. On Kafka, a new intake consumes the command topics.
  if (config.type == BusType::kKafka && handler_ != nullptr) {
    Status s = start_intake(config, *next);
    if (!s.ok()) {
      spdlog::error("bus switch: starting the command consumers failed: {}", s.to_string());
      return Status::unavailable("the relay switched, but the command consumers did not start: " + s.to_string());
    }
  }
  spdlog::info("bus switch: now {} ({})", bus_type_name(config.type), bus_class_name(next.get()));
  // 6. The old bus is destroyed when the last publisher holding it returns.
  return Status();
}

void BusSwitch::close() {
  MutexLock switch_lock(switch_mu_);
  closed_ = true;
}

void BusSwitch::stop_commands() {
  std::shared_ptr<CommandIntake> intake;
  {
    MutexLock lock(mu_);
    intake = intake_;
  }
  if (intake) intake->stop();
}

Status BusSwitch::stop_bus() {
  std::shared_ptr<EventBus> bus = current();
  return bus ? bus->stop() : Status();
}

std::shared_ptr<EventBus> BusSwitch::current() const {
  MutexLock lock(mu_);
  return bus_;
}

BusConfig BusSwitch::config() const {
  MutexLock lock(mu_);
  return config_;
}

std::shared_ptr<KafkaProbe> BusSwitch::probe() const {
  MutexLock lock(mu_);
  return probe_;
}

std::uint64_t BusSwitch::switches() const {
  MutexLock lock(mu_);
  return switches_;
}

KafkaCounters BusSwitch::kafka_counters() const {
  std::shared_ptr<EventBus> bus;
  std::shared_ptr<CommandIntake> intake;
  KafkaCounters c;
  {
    MutexLock lock(mu_);
    bus = bus_;
    intake = intake_;
    c = retired_;
  }
  if (bus && bus->kind() == EventBusKind::kKafka) {
    const EventBusStats s = bus->stats();
    c.consumed += s.consumed;
    c.produced += s.published;
    c.delivery_failures += s.delivery_failures;
    c.dead_lettered += s.dead_lettered;
    c.undecodable += s.undecodable;
    c.producer_restarts += s.producer_restarts;
  }
  if (intake) {
    const PipelinedConsumerStats s = intake->stats();
    c.consumed += s.consumed;
    c.dead_lettered += s.dead_lettered;
    c.undecodable += s.undecodable;
    c.consumer_restarts += s.restarts;
  }
  return c;
}

PipelinedConsumerStats BusSwitch::intake_stats() const {
  std::shared_ptr<CommandIntake> intake;
  {
    MutexLock lock(mu_);
    intake = intake_;
  }
  return intake ? intake->stats() : PipelinedConsumerStats{};
}

Status BusSwitch::commands_assigned(std::chrono::milliseconds timeout) const {
  std::shared_ptr<CommandIntake> intake;
  {
    MutexLock lock(mu_);
    intake = intake_;
  }
  return intake ? intake->wait_until_assigned(timeout) : Status();
}

Status BusSwitch::commands_health(std::size_t* not_consuming) const {
  std::shared_ptr<CommandIntake> intake;
  {
    MutexLock lock(mu_);
    intake = intake_;
  }
  if (not_consuming != nullptr) *not_consuming = 0;
  return intake ? intake->health(not_consuming) : Status();
}

}  // namespace nexum::service
