// JSON form of the envelope: encoding and timestamps. Decoding is in
// json_decode.cc. Wire format: doc/wire_format.md.
//
// Encode writes the envelope by hand (it is fixed: nine keys, in order) and
// hands only data/metadata to boost::json's serializer.
#include "nexum/json_codec.h"

#include <algorithm>
#include <array>
#include <cstring>

#include <boost/json/serializer.hpp>

#include "core/json_internal.h"

namespace nexum {
namespace json_internal {

// ---- Fields and errors ----------------------------------------------------------

Field lookup_field(std::string_view key) {
  switch (key.size()) {
    case 4:
      if (key == "data") return kData;
      break;
    case 6:
      if (key == "source") return kSource;
      break;
    case 7:
      if (key == "version") return kVersion;
      break;
    case 8:
      if (key == "event_id") return kEventId;
      if (key == "metadata") return kMetadata;
      break;
    case 9:
      if (key == "timestamp") return kTimestamp;
      if (key == "entity_id") return kEntityId;
      break;
    case 10:
      if (key == "event_type") return kEventType;
      break;
    case 11:
      if (key == "entity_type") return kEntityType;
      break;
    default: break;
  }
  return kNoField;
}

std::string printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  const std::size_t n = std::min<std::size_t>(text.size(), 64);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  if (text.size() > n) out += "...";
  return out;
}

Status field_error(Field f, std::string_view problem) {
  return Status::invalid_argument(std::string(kFieldNames[f]) + ": " + std::string(problem));
}

Status type_error(Field f, std::string_view got) {
  std::string_view expected = "a string";
  if (f == kData || f == kMetadata) expected = "an object";
  if (f == kEntityType || f == kEntityId) expected = "a string or null";
  return Status::invalid_argument(std::string(kFieldNames[f]) + ": expected " + std::string(expected) + ", got " +
                                  std::string(got));
}

Status not_an_object(std::string_view got) {
  return Status::invalid_argument("json: expected the envelope to be a JSON object, got " + std::string(got));
}

// ---- UTF-8 ------------------------------------------------------------------

std::size_t utf8_sequence_length(const unsigned char* p, const unsigned char* end) {
  const unsigned char c = p[0];
  const std::size_t avail = static_cast<std::size_t>(end - p);
  auto cont = [&](std::size_t i) { return (p[i] & 0xc0) == 0x80; };
  if (c >= 0xc2 && c <= 0xdf) return avail >= 2 && cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (avail < 3 || !cont(1) || !cont(2)) return 0;
    if (c == 0xe0 && p[1] < 0xa0) return 0;  // overlong
    if (c == 0xed && p[1] > 0x9f) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (avail < 4 || !cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xf0 && p[1] < 0x90) return 0;  // overlong
    if (c == 0xf4 && p[1] > 0x8f) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

bool is_valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    if (*p < 0x80) {
      ++p;
      continue;
    }
    const std::size_t n = utf8_sequence_length(p, end);
    if (n == 0) return false;
    p += n;
  }
  return true;
}

// What a byte needs inside a JSON string: 0 copy, 'u' \u00XX, 'x' start of a
// multi-byte sequence (validate), anything else \ + that character. Matches
// boost::json's serializer, so envelope and payload strings look alike.
constexpr std::array<char, 256> make_escape_table() {
  std::array<char, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[static_cast<std::size_t>(c)] = 'u';
  t['\b'] = 'b';
  t['\t'] = 't';
  t['\n'] = 'n';
  t['\f'] = 'f';
  t['\r'] = 'r';
  t['"'] = '"';
  t['\\'] = '\\';
  for (int c = 0x80; c < 0x100; ++c) t[static_cast<std::size_t>(c)] = 'x';
  return t;
}
constexpr std::array<char, 256> kEscape = make_escape_table();

void append_quoted(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  const auto* run = p;
  auto flush = [&](const unsigned char* upto) {
    out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(upto - run));
  };
  out.push_back('"');
  while (p < end) {
    const char e = kEscape[*p];
    if (e == 0) {
      ++p;
      continue;
    }
    if (e == 'x') {
      const std::size_t n = utf8_sequence_length(p, end);
      if (n != 0) {
        p += n;
        continue;
      }
      flush(p);
      out.append("\xef\xbf\xbd", 3);
    } else if (e == 'u') {
      flush(p);
      const char buf[6] = {'\\', 'u', '0', '0', kHex[*p >> 4], kHex[*p & 0xf]};
      out.append(buf, 6);
    } else {
      flush(p);
      const char buf[2] = {'\\', e};
      out.append(buf, 2);
    }
    ++p;
    run = p;
  }
  flush(end);
  out.push_back('"');
}

}  // namespace json_internal

