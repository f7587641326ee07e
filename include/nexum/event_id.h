// EventId: a UUID, the identity and idempotency key of an event.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "nexum/status.h"

namespace nexum {

class Clock;

// Value type: 16 bytes in RFC 9562 byte order. Thread-compatible.
class EventId {
 public:
  EventId() = default;  // The nil UUID.
  explicit EventId(const std::array<std::uint8_t, 16>& bytes) : bytes_(bytes) {}

  // Parses the canonical 36-character form (8-4-4-4-12 hex, either case).
  // Anything else is InvalidArgument naming `field`.
  static Result<EventId> parse(std::string_view text, std::string_view field = "event_id");

  // A new UUIDv7: 48-bit Unix milliseconds, then a counter that keeps ids
  // strictly increasing within this process even when the clock stands still
  // or steps back, then random bits. Thread-safe.
  //
  // The counter is process-wide and shared by every clock: the embedded time
  // is `clock`'s millisecond, or — when an earlier id of this process already
  // carried a later one (the clock stepped back, a ManualClock lags the real
  // one, or over 4096 ids were issued within one millisecond) — that later
  // time plus one tick. Never read business time from an id; use timestamp.
  static EventId generate();
  static EventId generate(const Clock& clock);

  // A deterministic UUIDv8 (RFC 9562 "custom") hashed from `name`: the same
  // name always gives the same id. For ids that a replay must reproduce
  // (saga commands: saga id + step). The 128 bits are the first half of
  // SHA-256(name) with the version and variant bits overwritten, as in
  // RFC 9562 Appendix B.2 (without a namespace prefix).
  static EventId derive(std::string_view name);

  // Lowercase canonical form, 36 characters.
  std::string to_string() const;
  void append_to(std::string& out) const;  // Appends the 36 characters.

  const std::array<std::uint8_t, 16>& bytes() const { return bytes_; }
  bool is_nil() const;
  int version() const { return bytes_[6] >> 4; }

  friend auto operator<=>(const EventId&, const EventId&) = default;

 private:
  std::array<std::uint8_t, 16> bytes_{};
};

}  // namespace nexum
