#include "projections/read_model_keys.h"

#include "nexum/projection_query.h"
#include "store/keys.h"

namespace nexum {

bool is_valid_projection_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace nexum

namespace nexum::projections {

std::string model_prefix(std::string_view name) {
  std::string k(name);
  k.push_back('/');
  return k;
}

std::string model_key(std::string_view name, std::string_view key) {
  std::string k;
  k.reserve(name.size() + 1 + key.size());
  k.append(name);
  k.push_back('/');
  k.append(key);
  return k;
}

std::string parked_prefix(std::string_view name) {
  std::string k = "$parked/";
  k.append(name);
  k.push_back('/');
  return k;
}

std::string parked_key(std::string_view name, std::int64_t position) {
  std::string k = parked_prefix(name);
  store::append_u64(static_cast<std::uint64_t>(position), k);
  return k;
}

std::optional<std::int64_t> parked_key_position(std::string_view key) {
  if (key.size() < 8) return std::nullopt;
  auto v = store::decode_u64(key.substr(key.size() - 8));
  if (!v) return std::nullopt;
  return static_cast<std::int64_t>(*v);
}

std::string status_key(std::string_view name) {
  std::string k = "$status/";
  k.append(name);
  return k;
}

std::string checkpoint_name(std::string_view name) {
  std::string k = "projection/";
  k.append(name);
  return k;
}

std::string prefix_successor(std::string_view prefix) {
  std::string k(prefix);
  while (!k.empty()) {
    auto& c = reinterpret_cast<unsigned char&>(k.back());
    if (c != 0xff) {
      ++c;
      return k;
    }
    k.pop_back();
  }
  return k;
}

}  // namespace nexum::projections