namespace {

namespace json = boost::json;
using json_internal::append_quoted;
using json_internal::printable;
using json_internal::utf8_sequence_length;

// ---- Encoding -----------------------------------------------------------------

void append_nullable(std::string_view s, std::string& out) {
  if (s.empty()) {
    out.append("null", 4);
  } else {
    append_quoted(s, out);
  }
}

// Everything up to and including `"data":`.
void append_head(const EventId& id, std::string_view event_type, Timestamp ts, std::string_view source,
                 std::string_view version, std::string_view entity_type, std::string_view entity_id, std::string& out) {
  static constexpr std::string_view kIdKey = "{\"event_id\":\"";
  out.append(kIdKey);
  id.append_to(out);
  out.append("\",\"event_type\":");
  append_quoted(event_type, out);
  out.append(",\"timestamp\":\"");
  append_timestamp(ts, out);
  out.append("\",\"source\":");
  append_quoted(source, out);
  out.append(",\"version\":");
  append_quoted(version, out);
  out.append(",\"entity_type\":");
  append_nullable(entity_type, out);
  out.append(",\"entity_id\":");
  append_nullable(entity_id, out);
  out.append(",\"data\":");
}

// Bytes of the envelope around the variable parts, rounded up.
constexpr std::size_t kEnvelopeOverhead = 200;

// ---- Timestamps -----------------------------------------------------------------

constexpr std::int64_t kMicrosPerSecond = 1'000'000;
constexpr std::int64_t kMicrosPerDay = 86'400 * kMicrosPerSecond;

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

constexpr Civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

constexpr bool is_leap(std::int64_t y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

constexpr unsigned days_in_month(std::int64_t y, unsigned m) {
  constexpr unsigned kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// Python's datetime range, which the seed's consumers can represent.
constexpr std::int64_t kMinMicros = days_from_civil(1, 1, 1) * kMicrosPerDay;
constexpr std::int64_t kMaxMicros = (days_from_civil(9999, 12, 31) + 1) * kMicrosPerDay - 1;

constexpr char kDigitPairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

inline void put2(char* p, unsigned v) { std::memcpy(p, kDigitPairs + 2 * v, 2); }

// Reads `n` ASCII digits at s[pos]; false if any is not a digit.
bool read_digits(std::string_view s, std::size_t pos, std::size_t n, unsigned& value) {
  if (pos + n > s.size()) return false;
  unsigned v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned d = static_cast<unsigned char>(s[pos + i]) - static_cast<unsigned>('0');
    if (d > 9) return false;
    v = v * 10 + d;
  }
  value = v;
  return true;
}

}  // namespace

// ---- Timestamps -------------------------------------------------------------------

void append_timestamp(Timestamp t, std::string& out) {
  const std::int64_t us = std::clamp<std::int64_t>(t.time_since_epoch().count(), kMinMicros, kMaxMicros);
  std::int64_t days = us / kMicrosPerDay;
  std::int64_t rem = us % kMicrosPerDay;
  if (rem < 0) {
    rem += kMicrosPerDay;
    --days;
  }
  const Civil c = civil_from_days(days);
  const auto secs = static_cast<unsigned>(rem / kMicrosPerSecond);
  const auto frac = static_cast<unsigned>(rem % kMicrosPerSecond);
  const auto year = static_cast<unsigned>(c.year);
  char b[32];
  put2(b, year / 100);
  put2(b + 2, year % 100);
  b[4] = '-';
  put2(b + 5, c.month);
  b[7] = '-';
  put2(b + 8, c.day);
  b[10] = 'T';
  put2(b + 11, secs / 3600);
  b[13] = ':';
  put2(b + 14, secs / 60 % 60);
  b[16] = ':';
  put2(b + 17, secs % 60);
  b[19] = '.';
  put2(b + 20, frac / 10000);
  put2(b + 22, frac / 100 % 100);
  put2(b + 24, frac % 100);
  std::memcpy(b + 26, "+00:00", 6);
  out.append(b, sizeof(b));
}

std::string format_timestamp(Timestamp t) {
  std::string s;
  s.reserve(32);
  append_timestamp(t, s);
  return s;
}

Result<Timestamp> parse_timestamp(std::string_view s, std::string_view field) {
  auto bad = [&](std::string_view problem) {
    return Status::invalid_argument(std::string(field) + ": " + std::string(problem) + ", got \"" + printable(s) +
                                    "\"");
  };
  static constexpr std::string_view kShape = "expected ISO 8601 like 2026-01-02T03:04:05.123456+00:00";
  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (s.size() < 19 || !read_digits(s, 0, 4, year) || s[4] != '-' || !read_digits(s, 5, 2, month) || s[7] != '-' ||
      !read_digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't') || !read_digits(s, 11, 2, hour) || s[13] != ':' ||
      !read_digits(s, 14, 2, minute) || s[16] != ':' || !read_digits(s, 17, 2, second)) {
    return bad(kShape);
  }
  std::size_t pos = 19;
  std::int64_t micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::size_t digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (++digits > 6) return bad("fraction has more than 6 digits");
      micros = micros * 10 + (s[pos] - '0');
      ++pos;
    }
    if (digits == 0) return bad(kShape);
    for (std::size_t i = digits; i < 6; ++i) micros *= 10;
  }
  std::int64_t offset_minutes = 0;
  if (pos == s.size()) return bad("missing UTC offset (Z or +HH:MM)");
  const char z = s[pos];
  if (z == 'Z' || z == 'z') {
    if (pos + 1 != s.size()) return bad(kShape);
  } else if (z == '+' || z == '-') {
    unsigned oh = 0, om = 0;
    if (pos + 6 != s.size() || !read_digits(s, pos + 1, 2, oh) || s[pos + 3] != ':' ||
        !read_digits(s, pos + 4, 2, om)) {
      return bad("expected a UTC offset Z or +HH:MM");
    }
    if (oh > 23 || om > 59) return bad("UTC offset out of range");
    offset_minutes = (z == '-' ? -1 : 1) * static_cast<std::int64_t>(oh * 60 + om);
  } else {
    return bad(kShape);
  }
  if (year < 1) return bad("year must be 0001 to 9999");
  if (month < 1 || month > 12) return bad("month must be 01 to 12");
  if (day < 1 || day > days_in_month(year, month)) return bad("day does not exist in that month");
  if (hour > 23 || minute > 59 || second > 59) return bad("time of day out of range");
  const std::int64_t local = days_from_civil(year, month, day) * kMicrosPerDay +
                             (static_cast<std::int64_t>(hour) * 3600 + minute * 60 + second) * kMicrosPerSecond +
                             micros;
  const std::int64_t utc = local - offset_minutes * 60 * kMicrosPerSecond;
  if (utc < kMinMicros || utc > kMaxMicros) return bad("outside years 0001 to 9999 in UTC");
  return Timestamp(std::chrono::microseconds(utc));
}

