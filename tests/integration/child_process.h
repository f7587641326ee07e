// Starting a program (a `nexum` command) as a child process of a test, its
// output appended to a log file.
#pragma once

#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace nexum::testing {

// Starts the program args[0] with `args` as a child process whose stdout and
// stderr are appended to the file `log`. Returns its pid (-1 on error; the
// forked copy exits 127 if exec fails).
inline pid_t spawn_logged(std::vector<std::string> args, const std::string& log) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  ::close(fd);
  return pid;
}

}  // namespace nexum::testing
