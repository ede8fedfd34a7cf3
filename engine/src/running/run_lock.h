// One live run per workspace: `.cadenza/run.lock`, held with flock(2) by the
// process that drives a run (attached `cadenza run`, or the background driver
// of `run --detach`) for as long as it lives.
//
// flock, not a pid file: the kernel drops the lock when its holder dies, even
// by kill -9, so a crashed run never leaves a stale lock that a user must
// delete by hand. Only the holder writes workflow.lock, so two runs of one
// workspace never interleave their lock writes. The lock file's content (the
// holder's run id) is informational; the run record says more.
#pragma once

#include <optional>
#include <string>

namespace cadenza {

class RunLock {
 public:
  // Takes the lock if it is free; nullopt if another process holds it.
  // Throws Error if the lock file cannot be opened (read-only workspace...).
  static std::optional<RunLock> try_acquire(const std::string& state_dir, const std::string& run_id);
  // Waits for the lock (the job that finishes a handed-off run, while a
  // later run of the workspace may hold it).
  static RunLock acquire(const std::string& state_dir, const std::string& run_id);
  // The lock passed down by the parent of a background driver (fd inherited
  // across exec). Throws Error if `fd` does not hold the workspace's lock.
  static RunLock adopt(int fd);
  // True if some process holds the lock now (a short probe: takes and drops it).
  static bool held(const std::string& state_dir);

  RunLock(RunLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  RunLock& operator=(RunLock&&) = delete;
  RunLock(const RunLock&) = delete;
  ~RunLock();

  // Keeps the lock held across fork+exec into a background driver: the
  // descriptor is inherited, so the lock passes without a gap.
  int release_to_child();

 private:
  explicit RunLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace cadenza
