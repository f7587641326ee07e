#include "store/rocks_logger.h"

#include <algorithm>
#include <array>
#include <cstdarg>
#include <cstdio>
#include <string_view>

#include <spdlog/spdlog.h>

namespace nexum::store {
namespace {

spdlog::level::level_enum spdlog_level(rocksdb::InfoLogLevel level) {
  switch (level) {
    case rocksdb::InfoLogLevel::DEBUG_LEVEL: return spdlog::level::trace;
    case rocksdb::InfoLogLevel::INFO_LEVEL: return spdlog::level::debug;
    case rocksdb::InfoLogLevel::WARN_LEVEL: return spdlog::level::warn;
    case rocksdb::InfoLogLevel::ERROR_LEVEL: return spdlog::level::err;
    case rocksdb::InfoLogLevel::FATAL_LEVEL: return spdlog::level::critical;
    default: return spdlog::level::debug;  // HEADER_LEVEL: the options dump of every open
  }
}

class SpdlogRocksLogger final : public rocksdb::Logger {
 public:
  explicit SpdlogRocksLogger(rocksdb::InfoLogLevel level) : rocksdb::Logger(level) {}

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override { Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap); }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel() && level != rocksdb::InfoLogLevel::HEADER_LEVEL) return;
    const spdlog::level::level_enum to = spdlog_level(level);
    if (!spdlog::should_log(to)) return;
    std::array<char, 1024> line{};
    const int n = std::vsnprintf(line.data(), line.size(), format, ap);
    if (n < 0) return;
    std::string_view text(line.data(), std::min<std::size_t>(static_cast<std::size_t>(n), line.size() - 1));
    while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    spdlog::log(to, "rocksdb: {}", text);
  }
};

}  // namespace

std::shared_ptr<rocksdb::Logger> new_rocks_logger(rocksdb::InfoLogLevel level) {
  return std::make_shared<SpdlogRocksLogger>(level);
}

}  // namespace nexum::store
