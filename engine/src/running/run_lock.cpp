#include "run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "error.h"

namespace cadenza {

namespace {

int open_lock_file(const std::string& state_dir) {
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  const std::string path = state_dir + "/run.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw Error("cannot open " + path + ": " + std::strerror(errno));
  return fd;
}

}  // namespace

std::optional<RunLock> RunLock::try_acquire(const std::string& state_dir, const std::string& run_id) {
  const int fd = open_lock_file(state_dir);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  // Informational only: who holds it.
  if (::ftruncate(fd, 0) == 0) {
    const std::string text = run_id + "\n";
    [[maybe_unused]] ssize_t n = ::pwrite(fd, text.data(), text.size(), 0);
  }
  return RunLock(fd);
}

RunLock RunLock::acquire(const std::string& state_dir, const std::string& run_id) {
  const int fd = open_lock_file(state_dir);
  while (::flock(fd, LOCK_EX) != 0)
    if (errno != EINTR) {
      ::close(fd);
      throw Error("cannot lock " + state_dir + "/run.lock: " + std::strerror(errno));
    }
  if (::ftruncate(fd, 0) == 0) {
    const std::string text = run_id + "\n";
    [[maybe_unused]] ssize_t n = ::pwrite(fd, text.data(), text.size(), 0);
  }
  return RunLock(fd);
}

RunLock RunLock::adopt(int fd) {
  // flock on the description that already holds the lock succeeds at once.
  if (fd < 0 || ::flock(fd, LOCK_EX | LOCK_NB) != 0)
    throw Error("internal: the background driver did not inherit the workspace's run lock");
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);  // not further down, to the stages
  return RunLock(fd);
}

bool RunLock::held(const std::string& state_dir) {
  std::error_code ec;
  if (!std::filesystem::exists(state_dir + "/run.lock", ec)) return false;
  const int fd = open_lock_file(state_dir);
  const bool free = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
  ::close(fd);  // drops the probe's lock too
  return !free;
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);
}

int RunLock::release_to_child() {
  // Clear close-on-exec so the exec'd driver inherits the locked description.
  ::fcntl(fd_, F_SETFD, 0);
  return fd_;
}

}  // namespace cadenza
