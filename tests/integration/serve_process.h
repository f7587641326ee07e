// A `nexum serve` child process (the built binary, NEXUM_CLI_PATH), its
// stdout and stderr in a log file: the port it listens on, SIGTERM or
// SIGKILL, its exit status. Killed with SIGKILL if still running on
// destruction. Thread-compatible.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "integration/kafka_test_util.h"

extern char** environ;

namespace nexum::testing {

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ServeProcess {
 public:
  ServeProcess(const std::vector<std::string>& args, const std::string& log) : log_(log) {
    std::vector<std::string> argv = {NEXUM_CLI_PATH, "serve"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    EXPECT_EQ(posix_spawn(&pid_, cargv[0], &actions, nullptr, cargv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
  }
  ~ServeProcess() { kill_now(); }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  pid_t pid() const { return pid_; }
  // The port from "listening on http://127.0.0.1:PORT", 0 on timeout or exit.
  std::uint16_t port(std::chrono::seconds timeout = std::chrono::seconds(60)) {
    const std::regex re("listening on http://[^:]+:([0-9]+)");
    std::uint16_t port = 0;
    wait_until(
        [&] {
          std::smatch m;
          const std::string text = slurp(log_);
          if (std::regex_search(text, m, re)) port = static_cast<std::uint16_t>(std::stoi(m[1]));
          return port != 0 || exited();
        },
        timeout, std::chrono::milliseconds(20));
    return port;
  }
  bool exited() {
    int status = 0;
    if (pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      exit_status_ = status;
      return true;
    }
    return pid_ <= 0;
  }
  // SIGTERM, then the exit code (-1 if it did not exit within `timeout`).
  int terminate(std::chrono::seconds timeout = std::chrono::seconds(60)) {
    if (pid_ > 0) ::kill(pid_, SIGTERM);
    if (!wait_until([&] { return exited(); }, timeout, std::chrono::milliseconds(20))) return -1;
    return WIFEXITED(exit_status_) ? WEXITSTATUS(exit_status_) : 128 + WTERMSIG(exit_status_);
  }
  // SIGKILL and reap. True when the process was still running (it died of
  // the signal), false when it had exited before.
  bool kill_now() {
    if (pid_ <= 0) return false;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    exit_status_ = status;
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  }
  std::string log() const { return slurp(log_); }

 private:
  std::string log_;
  pid_t pid_ = -1;
  int exit_status_ = 0;
};

}  // namespace nexum::testing
