#include "work_claim.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "error.h"

namespace cadenza {

namespace {

std::string claim_path(const std::string& cache_dir, const std::string& key_hex) {
  return cache_dir + "/claims/" + key_hex;
}

// True when `fd` is still the file at `path` (not unlinked by its last holder).
bool still_named(int fd, const std::string& path) {
  struct stat a {}, b {};
  return ::fstat(fd, &a) == 0 && ::stat(path.c_str(), &b) == 0 && a.st_ino == b.st_ino &&
         a.st_dev == b.st_dev;
}

}  // namespace

WorkClaim WorkClaim::acquire(const std::string& cache_dir, const std::string& key_hex,
                             const std::function<void()>& on_wait,
                             const std::function<bool()>& give_up) {
  const std::string path = claim_path(cache_dir, key_hex);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  bool told = false;
  while (true) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
      throw Error("cannot create the work claim " + path + ": " + std::strerror(errno) +
                  " (the cache directory must be writable)");
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      if (still_named(fd, path)) return WorkClaim(path, fd);
      ::close(fd);  // its holder finished and unlinked it: take the new one
      continue;
    }
    ::close(fd);
    if (!told && on_wait) on_wait();
    told = true;
    if (give_up && give_up()) return WorkClaim();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

bool WorkClaim::busy(const std::string& cache_dir, const std::string& key_hex) {
  const std::string path = claim_path(cache_dir, key_hex);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool locked = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);
  return locked;
}

WorkClaim::WorkClaim(WorkClaim&& other) noexcept : path_(std::move(other.path_)), fd_(other.fd_) {
  other.fd_ = -1;
}

WorkClaim& WorkClaim::operator=(WorkClaim&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

WorkClaim::~WorkClaim() { release(); }

void WorkClaim::release() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());  // while still holding it: see the header
  ::close(fd_);
  fd_ = -1;
}

}  // namespace cadenza
