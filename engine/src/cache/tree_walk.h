// Lists the regular files under a directory, recursively, following
// symlinks, with their stat. This walk is most of a no-op run's time, so it
// uses openat/readdir/fstatat relative to each directory's descriptor: no
// std::filesystem allocations and no lookup of every absolute path.
#pragma once

#include <string>
#include <vector>

#include "stat_cache.h"

namespace cadenza {

struct TreeItem {
  std::string rel;  // relative to the listed directory, '/'-separated
  FileStat stat;
};

// In readdir order (stable while the tree does not change), not sorted.
// Throws Error if `dir` cannot be listed.
std::vector<TreeItem> list_tree(const std::string& dir);

// A hash of every file's relative path and stat, in walk order, without
// keeping any of them: what a no-op compares to decide that a directory is
// unchanged. Equal to stat_fingerprint(list_tree(dir)).
Hash128 tree_stat_fingerprint(const std::string& dir);
Hash128 stat_fingerprint(const std::vector<TreeItem>& items);

}  // namespace cadenza
