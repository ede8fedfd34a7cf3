// The stat cache: path -> (size, mtime in ns, inode, device) -> content hash,
// so that a file whose stat did not change is not hashed again. A file whose
// stat changed in any field is re-hashed (its mtime alone is not trusted).
//
// On disk (.cadenza/statcache) it is a flat text file, one entry a line:
//   <hash hex> <size> <mtime_ns> <inode> <device> <path>\n
// read and written in one go; parsing 100,000 entries takes milliseconds,
// where JSON would take a large share of a no-op run. The file is replaced
// atomically; two processes saving at once lose one's new entries, which is
// harmless: they are re-hashed next time.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "hash.h"

namespace cadenza {

struct FileStat {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  uint64_t device = 0;
  bool is_dir = false;
  bool is_executable = false;
  bool operator==(const FileStat& o) const {
    return size == o.size && mtime_ns == o.mtime_ns && inode == o.inode && device == o.device;
  }
};

// stat()s `path` (following symlinks); false if it does not exist.
bool stat_path(const std::string& path, FileStat* out);

class StatCache {
 public:
  // `file` may be empty: nothing is loaded or saved.
  explicit StatCache(std::string file);

  // The content hash of the regular file at `path`, from the cache when its
  // stat is unchanged, else by hashing it. Throws Error if unreadable.
  Hash128 file_hash(const std::string& path, const FileStat& st);
  // Records a hash computed elsewhere (e.g. by exec-stage for its outputs).
  void remember(const std::string& path, const FileStat& st, const Hash128& hash);

  size_t hashed_count() const { return hashed_; }
  void save() noexcept;

 private:
  struct Entry {
    FileStat stat;
    Hash128 hash;
  };
  std::string file_;
  std::unordered_map<std::string, Entry> entries_;
  bool dirty_ = false;
  size_t hashed_ = 0;
};

}  // namespace cadenza
