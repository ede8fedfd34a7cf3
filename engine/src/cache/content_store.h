// The content-addressed store (CAS) under the cache directory.
//
//   <cache>/objects/ab/cdef…       a file's bytes, named by their XXH3-128
//   <cache>/objects/ab/cdef….dir   a directory's manifest, named by its hash:
//                                  one line per file, sorted by path:
//                                  "<hash> <size> <x|-> <relative path>\n"
//   <cache>/tmp/                   objects being written (renamed into place)
//
// Rules that keep a shared cache valid with no global lock:
//   - an object is written to tmp/ and renamed into place, so it appears
//     whole or not at all; two writers of the same object race harmlessly;
//   - objects are read-only and their mtime is pinned to 0 when stored; a
//     restore that finds another mtime or size, or (for an object Cadenza
//     hardlinked into a workspace) another ctime than it recorded, knows the
//     object may have been written through and re-hashes it before use: a
//     corrupt object is never restored silently (object_seal.h);
//   - with `shared`, directories are group-writable and setgid, and files
//     group-readable, so several users can share one cache.
//
// Restoring: `copy` hashes while copying (and fails on a mismatch);
// `hardlink` and `reflink` cost O(files), not O(bytes); `auto` tries reflink
// and falls back to copy. Hardlinks are never chosen automatically: running
// as root, a stage that opened such a file for writing would bypass the
// read-only bit and corrupt the cache (the engine itself only ever replaces
// outputs by rename, and verify/restore detect such writes).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hash.h"
#include "manifest.h"
#include "object_seal.h"

namespace cadenza {

enum class LinkMode { kAuto, kReflink, kHardlink, kCopy };
LinkMode link_mode_from_name(const std::string& name);  // as in workflow.toml

class ContentStore {
 public:
  ContentStore(std::string root, bool shared);
  const std::string& root() const { return root_; }

  // Stores the file or directory at `path` (hashing it in the same pass) and
  // returns what was stored. `boundary` is the workspace: a symlink inside
  // `path` that points outside it is an error. With kHardlink the object is
  // the file itself (linked), else a copy. Throws Error.
  StoredOutput store(const std::string& path, const std::string& boundary, LinkMode mode);

  // Materialises `out` at `dest`, replacing what is there atomically (the
  // old content stays until the new one is complete). Throws Error naming
  // the object if it is missing or corrupt.
  void restore(const StoredOutput& out, const std::string& dest, LinkMode mode) const;

  // True if the object (and, for a directory, every file it lists) exists.
  bool has(const StoredOutput& out) const;

  std::string object_path(const Hash128& hash, bool manifest = false) const;
  std::vector<ManifestEntry> read_manifest(const Hash128& hash) const;

  // Every object file (relative to objects/), for verify and gc.
  std::vector<std::string> list_objects() const;

  // "ab/cdef…[.dir]" (relative to objects/) -> the object's hash; nullopt
  // for a file that is not named like an object.
  static std::optional<Hash128> hash_of_object(std::string rel);
  // Whether the object file `rel` (relative to objects/) holds the bytes its
  // name says, read in full; adds its size to `*bytes`. For verify and pull.
  bool object_intact(const std::string& rel, uint64_t* bytes = nullptr) const;
  // Seals an object file that arrived from elsewhere (pull) like a stored one.
  void seal_received(const std::string& rel) const;

  // With kHardlink, store() makes each output the object itself, and the
  // caller then renames it into place, which moves the inode's ctime: call
  // this after that rename so the objects' seals record the final ctime.
  void reseal_linked() noexcept;
  const ObjectSeals& seals() const { return seals_; }

 private:
  Hash128 store_file(const std::string& path, LinkMode mode, uint64_t* size, bool* executable);
  void put_object_text(const Hash128& hash, const std::string& text, bool manifest);
  void restore_file(const Hash128& hash, uint64_t size, bool executable, const std::string& dest,
                    LinkMode mode, std::vector<Hash128>* linked) const;
  void ensure_dir(const std::string& dir) const;
  std::string temp_path() const;

  std::string root_;
  bool shared_;
  ObjectSeals seals_;
  std::vector<Hash128> linked_;  // objects store() linked to outputs, for reseal_linked()
};

// Hashes a file or directory tree the way ContentStore does, without
// storing it; `file_hash` supplies file hashes (e.g. from the stat cache).
template <typename FileHashFn>
StoredOutput hash_tree(const std::string& path, FileHashFn&& file_hash);

}  // namespace cadenza

#include "content_store_inl.h"
