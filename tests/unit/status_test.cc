#include "nexum/status.h"

#include <memory>
#include <string>
#include <utility>

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

Result<int> parse_digit(char c) {
  if (c < '0' || c > '9') return Status::invalid_argument(std::string("digit: not a digit: ") + c);
  return c - '0';
}

// Sums two digits; the first bad one is the error.
Result<int> add_digits(char a, char b) {
  NEXUM_ASSIGN_OR_RETURN(int x, parse_digit(a));
  NEXUM_ASSIGN_OR_RETURN(const int y, parse_digit(b));  // two on one function: distinct temporaries
  return x + y;
}

TEST(ResultTest, AssignOrReturnDeclaresTheValueOrReturnsTheError) {
  ASSERT_TRUE(add_digits('3', '4').has_value());
  EXPECT_EQ(*add_digits('3', '4'), 7);
  EXPECT_EQ(add_digits('x', '4').error().message(), "digit: not a digit: x");
  EXPECT_EQ(add_digits('3', 'y').error().message(), "digit: not a digit: y");
}

// Assigns into an existing object, moves a move-only value out, and returns
// through a function whose own result is a Status.
Status fill(std::unique_ptr<int>& out, bool fail) {
  auto make = [&]() -> Result<std::unique_ptr<int>> {
    if (fail) return Status::not_found("nothing to move");
    return std::make_unique<int>(9);
  };
  NEXUM_ASSIGN_OR_RETURN(out, make());
  return Status();
}

TEST(ResultTest, AssignOrReturnAssignsExistingTargetsAndMovesOnlyTypes) {
  std::unique_ptr<int> p;
  EXPECT_EQ(fill(p, true).code(), StatusCode::kNotFound);
  EXPECT_EQ(p, nullptr);  // untouched on error
  ASSERT_TRUE(fill(p, false).ok());
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 9);
}

// A template argument list with a comma goes through the variadic expression.
TEST(ResultTest, AssignOrReturnTakesExpressionsWithCommas) {
  auto pair_sum = []() -> Result<int> {
    NEXUM_ASSIGN_OR_RETURN(auto pr, (Result<std::pair<int, int>>(std::pair<int, int>{2, 5})));
    return pr.first + pr.second;
  };
  EXPECT_EQ(*pair_sum(), 7);
}

}  // namespace
}  // namespace nexum
