// Whether a cache object can be trusted without re-hashing it.
//
// Objects are read-only with their mtime pinned to 0 (content_store.h). With
// cache_link = "hardlink" an object also is a workspace file (one inode), and
// whoever opens that file for writing — root ignores the read-only bit — changes
// the object; they can even set its mtime back to 0. What they cannot set is
// the inode's ctime, which the kernel moves on every write, chmod, utime,
// link, unlink and rename. So every time Cadenza links an object into a
// workspace (store or restore) it records the object's ctime once the link
// is in place:
//
//   <cache>/seals/ab/cdef…   "<ctime_ns>\n", written atomically
//
// An object is trusted by its stat alone when its mtime is 0 and either its
// ctime is the recorded one, or it has no record and no other link (it was
// never shared with a workspace). Anything else — a write, but also a
// colleague's `rm` of a linked workspace file — costs one re-hash, after
// which a good object is recorded again and a bad one is refused.
#pragma once

#include <string>

#include "hash.h"
#include "stat_cache.h"

namespace cadenza {

class ObjectSeals {
 public:
  explicit ObjectSeals(std::string cache_root);

  // True if `object` (the file of `hash`, stat `st`) shows no change since
  // Cadenza sealed or last linked it.
  bool holds(const Hash128& hash, const FileStat& st) const;
  // Records the object's ctime now (after Cadenza linked it). Never throws:
  // a missing record only costs a re-hash later.
  void record(const Hash128& hash, const std::string& object) const noexcept;
  // Drops the record of a removed object.
  void forget(const Hash128& hash) const noexcept;

 private:
  std::string path_of(const Hash128& hash) const;
  std::string root_;
};

}  // namespace cadenza
