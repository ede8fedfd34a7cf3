// A claim on one stage run's key, so that identical work started at the same
// time by two experiments, two workspaces or two users on one cache runs
// once: the first exec-stage holds <cache>/claims/<key>; the others wait for
// it and then find its result in the run-cache.
//
// The claim is an flock(2), released by the kernel when its holder dies (a
// kill -9 leaves no stale claim), and works across hosts on file systems
// that support it (NFSv4, Lustre, GPFS). There is no global lock: claims on
// different keys never wait for each other. The holder unlinks the file
// before releasing it; a waiter that then locks the unlinked file sees that
// the path names another file (or none) and tries again, so no litter
// remains and no two holders coexist.
#pragma once

#include <functional>
#include <string>

namespace cadenza {

class WorkClaim {
 public:
  // Blocks until the claim on `key_hex` is ours, calling `on_wait` once if
  // someone else holds it. Returns an empty claim (held() false) as soon as
  // `give_up()` returns true while waiting. Throws Error when the claims
  // directory cannot be written.
  static WorkClaim acquire(const std::string& cache_dir, const std::string& key_hex,
                           const std::function<void()>& on_wait,
                           const std::function<bool()>& give_up);

  // True when someone holds the claim right now (a peek; no claim is taken).
  static bool busy(const std::string& cache_dir, const std::string& key_hex);

  WorkClaim() = default;
  WorkClaim(WorkClaim&& other) noexcept;
  WorkClaim& operator=(WorkClaim&& other) noexcept;
  WorkClaim(const WorkClaim&) = delete;
  WorkClaim& operator=(const WorkClaim&) = delete;
  ~WorkClaim();  // releases the claim

  bool held() const { return fd_ >= 0; }

 private:
  WorkClaim(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  void release();

  std::string path_;
  int fd_ = -1;
};

}  // namespace cadenza
