#include "store/keys.h"

namespace nexum::store {

FixedKey encode_u64(std::uint64_t v) {
  FixedKey k;
  for (int i = 7; i >= 0; --i) {
    k[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return k;
}

void append_u64(std::uint64_t v, std::string& out) {
  FixedKey k = encode_u64(v);
  out.append(k.data(), k.size());
}

std::string stream_key(std::string_view stream, std::int64_t version) {
  std::string k;
  k.reserve(stream.size() + 9);
  k.append(stream);
  k.push_back('\0');
  append_u64(static_cast<std::uint64_t>(version), k);
  return k;
}

std::string stream_end_key(std::string_view stream) {
  std::string k(stream);
  k.push_back('\x01');
  return k;
}

std::optional<StreamKey> parse_stream_key(std::string_view key) {
  if (key.size() < 10 || key[key.size() - 9] != '\0') return std::nullopt;
  auto v = decode_u64(key.substr(key.size() - 8));
  if (!v) return std::nullopt;
  return StreamKey{key.substr(0, key.size() - 9), static_cast<std::int64_t>(*v)};
}

}  // namespace nexum::store
