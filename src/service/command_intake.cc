#include "service/command_intake.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "banking/kafka_command_consumer.h"
#include "nexum/topics.h"

namespace nexum::service {

Result<std::unique_ptr<CommandIntake>> CommandIntake::start(const BusConfig& bus, const CommandIntakeOptions& options,
                                                            NexumCommandHandler& handler, EventBus& dlq_bus) {
  std::vector<std::string> topics = options.topics;
  if (topics.empty()) {
    for (std::string_view t : {topics::kCommandsTransactions, topics::kCommandsCustomers, topics::kCommandsAccounts,
                               topics::kCommandsLoans}) {
      topics.emplace_back(t);
    }
  }
  std::vector<PipelinedConsumerOptions> members;
  if (!options.group_id.empty()) {
    members.push_back({.topics = topics, .group_id = options.group_id});
  } else {
    for (const std::string& t : topics) members.push_back({.topics = {t}, .group_id = bus.consumer_group + "_" + t});
  }
  const KafkaEventBusOptions bus_options = kafka_bus_options(bus);
  std::vector<std::unique_ptr<PipelinedCommandConsumer>> consumers;
  for (PipelinedConsumerOptions& m : members) {
    m.max_in_flight = options.max_in_flight;
    m.handler_health = options.handler_health;
    NEXUM_ASSIGN_OR_RETURN(auto consumer, create_kafka_command_consumer(bus_options, std::move(m), handler, dlq_bus));
    consumers.push_back(std::move(consumer));
  }
  std::unique_ptr<CommandIntake> intake(new CommandIntake(std::move(consumers)));
  for (auto& c : intake->consumers_) NEXUM_RETURN_IF_ERROR(c->start());  // the destructor stops the started ones
  return intake;
}

CommandIntake::CommandIntake(std::vector<std::unique_ptr<PipelinedCommandConsumer>> consumers)
    : consumers_(std::move(consumers)) {}

CommandIntake::~CommandIntake() { stop(); }

void CommandIntake::stop() {
  for (auto& c : consumers_) c->stop();
}

Status CommandIntake::wait_until_assigned(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (const auto& c : consumers_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (!c->wait_until_assigned(std::max(left, std::chrono::milliseconds(0))).ok()) break;
  }
  // Name every consumer still waiting, and the longest wait.
  std::string groups;
  std::int64_t longest_ms = 0;
  std::size_t waiting = 0;
  for (const auto& c : consumers_) {
    if (c->assigned()) continue;
    ++waiting;
    groups += (groups.empty() ? "" : ", ") + c->group_id();
    longest_ms = std::max<std::int64_t>(longest_ms, c->waiting_for_assignment().count());
  }
  if (waiting == 0) return Status();
  return Status::unavailable(std::to_string(waiting) + " of " + std::to_string(consumers_.size()) +
                             " command consumer(s) wait for the group coordinator to assign their partitions (for " +
                             std::to_string(longest_ms / 1000) + "." + std::to_string(longest_ms % 1000 / 100) +
                             " s; a rebalance waits for every member the group still lists, up to its "
                             "session.timeout.ms): " +
                             groups);
}

Status CommandIntake::health(std::size_t* not_consuming) const {
  std::string why;
  std::size_t n = 0;
  for (const auto& c : consumers_) {
    Status s = c->health();
    if (s.ok()) continue;
    ++n;
    why += (why.empty() ? "" : "; ") + s.message();
  }
  if (not_consuming != nullptr) *not_consuming = n;
  return n == 0 ? Status() : Status::unavailable(why);
}

PipelinedConsumerStats CommandIntake::stats() const {
  PipelinedConsumerStats sum;
  for (const auto& c : consumers_) {
    const PipelinedConsumerStats s = c->stats();
    sum.consumed += s.consumed;
    sum.handled += s.handled;
    sum.retries += s.retries;
    sum.dead_lettered += s.dead_lettered;
    sum.undecodable += s.undecodable;
    sum.dropped_on_revoke += s.dropped_on_revoke;
    sum.commits += s.commits;
    sum.commit_failures += s.commit_failures;
    sum.pauses += s.pauses;
    sum.restarts += s.restarts;
    sum.max_in_flight_seen = std::max(sum.max_in_flight_seen, s.max_in_flight_seen);
  }
  return sum;
}

}  // namespace nexum::service
