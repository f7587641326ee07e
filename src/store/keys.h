// Key encodings of every column family. Layout: doc/key_layout.md.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace nexum::store {

// Column family names, in the order they are opened.
inline constexpr std::string_view kCfLog = "log";
inline constexpr std::string_view kCfStreams = "streams";
inline constexpr std::string_view kCfIds = "ids";
inline constexpr std::string_view kCfCheckpoints = "checkpoints";
inline constexpr std::string_view kCfSnapshots = "snapshots";
inline constexpr std::string_view kCfReadModels = "readmodels";
inline constexpr std::string_view kCfSagas = "sagas";
inline constexpr std::string_view kCfMeta = "meta";

inline constexpr std::string_view kFormatVersionKey = "format_version";
inline constexpr std::string_view kFormatVersion = "nexum-store/1";

// 8 bytes, big-endian, so byte order is numeric order (positions, versions >= 0).
using FixedKey = std::array<char, 8>;
FixedKey encode_u64(std::uint64_t v);
void append_u64(std::uint64_t v, std::string& out);
// Inline: stream reads decode two keys per event.
inline std::optional<std::uint64_t> decode_u64(std::string_view bytes) {
  if (bytes.size() != 8) return std::nullopt;
  std::uint64_t v;
  std::memcpy(&v, bytes.data(), 8);
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
  return v;
}

// streams CF: stream bytes, 0x00, big-endian version. Stream ids never contain NUL.
std::string stream_key(std::string_view stream, std::int64_t version);
// The first key after every key of `stream` (stream, 0x01).
std::string stream_end_key(std::string_view stream);
// Splits a streams-CF key; nullopt when malformed.
struct StreamKey {
  std::string_view stream;
  std::int64_t version;
};
std::optional<StreamKey> parse_stream_key(std::string_view key);

}  // namespace nexum::store
