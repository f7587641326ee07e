// Shared helpers for tests: temporary directories and event builders.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

#include <boost/json/object.hpp>

#include "nexum/clock.h"
#include "nexum/event.h"

namespace nexum::testing {

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "nexum-test-XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    path_ = p ? p : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline EventSchema make_event(const std::string& event_type, const std::string& entity_type,
                              const std::string& entity_id, boost::json::object data = {}) {
  return EventSchema::make(event_type, entity_type, entity_id, std::move(data), {}, SystemClock::instance());
}

}  // namespace nexum::testing
