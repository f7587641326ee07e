// MapSagaFacts: SagaFacts over a std::map, for tests that call a saga's
// handle() directly (no engine, no store).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "nexum/saga.h"

namespace nexum::testing {

// Thread-compatible.
class MapSagaFacts final : public SagaFacts {
 public:
  Result<std::optional<std::string>> get(std::string_view key) override {
    auto it = m_.find(std::string(key));
    return it == m_.end() ? std::optional<std::string>() : std::optional<std::string>(it->second);
  }
  void put(std::string_view key, std::string_view value) override { m_[std::string(key)] = std::string(value); }
  void erase(std::string_view key) override { m_.erase(std::string(key)); }

 private:
  std::map<std::string, std::string> m_;
};

}  // namespace nexum::testing
