// Template part of content_store.h.
#pragma once

#include <algorithm>
#include <filesystem>

#include "error.h"
#include "stat_cache.h"

namespace cadenza {

// `file_hash(path, stat)` returns the content hash of one regular file.
template <typename FileHashFn>
StoredOutput hash_tree(const std::string& path, FileHashFn&& file_hash) {
  FileStat st;
  if (!stat_path(path, &st)) throw Error(path + " does not exist");
  StoredOutput out;
  if (!st.is_dir) {
    out.hash = file_hash(path, st);
    out.size = st.size;
    return out;
  }
  std::vector<ManifestEntry> entries;
  std::error_code ec;
  for (std::filesystem::recursive_directory_iterator it(path, ec), end; !ec && it != end;
       it.increment(ec)) {
    FileStat fst;
    const std::string p = it->path().string();
    if (!stat_path(p, &fst) || fst.is_dir) continue;
    entries.push_back({p.substr(path.size() + 1), file_hash(p, fst), fst.size, fst.is_executable});
  }
  if (ec) throw Error("cannot list " + path + ": " + ec.message());
  std::sort(entries.begin(), entries.end(),
            [](const ManifestEntry& a, const ManifestEntry& b) { return a.path < b.path; });
  out.is_dir = true;
  for (const auto& e : entries) out.size += e.size;
  out.hash = hash_bytes(manifest_text(entries));
  return out;
}

}  // namespace cadenza
