// RecordDecoder's single-segment fast path against Cap'n Proto's generic
// reader: the same fields for every record, and never a record accepted that
// the generic reader refuses (record format: doc/record_format.md).
#include "store/record_codec.h"

#include <cstdint>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "nexum/clock.h"

namespace nexum::store {
namespace {

EventSchema event_with(std::string type, std::string entity_type, std::string entity_id, boost::json::object data) {
  return EventSchema::make(std::move(type), std::move(entity_type), std::move(entity_id), std::move(data),
                           {{"correlation_id", "c-1"}}, SystemClock::instance());
}

std::string record_bytes(const EventSchema& e, std::string_view stream, std::string_view topic, std::int64_t position,
                         std::int64_t version) {
  PendingRecord r(e, stream, topic);
  r.set_position(position, version);
  std::string out;
  r.serialize_to(out);
  return out;
}

// Decodes `bytes` (copied to aligned storage, then `misalign` bytes further,
// as values sit inside RocksDB blocks) with both paths.
struct Both {
  Status fast_status, slow_status;
  EventView fast, slow;
  std::string_view value;
};
Both decode_both(const std::string& bytes, std::int64_t position, RecordDecoder& fast, RecordDecoder& slow,
                 std::vector<std::uint64_t>& storage, std::size_t misalign = 0) {
  storage.assign((bytes.size() + 7) / 8 + 2, 0);  // words as uint64_t: capnp::word cannot be copied under clang
  char* at = reinterpret_cast<char*>(storage.data()) + misalign;
  std::memcpy(at, bytes.data(), bytes.size());
  std::string_view value(at, bytes.size());
  Both b;
  b.fast_status = fast.decode(value, position, &b.fast);
  b.slow_status = slow.decode(value, position, &b.slow);
  b.value = value;
  return b;
}

void expect_same(const EventView& a, const EventView& b) {
  EXPECT_EQ(a.global_position, b.global_position);
  EXPECT_EQ(a.stream_version, b.stream_version);
  EXPECT_EQ(a.stream, b.stream);
  EXPECT_EQ(a.topic, b.topic);
  EXPECT_EQ(a.envelope.event_id, b.envelope.event_id);
  EXPECT_EQ(a.envelope.event_type, b.envelope.event_type);
  EXPECT_EQ(a.envelope.timestamp, b.envelope.timestamp);
  EXPECT_EQ(a.envelope.source, b.envelope.source);
  EXPECT_EQ(a.envelope.version, b.envelope.version);
  EXPECT_EQ(a.envelope.entity_type, b.envelope.entity_type);
  EXPECT_EQ(a.envelope.entity_id, b.envelope.entity_id);
  EXPECT_EQ(a.envelope.data_json, b.envelope.data_json);
  EXPECT_EQ(a.envelope.metadata_json, b.envelope.metadata_json);
}

TEST(RecordCodecTest, FastPathReadsWhatTheGenericReaderReads) {
  RecordDecoder fast, slow(false);
  std::vector<std::uint64_t> storage;
  std::vector<EventSchema> events = {
      event_with("transaction_posted", "account", "acc_1", {{"amount", "12.50"}, {"note", "caf\xc3\xa9"}}),
      event_with("customer_created", "", "", {}),
      event_with("x", "a", std::string(300, 'i'), {{"description", std::string(5000, 'd')}}),
  };
  std::int64_t position = 1;
  for (const EventSchema& e : events) {
    std::string bytes = record_bytes(e, "account-" + e.entity_id + "x", "banking.events", position, position - 1);
    Both b = decode_both(bytes, position, fast, slow, storage);
    ASSERT_TRUE(b.fast_status.ok()) << b.fast_status.to_string();
    ASSERT_TRUE(b.slow_status.ok()) << b.slow_status.to_string();
    expect_same(b.fast, b.slow);
    EXPECT_EQ(b.fast.envelope.event_id, e.event_id);
    EXPECT_EQ(b.fast.envelope.entity_id, e.entity_id);
    ++position;
  }
}

TEST(RecordCodecTest, FastPathReadsUnalignedRecordsInPlace) {
  RecordDecoder fast, slow(false);
  std::vector<std::uint64_t> storage;
  EventSchema e = event_with("transaction_posted", "account", "acc_1", {{"amount", "12.50"}});
  std::string bytes = record_bytes(e, "account-acc_1", "banking.events", 9, 4);
  for (std::size_t misalign = 0; misalign < 8; ++misalign) {
    Both b = decode_both(bytes, 9, fast, slow, storage, misalign);
    ASSERT_TRUE(b.fast_status.ok()) << misalign << ": " << b.fast_status.to_string();
    ASSERT_TRUE(b.slow_status.ok()) << misalign << ": " << b.slow_status.to_string();
    expect_same(b.fast, b.slow);
    EXPECT_EQ(b.fast.stream_version, 4);
    // The fast path copies nothing: its views point into the value.
    EXPECT_GE(b.fast.envelope.data_json.data(), b.value.data());
    EXPECT_LE(b.fast.envelope.data_json.data() + b.fast.envelope.data_json.size(), b.value.data() + b.value.size());
  }
}

TEST(RecordCodecTest, DamagedRecordsAreRefusedByBothPathsOrReadAlike) {
  RecordDecoder fast, slow(false);
  std::vector<std::uint64_t> storage;
  std::string good = record_bytes(event_with("transaction_posted", "account", "acc_7", {{"amount", "1.00"}}),
                                  "account-acc_7", "banking.events", 42, 3);
  std::mt19937 rng(7);
  int refused = 0, read = 0;
  for (int round = 0; round < 5000; ++round) {
    std::string bytes = good;
    int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) {
      // Mostly the header words and pointers, where a flip changes the structure.
      std::size_t at = rng() % 4 == 0 ? rng() % bytes.size() : rng() % std::min<std::size_t>(bytes.size(), 128);
      bytes[at] = static_cast<char>(bytes[at] ^ (1u << (rng() % 8)));
    }
    if (rng() % 10 == 0) bytes.resize(bytes.size() - 8 * (1 + rng() % 4));
    Both b = decode_both(bytes, 42, fast, slow, storage, rng() % 8);
    ASSERT_EQ(b.fast_status.ok(), b.slow_status.ok())
        << "round " << round << ": fast " << b.fast_status.to_string() << " / generic " << b.slow_status.to_string();
    if (b.fast_status.ok()) {
      expect_same(b.fast, b.slow);
      ++read;
    } else {
      EXPECT_EQ(b.fast_status.code(), StatusCode::kDataLoss);
      ++refused;
    }
  }
  EXPECT_GT(refused, 100);
  EXPECT_GT(read, 100);
}

}  // namespace
}  // namespace nexum::store
