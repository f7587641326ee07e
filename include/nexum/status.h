// Status and Result<T>: how every public function reports failure.
//
// Codes carry guidance (see doc/style.md):
//   kInvalidArgument  bad input; the message names the field.
//   kNotFound         the thing asked for does not exist.
//   kConflict         expected-version mismatch; actual_version() says what is stored.
//   kUnavailable      a dependency (broker, disk) is down; retrying the same call may work.
//   kDataLoss         a stored record is corrupt; the message gives its position.
//   kInternal         a bug in Nexum.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace nexum {

enum class StatusCode : std::uint8_t {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kConflict,
  kUnavailable,
  kDataLoss,
  kInternal,
};

std::string_view status_code_name(StatusCode code);

// Value type. Thread-compatible.
class [[nodiscard]] Status {
 public:
  Status() = default;  // OK.
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status invalid_argument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  // A conflict carries the version actually stored (-1: the stream does not exist).
  static Status conflict(std::string m, std::int64_t actual_version) {
    Status s(StatusCode::kConflict, std::move(m));
    s.actual_version_ = actual_version;
    return s;
  }
  static Status unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status data_loss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
  static Status internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // Only for kConflict: the stream's current version, -1 if it does not exist.
  std::optional<std::int64_t> actual_version() const { return actual_version_; }

  // "CODE: message", or "OK".
  std::string to_string() const;

  // Marks an error as deliberately ignored, so a reviewer can grep for it.
  void ignore_error() const {}

  friend bool operator==(const Status& a, const Status& b) { return a.code_ == b.code_ && a.message_ == b.message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::optional<std::int64_t> actual_version_;
};

// Result<T>: a T or a non-OK Status. Member names follow std::expected<T, Status>.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}         // NOLINT: implicit on purpose
  Result(Status status) : v_(std::in_place_index<1>, std::move(status)) {}  // NOLINT
  template <typename U>
  requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::remove_cvref_t<U>, Status> &&
           !std::is_same_v<std::remove_cvref_t<U>, T> && !std::is_same_v<std::remove_cvref_t<U>, Result>) Result(U&& u)
      : v_(std::in_place_index<0>, T(std::forward<U>(u))) {}  // NOLINT

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // REQUIRES: !has_value().
  const Status& error() const& { return std::get<1>(v_); }
  Status&& error() && { return std::get<1>(std::move(v_)); }

  // The error, or OK when a value is held.
  Status status() const { return has_value() ? Status() : error(); }

  template <typename U>
  T value_or(U&& fallback) const& {
    return has_value() ? value() : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<T, Status> v_;
};

}  // namespace nexum

// Early returns for Status and Result<T>, so a chain of fallible steps reads
// as the steps. Both work in any function returning Status or Result<U>.

// Returns `expr`'s Status from the enclosing function when it is not OK.
//   NEXUM_RETURN_IF_ERROR(store.append(id, events, expected));
#define NEXUM_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::nexum::Status nexum_status_ = (expr);        \
    if (!nexum_status_.ok()) return nexum_status_; \
  } while (0)

// Evaluates `expr` (a Result<T>); on error returns its Status from the
// enclosing function, else moves the value into `lhs`, which may declare a
// variable:
//   NEXUM_ASSIGN_OR_RETURN(Money amount, r.money("amount", currency));
//   NEXUM_ASSIGN_OR_RETURN(auto account, repo.load_account(id));
//   NEXUM_ASSIGN_OR_RETURN(loan.principal, r.positive_money("principal", c));
// It expands to several statements: use it inside braces, never as the lone
// body of an unbraced if/for (that does not compile). `lhs` must not contain
// a top-level comma.
#define NEXUM_ASSIGN_OR_RETURN(lhs, ...) \
  NEXUM_ASSIGN_OR_RETURN_IMPL_(NEXUM_STATUS_CONCAT_(nexum_result_, __COUNTER__), lhs, __VA_ARGS__)

#define NEXUM_ASSIGN_OR_RETURN_IMPL_(result, lhs, ...)       \
  auto result = (__VA_ARGS__);                               \
  if (!result.has_value()) return std::move(result).error(); \
  lhs = std::move(*result)
#define NEXUM_STATUS_CONCAT_(a, b) NEXUM_STATUS_CONCAT_INNER_(a, b)
#define NEXUM_STATUS_CONCAT_INNER_(a, b) a##b
