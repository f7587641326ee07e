// EventId: parsing, formatting, UUIDv7 generation and name-derived UUIDv8.
// Layouts follow RFC 9562 (§5.7 UUIDv7, §5.8 UUIDv8).
#include "nexum/event_id.h"

#include <atomic>
#include <chrono>
#include <cstring>
#include <random>

#include "nexum/clock.h"

namespace nexum {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// Hex value of an ASCII character, or -1.
constexpr std::array<std::int8_t, 256> make_hex_table() {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = static_cast<std::int8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[static_cast<std::size_t>(c)] = static_cast<std::int8_t>(c - 'a' + 10);
  for (int c = 'A'; c <= 'F'; ++c) t[static_cast<std::size_t>(c)] = static_cast<std::int8_t>(c - 'A' + 10);
  return t;
}
constexpr std::array<std::int8_t, 256> kHexValue = make_hex_table();

// Offsets of the 32 hex digits within the 36-character canonical form.
constexpr bool is_hyphen_position(std::size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

// Echoes at most 40 printable-ASCII characters of untrusted input into an
// error message; anything else is summarized by its length.
std::string describe_input(std::string_view text) {
  std::string out;
  if (text.size() > 40) {
    out.append(std::to_string(text.size())).append(" characters");
    return out;
  }
  for (char c : text) {
    if (c < 0x20 || c > 0x7e) {
      out.append(std::to_string(text.size())).append(" bytes with non-printable characters");
      return out;
    }
  }
  out.append("\"").append(text).append("\"");
  return out;
}

// ---- UUIDv7 generation ------------------------------------------------------

// The last issued (unix_ms << 12 | sequence): the 60 bits that precede the
// random part. Every generate() claims a strictly larger value, so ids are
// strictly increasing in the order they are claimed. When more than 4096 ids
// are claimed within one millisecond, or the clock steps back, the value runs
// ahead of the clock (RFC 9562 §6.2, method 3: the timestamp is borrowed
// forward) and catches up once the clock passes it.
std::atomic<std::uint64_t> g_last_time_and_sequence{0};

std::uint64_t claim_time_and_sequence(std::int64_t unix_ms) {
  const std::uint64_t ms = unix_ms < 0 ? 0 : static_cast<std::uint64_t>(unix_ms) & ((1ULL << 48) - 1);
  const std::uint64_t floor = ms << 12;
  std::uint64_t prev = g_last_time_and_sequence.load(std::memory_order_relaxed);
  std::uint64_t next;
  do {
    next = prev + 1 > floor ? prev + 1 : floor;
  } while (!g_last_time_and_sequence.compare_exchange_weak(prev, next, std::memory_order_relaxed));
  return next;
}

// splitmix64: a small, fast generator; one per thread, seeded from
// std::random_device so threads and processes draw different streams.
// TODO(robustness): reseed in a child after fork(); today a forked child
// repeats its parent's random bits (the time/sequence part still differs
// once either process claims a later millisecond).
class ThreadRandom {
 public:
  ThreadRandom() {
    std::random_device rd;
    state_ = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_;
};

std::uint64_t thread_random() {
  thread_local ThreadRandom random;
  return random.next();
}

EventId make_v7(std::int64_t unix_ms) {
  const std::uint64_t ts = claim_time_and_sequence(unix_ms);  // 48-bit ms, 12-bit sequence
  const std::uint64_t hi = ((ts >> 12) << 16) | (0x7ULL << 12) | (ts & 0xfff);
  const std::uint64_t lo = (thread_random() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  std::array<std::uint8_t, 16> b;
  for (int i = 0; i < 8; ++i) {
    b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(hi >> (56 - 8 * i));
    b[static_cast<std::size_t>(8 + i)] = static_cast<std::uint8_t>(lo >> (56 - 8 * i));
  }
  return EventId(b);
}

// ---- SHA-256 (FIPS 180-4), for derive() --------------------------------------

constexpr std::uint32_t kSha256K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

constexpr std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

void sha256_block(std::uint32_t h[8], const std::uint8_t* p) {
  std::uint32_t w[64];
  for (int i = 0; i < 16; ++i) {
    w[i] = (std::uint32_t{p[4 * i]} << 24) | (std::uint32_t{p[4 * i + 1]} << 16) | (std::uint32_t{p[4 * i + 2]} << 8) |
           std::uint32_t{p[4 * i + 3]};
  }
  for (int i = 16; i < 64; ++i) {
    const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  for (int i = 0; i < 64; ++i) {
    const std::uint32_t t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + kSha256K[i] + w[i];
    const std::uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    k = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
  h[5] += f;
  h[6] += g;
  h[7] += k;
}

std::array<std::uint8_t, 32> sha256(std::string_view data) {
  std::uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  const auto* p = reinterpret_cast<const std::uint8_t*>(data.data());
  std::size_t n = data.size();
  while (n >= 64) {
    sha256_block(h, p);
    p += 64;
    n -= 64;
  }
  std::uint8_t tail[128] = {};
  if (n > 0) std::memcpy(tail, p, n);
  tail[n] = 0x80;
  const std::size_t tail_len = n + 1 + 8 <= 64 ? 64 : 128;
  const std::uint64_t bits = static_cast<std::uint64_t>(data.size()) * 8;
  for (int i = 0; i < 8; ++i)
    tail[tail_len - 1 - static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(bits >> (8 * i));
  sha256_block(h, tail);
  if (tail_len == 128) sha256_block(h, tail + 64);
  std::array<std::uint8_t, 32> out;
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 4; ++j)
      out[static_cast<std::size_t>(4 * i + j)] = static_cast<std::uint8_t>(h[i] >> (24 - 8 * j));
  }
  return out;
}

}  // namespace

Result<EventId> EventId::parse(std::string_view text, std::string_view field) {
  if (text.size() != 36) {
    return Status::invalid_argument(std::string(field) + ": expected a 36-character UUID (8-4-4-4-12 hex), got " +
                                    describe_input(text));
  }
  std::array<std::uint8_t, 16> bytes;
  std::size_t out = 0;
  for (std::size_t i = 0; i < 36;) {
    if (is_hyphen_position(i)) {
      if (text[i] != '-') break;
      ++i;
      continue;
    }
    const int hi = kHexValue[static_cast<unsigned char>(text[i])];
    const int lo = kHexValue[static_cast<unsigned char>(text[i + 1])];
    if (hi < 0 || lo < 0 || is_hyphen_position(i + 1)) break;
    bytes[out++] = static_cast<std::uint8_t>((hi << 4) | lo);
    i += 2;
  }
  if (out != 16) {
    return Status::invalid_argument(std::string(field) + ": expected a UUID of the form 8-4-4-4-12 hex digits, got " +
                                    describe_input(text));
  }
  return EventId(bytes);
}

EventId EventId::generate() { return generate(SystemClock::instance()); }

EventId EventId::generate(const Clock& clock) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock.now().time_since_epoch()).count();
  return make_v7(ms);
}

EventId EventId::derive(std::string_view name) {
  const std::array<std::uint8_t, 32> digest = sha256(name);
  std::array<std::uint8_t, 16> b;
  std::memcpy(b.data(), digest.data(), 16);
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x80);  // version 8
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);  // variant 10xx
  return EventId(b);
}

void EventId::append_to(std::string& out) const {
  char buf[36];
  std::size_t o = 0;
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) buf[o++] = '-';
    buf[o++] = kHexDigits[bytes_[i] >> 4];
    buf[o++] = kHexDigits[bytes_[i] & 0xf];
  }
  out.append(buf, sizeof(buf));
}

std::string EventId::to_string() const {
  std::string s;
  s.reserve(36);
  append_to(s);
  return s;
}

bool EventId::is_nil() const {
  for (std::uint8_t b : bytes_) {
    if (b != 0) return false;
  }
  return true;
}

}  // namespace nexum
