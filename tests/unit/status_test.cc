#include "nexum/status.h"

#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace nexum {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.to_string(), "OK");
}

TEST(StatusTest, ConflictCarriesActualVersion) {
  Status s = Status::conflict("stream account-a1 is at version 4", 4);
  EXPECT_EQ(s.code(), StatusCode::kConflict);
  ASSERT_TRUE(s.actual_version().has_value());
  EXPECT_EQ(*s.actual_version(), 4);
  EXPECT_EQ(s.to_string(), "CONFLICT: stream account-a1 is at version 4");
}

Result<int> parse_positive(int v) {
  if (v <= 0) return Status::invalid_argument("amount: must be positive");
  return v;
}

TEST(ResultTest, HoldsValueOrError) {
  auto good = parse_positive(3);
  ASSERT_TRUE(good.has_value());
  EXPECT_EQ(*good, 3);
  EXPECT_TRUE(good.status().ok());
  auto bad = parse_positive(-1);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.value_or(7), 7);
}

TEST(ResultTest, WorksWithMoveOnlyTypes) {
  Result<std::unique_ptr<int>> r(std::make_unique<int>(5));
  ASSERT_TRUE(r);
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 5);
}

Status chain(bool fail) {
  NEXUM_RETURN_IF_ERROR(fail ? Status::unavailable("broker down") : Status());
  return Status::internal("reached end");
}

TEST(StatusTest, ReturnIfErrorStopsAtFirstError) {
  EXPECT_EQ(chain(true).code(), StatusCode::kUnavailable);
  EXPECT_EQ(chain(false).code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace nexum
