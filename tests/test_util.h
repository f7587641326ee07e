// Shared helpers for tests: temporary directories, shell commands, child
// processes and event builders.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

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

// What a shell command printed on stdout, and how it exited.
struct CommandResult {
  int exit_code = -1;  // -1: not started, or killed by a signal
  std::string out;
};

// Runs `command` through /bin/sh and collects its stdout; `input`, when not
// empty, is written to a temporary file fed to the command's stdin.
inline CommandResult run_command(const std::string& command, const std::string& input = {}) {
  CommandResult r;
  std::string full = command;
  std::string input_path;
  if (!input.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "nexum-input-XXXXXX").string();
    const int fd = ::mkstemp(tmpl.data());
    if (fd < 0) return r;
    FILE* f = ::fdopen(fd, "w");
    const bool written = f != nullptr && std::fwrite(input.data(), 1, input.size(), f) == input.size();
    if (f != nullptr) std::fclose(f);
    if (!written) return r;
    input_path = tmpl;
    full = "(" + command + ") < '" + input_path + "'";
  }
  FILE* p = ::popen(full.c_str(), "r");
  if (p != nullptr) {
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    const int status = ::pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  if (!input_path.empty()) std::filesystem::remove(input_path);
  return r;
}

// Starts this test binary afresh as a child process running only the tests
// matching `gtest_filter`, with `env` added to the environment (fork, then
// exec: a test's child must not simply be a fork of a parent whose RocksDB or
// librdkafka threads are running — ThreadSanitizer refuses one that starts
// threads). Everything is prepared before fork(), so the forked copy only
// calls exec; it exits 127 if exec fails. Returns the child's pid (-1 on error).
inline pid_t spawn_self(const std::string& gtest_filter, const std::vector<std::pair<std::string, std::string>>& env) {
  std::vector<std::string> vars;
  for (char** e = environ; *e != nullptr; ++e) vars.emplace_back(*e);
  for (const auto& [name, value] : env) vars.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (std::string& v : vars) envp.push_back(v.data());
  envp.push_back(nullptr);
  std::error_code ec;
  std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec) return -1;
  std::string filter = "--gtest_filter=" + gtest_filter;
  char* argv[] = {self.data(), filter.data(), nullptr};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execve(self.c_str(), argv, envp.data());
    _exit(127);
  }
  return pid;
}

// In a test that spawn_self starts: the values of `names` in the environment,
// in order, or nullopt when any is missing (the test is then running as an
// ordinary test, not as a child, and should skip).
inline std::optional<std::vector<std::string>> spawned_env(std::initializer_list<const char*> names) {
  std::vector<std::string> values;
  for (const char* name : names) {
    const char* v = std::getenv(name);
    if (v == nullptr) return std::nullopt;
    values.emplace_back(v);
  }
  return values;
}

inline EventSchema make_event(const std::string& event_type, const std::string& entity_type,
                              const std::string& entity_id, boost::json::object data = {}) {
  return EventSchema::make(event_type, entity_type, entity_id, std::move(data), {}, SystemClock::instance());
}

}  // namespace nexum::testing
