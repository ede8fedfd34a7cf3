// Template part of content_store.h.
#pragma once

#include "error.h"
#include "stat_cache.h"
#include "tree_walk.h"

namespace cadenza {

// `file_hash(path, stat)` returns the content hash of one regular file.
template <typename FileHashFn>
StoredOutput hash_tree(const std::string& path, FileHashFn&& file_hash) {
  FileStat st;
  if (!stat_path(path, &st)) throw Error(path + " does not exist");
  if (!st.is_dir) return {file_hash(path, st), st.size, false};
  std::vector<ManifestEntry> entries;
  for (auto& item : list_tree(path)) {
    const Hash128 h = file_hash(path + "/" + item.rel, item.stat);  // before rel is moved
    entries.push_back({std::move(item.rel), h, item.stat.size, item.stat.is_executable});
  }
  return tree_hash(entries);
}

}  // namespace cadenza
