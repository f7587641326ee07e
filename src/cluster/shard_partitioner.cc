#include "cluster/shard_partitioner.h"

#include <cstring>

#include "nexum/aggregates.h"

namespace nexum::cluster {

std::uint32_t kafka_murmur2(std::string_view key) {
  const std::uint32_t seed = 0x9747b28c;
  const std::uint32_t m = 0x5bd1e995;
  const int r = 24;
  const auto length = static_cast<std::uint32_t>(key.size());
  const auto* data = reinterpret_cast<const unsigned char*>(key.data());
  std::uint32_t h = seed ^ length;
  const std::uint32_t blocks = length / 4;
  for (std::uint32_t i = 0; i < blocks; ++i) {
    const std::uint32_t i4 = i * 4;
    std::uint32_t k = static_cast<std::uint32_t>(data[i4]) | (static_cast<std::uint32_t>(data[i4 + 1]) << 8) |
                      (static_cast<std::uint32_t>(data[i4 + 2]) << 16) |
                      (static_cast<std::uint32_t>(data[i4 + 3]) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const std::uint32_t tail = blocks * 4;
  switch (length % 4) {
    case 3: h ^= static_cast<std::uint32_t>(data[tail + 2]) << 16; [[fallthrough]];
    case 2: h ^= static_cast<std::uint32_t>(data[tail + 1]) << 8; [[fallthrough]];
    case 1: h ^= static_cast<std::uint32_t>(data[tail]); h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return h;
}

int shard_of(std::string_view key, int shard_count) {
  return static_cast<int>((kafka_murmur2(key) & 0x7fffffffu) % static_cast<std::uint32_t>(shard_count));
}

std::optional<int> stream_shard(std::string_view stream, int shard_count) {
  for (std::string_view type : {Customer::kEntityType, Account::kEntityType, Loan::kEntityType}) {
    if (stream.size() > type.size() + 1 && stream.substr(0, type.size()) == type && stream[type.size()] == '-') {
      return shard_of(stream.substr(type.size() + 1), shard_count);
    }
  }
  return std::nullopt;
}

}  // namespace nexum::cluster
