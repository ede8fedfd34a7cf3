// What a stored output is, and the manifest format of a directory: one line
// per file, sorted by path, "<hash> <size> <x|-> <relative path>\n". A
// directory's hash is the hash of its manifest, so equal trees hash equal.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hash.h"

namespace cadenza {

// A stored (or hashed) output: a file, or a directory through its manifest.
struct StoredOutput {
  Hash128 hash;
  uint64_t size = 0;  // bytes; for a directory, of all its files
  bool is_dir = false;
};

struct ManifestEntry {
  std::string path;  // relative to the directory
  Hash128 hash;
  uint64_t size = 0;
  bool executable = false;
};

std::string manifest_text(const std::vector<ManifestEntry>& entries);

// Sorts `entries` by path and returns the directory's StoredOutput.
StoredOutput tree_hash(std::vector<ManifestEntry>& entries);

}  // namespace cadenza
