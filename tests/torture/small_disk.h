// A small filesystem that really fills, for the disk-full torture test: a
// tmpfs of a few MiB mounted in a mount namespace of the test process's own
// (its children — `nexum serve`, `nexum verify` — inherit it; it goes away
// with the process, so a crashed test leaves no mount behind).
//
// Mounting needs either root (CAP_SYS_ADMIN) or an unprivileged user
// namespace (the kernel's default on Debian 12, where tmpfs may be mounted
// inside one). When neither is allowed (a locked-down container or CI
// runner) the reason is returned and the test skips, saying so.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace nexum::testing {

// Moves this process into a mount namespace of its own: as root
// unshare(CLONE_NEWNS); otherwise a user namespace too, in which this user
// is root (uid/gid maps of one id). Must run while the process has one
// thread (unshare refuses otherwise): call it from a static initializer.
// Returns "" on success, else why not.
inline std::string enter_private_mount_namespace() {
  auto failed = [](const std::string& what) { return what + ": " + std::strerror(errno); };
  if (::geteuid() == 0) {
    if (::unshare(CLONE_NEWNS) != 0) return failed("unshare(CLONE_NEWNS) as root");
  } else {
    const uid_t uid = ::geteuid();
    const gid_t gid = ::getegid();
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
      return failed("not root, and unshare(CLONE_NEWUSER | CLONE_NEWNS) (an unprivileged user namespace)");
    }
    auto write_file = [](const std::string& path, const std::string& text) {
      std::ofstream f(path);
      f << text;
      f.flush();
      return static_cast<bool>(f);
    };
    if (!write_file("/proc/self/setgroups", "deny") ||
        !write_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1\n") ||
        !write_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1\n")) {
      return failed("writing the user namespace's uid/gid maps");
    }
  }
  // Mounts made here must not propagate back to the parent namespace.
  if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return failed("making / private");
  return "";
}

// A tmpfs of `bytes` mounted at `dir` (an existing directory). "" or why not.
inline std::string mount_small_disk(const std::string& dir, std::uint64_t bytes) {
  const std::string options = "size=" + std::to_string(bytes) + ",mode=0700";
  if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
    return "mount -t tmpfs -o " + options + " " + dir + ": " + std::strerror(errno);
  }
  return "";
}

inline void unmount_small_disk(const std::string& dir) { ::umount2(dir.c_str(), MNT_DETACH); }

// Writes `path` until the filesystem refuses with ENOSPC (1 MiB blocks, then
// 4 KiB ones, so at most a page is left) and syncs it. Returns the bytes
// written, or -1 (with errno) when a write fails for another reason.
inline std::int64_t fill_disk(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd < 0) return -1;
  std::int64_t written = 0;
  for (std::size_t block : {std::size_t{1} << 20, std::size_t{4096}}) {
    const std::vector<char> zeros(block, 'x');
    for (;;) {
      const ssize_t n = ::write(fd, zeros.data(), zeros.size());
      if (n > 0) {
        written += n;
        continue;
      }
      if (n < 0 && errno == ENOSPC) break;
      if (n < 0 && errno == EINTR) continue;
      const int e = errno;
      ::close(fd);
      errno = e;
      return -1;
    }
  }
  ::fsync(fd);
  ::close(fd);
  return written;
}

}  // namespace nexum::testing
