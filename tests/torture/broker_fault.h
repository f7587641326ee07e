// Broker faults on the real 3-broker cluster (real_kafka_cluster.h: RF 3,
// min.insync.replicas 2), one at a time, as the torture tests inject them
// under load:
//   - kLeaderKilled: kill -9 of the broker leading a partition; the
//     controller moves its leaderships after its session timeout;
//   - kLeaderMoved: a controlled shutdown (SIGTERM) of that broker: the
//     controller moves its leaderships to in-sync followers before it exits,
//     as in a rolling restart (librdkafka 2.0.2 has no ElectLeaders, and the
//     test cluster no kafka-tools, to move one with every broker up);
//   - kTwoOfThreeDown: two brokers killed -9; the one left leads but answers
//     acks=all produces with NOT_ENOUGH_REPLICAS, and the group coordinator
//     cannot write offsets (__consumer_offsets has min.insync.replicas 2);
//   - kAllDown: every broker killed -9.
// begin() takes the brokers down, end() starts them again; the caller keeps
// the outage as long as it likes in between and then waits for heal().
#pragma once

#include <chrono>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include <gtest/gtest.h>

#include "integration/real_kafka_cluster.h"

namespace nexum::testing {

enum class BrokerFault { kLeaderKilled, kLeaderMoved, kTwoOfThreeDown, kAllDown };
inline constexpr BrokerFault kBrokerFaults[] = {BrokerFault::kLeaderKilled, BrokerFault::kLeaderMoved,
                                                BrokerFault::kTwoOfThreeDown, BrokerFault::kAllDown};

inline std::string_view broker_fault_name(BrokerFault f) {
  switch (f) {
    case BrokerFault::kLeaderKilled: return "leader killed -9 and restarted";
    case BrokerFault::kLeaderMoved: return "leader moved (controlled shutdown of its broker)";
    case BrokerFault::kTwoOfThreeDown: return "two of three brokers down (NOT_ENOUGH_REPLICAS)";
    case BrokerFault::kAllDown: return "every broker down";
  }
  return "?";
}

class BrokerFaultInjector {
 public:
  explicit BrokerFaultInjector(RealKafkaCluster& cluster) : cluster_(cluster) {}

  // Takes brokers down for `fault`; `topic`/`partition` names the partition
  // whose leader is the one hit. Fails the current test when the tool fails
  // or, for kLeaderMoved, when the partition did not get another leader.
  void begin(BrokerFault fault, const std::string& topic, int partition) {
    down_.clear();
    const int leader = cluster_.leader_of(topic, partition);
    ASSERT_GE(leader, 1) << topic << " [" << partition << "] has no leader";
    switch (fault) {
      case BrokerFault::kLeaderKilled: {
        ASSERT_TRUE(cluster_.kill_broker(leader));
        down_.insert(leader);
        // The controller moves the leadership once the broker's session
        // times out (3 s on the test cluster): the fault is not over before.
        int now = -1;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while ((now = cluster_.leader_of(topic, partition)) == leader && std::chrono::steady_clock::now() < deadline) {
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        ASSERT_NE(now, leader) << topic << " [" << partition << "] still led by the killed broker after 60 s";
        break;
      }
      case BrokerFault::kLeaderMoved: {
        ASSERT_TRUE(cluster_.stop_broker(leader));
        down_.insert(leader);
        const int now = cluster_.leader_of(topic, partition);
        ASSERT_TRUE(now >= 1 && now != leader) << topic << " [" << partition << "] still led by " << now
                                               << " after broker " << leader << "'s controlled shutdown";
        break;
      }
      case BrokerFault::kTwoOfThreeDown:
        ASSERT_TRUE(cluster_.kill_broker(leader));
        down_.insert(leader);
        ASSERT_TRUE(cluster_.kill_broker(leader % cluster_.broker_count() + 1));
        down_.insert(leader % cluster_.broker_count() + 1);
        break;
      case BrokerFault::kAllDown:
        for (int id = 1; id <= cluster_.broker_count(); ++id) {
          ASSERT_TRUE(cluster_.kill_broker(id));
          down_.insert(id);
        }
        break;
    }
  }

  // Starts the brokers begin() took down (same ports, same data).
  void end() {
    for (int id : down_) ASSERT_TRUE(cluster_.start_broker(id)) << "broker " << id;
    down_.clear();
  }

 private:
  RealKafkaCluster& cluster_;
  std::set<int> down_;
};

}  // namespace nexum::testing