// ---- Encoding -------------------------------------------------------------------------

void append_payload(const boost::json::object& payload, std::string& out) {
  if (payload.empty()) {
    out.append("{}", 2);
    return;
  }
  json::serializer sr;
  sr.reset(&payload);
  while (!sr.done()) {
    // Serialize straight into the string's spare room.
    const std::size_t used = out.size();
    const std::size_t room = std::max<std::size_t>(out.capacity() - used, 256);
    out.resize(used + room);
    const json::string_view chunk = sr.read(out.data() + used, room);
    out.resize(used + chunk.size());
  }
}

std::string serialize_payload(const boost::json::object& payload) {
  std::string out;
  append_payload(payload, out);
  return out;
}

void encode_event_json(const EventSchema& e, std::string& out) {
  out.reserve(out.size() + kEnvelopeOverhead + e.event_type.size() + e.source.size() + e.version.size() +
              e.entity_type.size() + e.entity_id.size() + 64 * (e.data.size() + e.metadata.size()));
  append_head(e.event_id, e.event_type, e.timestamp, e.source, e.version, e.entity_type, e.entity_id, out);
  append_payload(e.data, out);
  out.append(",\"metadata\":", 12);
  append_payload(e.metadata, out);
  out.push_back('}');
}

std::string encode_event_json(const EventSchema& event) {
  std::string out;
  encode_event_json(event, out);
  return out;
}

void encode_event_json(const EnvelopeView& v, std::string& out) {
  out.reserve(out.size() + kEnvelopeOverhead + v.event_type.size() + v.source.size() + v.version.size() +
              v.entity_type.size() + v.entity_id.size() + v.data_json.size() + v.metadata_json.size());
  append_head(v.event_id, v.event_type, v.timestamp, v.source, v.version, v.entity_type, v.entity_id, out);
  if (v.data_json.empty()) {
    out.append("{}", 2);
  } else {
    out.append(v.data_json);
  }
  out.append(",\"metadata\":", 12);
  if (v.metadata_json.empty()) {
    out.append("{}", 2);
  } else {
    out.append(v.metadata_json);
  }
  out.push_back('}');
}

}  // namespace nexum
