// The cluster's pure parts: the shard of a key (Kafka's murmur2, as every
// Kafka client computes it), the changelog record format, and the fencing
// rule restorers apply (doc/cluster.md §1, §3, §4).
#include <gtest/gtest.h>

#include "cluster/changelog_record.h"
#include "cluster/group_members.h"
#include "cluster/shard_partitioner.h"

namespace nexum::cluster {
namespace {

TEST(ShardPartitionerTest, Murmur2MatchesKafkasOwnTestVectors) {
  // org.apache.kafka.common.utils.UtilsTest.testMurmur2 (Java ints).
  EXPECT_EQ(static_cast<std::int32_t>(kafka_murmur2("21")), -973932308);
  EXPECT_EQ(static_cast<std::int32_t>(kafka_murmur2("foobar")), -790332482);
  EXPECT_EQ(static_cast<std::int32_t>(kafka_murmur2("a-little-bit-long-string")), -985981536);
  EXPECT_EQ(static_cast<std::int32_t>(kafka_murmur2("a-little-bit-longer-string")), -1486304829);
  EXPECT_EQ(static_cast<std::int32_t>(kafka_murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8")), -58897971);
  EXPECT_EQ(static_cast<std::int32_t>(kafka_murmur2("abc")), 479470107);
}

TEST(ShardPartitionerTest, ShardIsThePositiveHashModuloTheShardCount) {
  // -973932308 & 0x7fffffff = 1173551340; % 12 = 0, % 7 = 1173551340 % 7.
  EXPECT_EQ(shard_of("21", 12), 1173551340 % 12);
  EXPECT_EQ(shard_of("21", 7), 1173551340 % 7);
  for (int n : {1, 3, 12, 64}) {
    const int s = shard_of("acc_000123", n);
    EXPECT_GE(s, 0);
    EXPECT_LT(s, n);
  }
}

TEST(ShardPartitionerTest, AnEntitysStreamIsInItsIdsShardOtherStreamsAreNotNamed) {
  EXPECT_EQ(stream_shard("account-acc_000123", 12), shard_of("acc_000123", 12));
  EXPECT_EQ(stream_shard("customer-c7", 64), shard_of("c7", 64));
  EXPECT_EQ(stream_shard("loan-l-9", 5), shard_of("l-9", 5));
  // A transaction lives in its account's shard, which its name does not tell.
  EXPECT_EQ(stream_shard("transaction-t1", 12), std::nullopt);
  EXPECT_EQ(stream_shard("account-", 12), std::nullopt);
  EXPECT_EQ(stream_shard("accounts-x", 12), std::nullopt);
}

TEST(GroupMembersTest, ANodesClientIdCarriesItsHttpAddressBothWays) {
  GroupMember m;
  m.client_id = node_client_id("2", "127.0.0.1:39121");
  EXPECT_EQ(m.client_id, "nexum-node-2_http_127.0.0.1_39121");
  parse_node_client_id(m);
  EXPECT_EQ(m.node_id, "2");
  EXPECT_EQ(m.http, "127.0.0.1:39121");
  m.client_id = node_client_id("eu-west_a", "node-7.bank.example:8080");
  parse_node_client_id(m);
  EXPECT_EQ(m.node_id, "eu-west_a");
  EXPECT_EQ(m.http, "node-7.bank.example:8080");
  m.client_id = node_client_id("3", "");  // no HTTP
  parse_node_client_id(m);
  EXPECT_EQ(m.node_id, "3");
  EXPECT_EQ(m.http, "");
  m.client_id = "rdkafka";  // not a node
  parse_node_client_id(m);
  EXPECT_EQ(m.node_id, "");
  EXPECT_EQ(m.http, "");
}

ChangelogRecord outcome(std::int32_t generation, std::int64_t marker_offset, std::int64_t first_position) {
  ChangelogRecord r;
  r.kind = ChangelogKind::kOutcome;
  r.shard = 3;
  r.node_id = "node-1";
  r.epoch = OwnerEpoch{generation, marker_offset};
  r.command_id = "c0ffee00-0000-4000-8000-000000000001";
  r.command_topic = "nexum.commands.transactions";
  r.events.push_back(ChangelogEvent{first_position, "transaction-t1", 0, "nexum.transactions.created",
                                    R"({"event_id":"e1","data":{"amount":"1.00"}})"});
  r.events.push_back(ChangelogEvent{first_position + 1, "account-a1", 4, "nexum.accounts.updated",
                                    R"({"event_id":"e2","data":{"balance":"11.00"}})"});
  return r;
}

ChangelogRecord marker(std::int32_t generation) {
  ChangelogRecord r;
  r.kind = ChangelogKind::kMarker;
  r.shard = 3;
  r.node_id = "node-2";
  r.epoch.generation = generation;
  return r;
}

TEST(ChangelogRecordTest, OutcomeAndMarkerSurviveEncoding) {
  const ChangelogRecord r = outcome(7, 120, 41);
  auto back = decode_changelog_record(encode_changelog_record(r));
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(back->kind, ChangelogKind::kOutcome);
  EXPECT_EQ(back->shard, 3);
  EXPECT_EQ(back->node_id, "node-1");
  EXPECT_EQ(back->epoch, (OwnerEpoch{7, 120}));
  EXPECT_EQ(back->command_id, r.command_id);
  EXPECT_EQ(back->command_topic, r.command_topic);
  EXPECT_EQ(back->events, r.events);

  auto m = decode_changelog_record(encode_changelog_record(marker(9)));
  ASSERT_TRUE(m) << m.error().to_string();
  EXPECT_EQ(m->kind, ChangelogKind::kMarker);
  EXPECT_EQ(m->epoch.generation, 9);
  EXPECT_EQ(m->node_id, "node-2");
}

TEST(ChangelogRecordTest, ARecordThatIsNotOneIsRefusedNamingTheField) {
  EXPECT_NE(decode_changelog_record("[]").error().message().find("not a JSON object"), std::string::npos);
  EXPECT_NE(decode_changelog_record(R"({"type":"x"})").error().message().find("type"), std::string::npos);
  std::string no_events = encode_changelog_record(outcome(1, 0, 1));
  no_events = no_events.substr(0, no_events.find(",\"events\"")) + ",\"events\":[]}";
  EXPECT_NE(decode_changelog_record(no_events).error().message().find("events"), std::string::npos);
  ChangelogRecord gap = outcome(1, 0, 1);
  gap.events[1].position = 5;
  EXPECT_NE(decode_changelog_record(encode_changelog_record(gap)).error().message().find("consecutive"),
            std::string::npos);
}

TEST(ChangelogFenceTest, OnlyTheNewestOwnersRecordsCountAfterItsMarker) {
  ChangelogFence fence;
  EXPECT_FALSE(fence.admit(0, outcome(1, 0, 1))) << "an outcome before any marker has no owner";
  EXPECT_TRUE(fence.admit(1, marker(5)));  // owner A: epoch (5, @1)
  EXPECT_TRUE(fence.admit(2, outcome(5, 1, 1)));
  EXPECT_TRUE(fence.admit(3, marker(6)));  // owner B: epoch (6, @3)
  EXPECT_FALSE(fence.admit(4, outcome(5, 1, 3))) << "A is a zombie now: its late write is ignored";
  EXPECT_TRUE(fence.admit(5, outcome(6, 3, 3)));
  EXPECT_FALSE(fence.admit(6, marker(5))) << "a marker of an older generation written late does not take over";
  EXPECT_FALSE(fence.admit(7, outcome(5, 6, 4)));
  EXPECT_TRUE(fence.admit(8, outcome(6, 3, 4)));
  // The same generation again (a node restarted with its old assignment): the later marker wins.
  EXPECT_TRUE(fence.admit(9, marker(6)));
  EXPECT_FALSE(fence.admit(10, outcome(6, 3, 5)));
  EXPECT_TRUE(fence.admit(11, outcome(6, 9, 5)));
  EXPECT_EQ(fence.current(), (OwnerEpoch{6, 9}));
}

}  // namespace
}  // namespace nexum::cluster
