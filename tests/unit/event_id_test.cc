#include "nexum/event_id.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "nexum/clock.h"

namespace nexum {
namespace {

std::uint64_t embedded_unix_ms(const EventId& id) {
  std::uint64_t ms = 0;
  for (int i = 0; i < 6; ++i) ms = (ms << 8) | id.bytes()[static_cast<std::size_t>(i)];
  return ms;
}

TEST(EventIdTest, ParseThenFormatRoundTrips) {
  const std::string text = "0190a5c4-7b1e-7c3d-9f00-0123456789ab";
  Result<EventId> id = EventId::parse(text);
  ASSERT_TRUE(id.has_value()) << id.status().to_string();
  EXPECT_EQ(id->to_string(), text);
  EXPECT_EQ(id->bytes()[0], 0x01);
  EXPECT_EQ(id->bytes()[15], 0xab);
  std::string appended = "id=";
  id->append_to(appended);
  EXPECT_EQ(appended, "id=" + text);
}

TEST(EventIdTest, UpperCaseIsAcceptedAndFormattedLower) {
  Result<EventId> id = EventId::parse("0190A5C4-7B1E-7C3D-9F00-0123456789AB");
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->to_string(), "0190a5c4-7b1e-7c3d-9f00-0123456789ab");
}

TEST(EventIdTest, MalformedFormsAreRejectedNamingTheField) {
  const std::vector<std::string> bad = {
      "",
      "uuid",
      "0190a5c47b1e7c3d9f000123456789ab",        // no hyphens
      "{0190a5c4-7b1e-7c3d-9f00-0123456789ab}",  // braces
      "0190a5c4-7b1e-7c3d-9f00-0123456789a",     // short
      "0190a5c4-7b1e-7c3d-9f00-0123456789abc",   // long
      "0190a5c4-7b1e-7c3d-9f00_0123456789ab",    // wrong separator
      "0190a5c4-7b1e7-c3d-9f00-0123456789ab",    // hyphen misplaced
      "0190a5g4-7b1e-7c3d-9f00-0123456789ab",    // not hex
      "urn:uuid:0190a5c4-7b1e-7c3d-9f00-012345",
      std::string("0190a5c4-7b1e-7c3d-9f00-0123456789a\xff"),
  };
  for (const std::string& text : bad) {
    Result<EventId> id = EventId::parse(text, "causation_id");
    ASSERT_FALSE(id.has_value()) << text;
    EXPECT_EQ(id.error().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(id.error().message().rfind("causation_id: ", 0), 0u) << id.error().message();
  }
}

TEST(EventIdTest, DefaultIsNil) {
  EXPECT_TRUE(EventId().is_nil());
  EXPECT_EQ(EventId().to_string(), "00000000-0000-0000-0000-000000000000");
  EXPECT_FALSE(EventId::generate().is_nil());
}

TEST(EventIdTest, GeneratedIdsAreVersion7WithRfcVariant) {
  for (int i = 0; i < 1000; ++i) {
    const EventId id = EventId::generate();
    EXPECT_EQ(id.version(), 7);
    EXPECT_EQ(id.bytes()[6] >> 4, 7);
    EXPECT_EQ(id.bytes()[8] >> 6, 0b10);
    EXPECT_EQ(id.to_string()[14], '7');
  }
}

TEST(EventIdTest, GeneratedIdCarriesTheClockMillisecond) {
  const auto before =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  const EventId id = EventId::generate();
  const auto after =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  // The counter may borrow ahead by a few ms when ids are drawn in a burst.
  EXPECT_GE(embedded_unix_ms(id), static_cast<std::uint64_t>(before));
  EXPECT_LE(embedded_unix_ms(id), static_cast<std::uint64_t>(after) + 1000);
}

TEST(EventIdTest, HundredThousandIdsAreStrictlyIncreasing) {
  EventId prev = EventId::generate();
  for (int i = 0; i < 100000; ++i) {
    const EventId next = EventId::generate();
    ASSERT_LT(prev, next) << prev.to_string() << " then " << next.to_string();
    ASSERT_LT(prev.to_string(), next.to_string());  // text order = byte order
    prev = next;
  }
}

TEST(EventIdTest, IdsStayIncreasingWhenTheClockStandsStillOrStepsBack) {
  // Start at the real time: the counter is process-wide, and a clock far in
  // the future would drag every later id in this process with it.
  ManualClock clock(SystemClock::instance().now());
  EventId prev = EventId::generate(clock);
  for (int i = 0; i < 10000; ++i) {  // more than 4096 per millisecond: the counter carries
    const EventId next = EventId::generate(clock);
    ASSERT_LT(prev, next);
    prev = next;
  }
  clock.advance(std::chrono::hours(-1));
  const EventId after_step_back = EventId::generate(clock);
  EXPECT_LT(prev, after_step_back);
  EXPECT_EQ(after_step_back.version(), 7);
}

TEST(EventIdTest, IdsFromSeveralThreadsAreAllUnique) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25000;
  std::vector<std::vector<EventId>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&ids, t] {
      auto& mine = ids[static_cast<std::size_t>(t)];
      mine.reserve(kPerThread);
      for (int i = 0; i < kPerThread; ++i) mine.push_back(EventId::generate());
    });
  }
  for (auto& th : threads) th.join();
  std::set<EventId> all;
  for (const auto& mine : ids) {
    // Each thread sees its own ids strictly increasing.
    EXPECT_TRUE(std::is_sorted(mine.begin(), mine.end()));
    EXPECT_EQ(std::adjacent_find(mine.begin(), mine.end()), mine.end());
    all.insert(mine.begin(), mine.end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

TEST(EventIdTest, DeriveIsDeterministicVersion8) {
  const EventId a = EventId::derive("saga:loan-app-1:step:2");
  const EventId b = EventId::derive("saga:loan-app-1:step:2");
  const EventId c = EventId::derive("saga:loan-app-1:step:3");
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(a.version(), 8);
  EXPECT_EQ(a.bytes()[8] >> 6, 0b10);
  // First 128 bits of SHA-256("abc") = ba7816bf 8f01cfea 414140de 5dae2223,
  // with version 8 and variant 10 written in.
  EXPECT_EQ(EventId::derive("abc").to_string(), "ba7816bf-8f01-8fea-8141-40de5dae2223");
  // Longer than one SHA-256 block, and empty.
  EXPECT_EQ(EventId::derive(std::string(200, 'x')), EventId::derive(std::string(200, 'x')));
  EXPECT_NE(EventId::derive(std::string(200, 'x')), EventId::derive(std::string(201, 'x')));
  EXPECT_EQ(EventId::derive("").to_string(), "e3b0c442-98fc-8c14-9afb-f4c8996fb924");
}

}  // namespace
}  // namespace nexum
