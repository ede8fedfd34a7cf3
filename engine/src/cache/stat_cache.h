// The stat cache: what a path's content hash was when its stat looked like
// this, so that unchanged files are not hashed again. A file whose stat
// changed in any field (size, mtime and ctime in ns, inode, device,
// executable bit) is re-hashed; the mtime alone is not trusted: anyone can
// set it back (`touch -d`), while the kernel moves the ctime on every write
// and no one can set it. (A hardlinked output's ctime also moves when another
// workspace links the same cache object: that costs one re-hash.)
//
// Two kinds of records:
//   file  path -> stat -> hash
//   dir   path -> tree hash, and a "stat fingerprint": a hash of every file's
//         relative path and stat in walk order. A no-op re-walks the
//         directory (one fstatat per file, unavoidable: writing a file
//         changes its mtime, not its directory's), streams the stats into a
//         fingerprint and, if it matches, reuses the tree hash without
//         allocating anything per file. Only a changed directory loads its
//         per-file records, to re-hash just the files whose stat changed.
//
// On disk (.cadenza/statcache):
//   cadenza-statcache 4 <header bytes, 12 digits>
//   F <hash> <size> <mtime_ns> <ctime_ns> <inode> <device> <x|-> <path>
//   D <tree hash> <size> <fingerprint> <offset> <length> <path>
//   ...end of header...
//   per-directory blocks, at <offset> from the end of the header:
//   <hash> <size> <mtime_ns> <ctime_ns> <inode> <device> <x|-> <relative path>
// A run reads the header only. Blocks are read through the descriptor
// opened at load, so a concurrent atomic replace cannot mix two versions.
// Saving rewrites the file atomically; two processes saving at once lose one
// side's new records, which only costs re-hashing. A damaged file is
// ignored from its first bad line on.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "hash.h"
#include "manifest.h"

namespace cadenza {

struct FileStat {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  uint64_t inode = 0;
  uint64_t links = 1;  // hard links to the inode; not part of the identity
  uint64_t device = 0;
  bool is_dir = false;
  bool is_executable = false;
  bool operator==(const FileStat& o) const {
    return size == o.size && mtime_ns == o.mtime_ns && ctime_ns == o.ctime_ns && inode == o.inode &&
           device == o.device &&
           is_executable == o.is_executable;
  }
};

// stat()s `path` (following symlinks); false if it does not exist.
bool stat_path(const std::string& path, FileStat* out);

// Thread-safe: hash_path and file_hash may be called concurrently (walks
// and hashing run outside the lock).
class StatCache {
 public:
  // `file` may be empty: nothing is loaded or saved.
  explicit StatCache(std::string file);
  ~StatCache();
  StatCache(const StatCache&) = delete;
  StatCache& operator=(const StatCache&) = delete;

  // The content hash of the file or directory at absolute `path`. Throws
  // Error if it does not exist or cannot be read.
  StoredOutput hash_path(const std::string& path);
  // The content hash of the regular file at `path` with stat `st`.
  Hash128 file_hash(const std::string& path, const FileStat& st);
  // Records a hash computed elsewhere (e.g. while storing an output).
  void remember(const std::string& path, const FileStat& st, const Hash128& hash);

  // Files hashed (not found in the cache) since construction.
  size_t hashed_count() const { return hashed_; }
  void save() noexcept;

 private:
  struct FileRecord {
    FileStat stat;
    Hash128 hash;
  };
  struct DirItem {
    std::string rel;
    FileStat stat;
    Hash128 hash;
  };
  struct DirRecord {
    StoredOutput tree;
    Hash128 fingerprint;
    bool items_loaded = false;
    std::vector<DirItem> items;  // walk order, once loaded
    uint64_t offset = 0, length = 0;  // of its block in the loaded file
  };
  void load_header();
  void load_items(DirRecord& record) const;

  std::mutex mutex_;              // guards everything below
  std::string file_;
  int fd_ = -1;                  // the loaded file, for lazy blocks
  uint64_t blocks_start_ = 0;
  std::unordered_map<std::string, FileRecord> files_;
  std::unordered_map<std::string, DirRecord> dirs_;
  bool dirty_ = false;
  size_t hashed_ = 0;
};

}  // namespace cadenza
