#include "manifest.h"

#include <algorithm>

namespace cadenza {

std::string manifest_text(const std::vector<ManifestEntry>& entries) {
  std::string out;
  out.reserve(entries.size() * 64);
  for (const auto& e : entries) {
    out += e.hash.hex();
    out += ' ';
    out += std::to_string(e.size);
    out += e.executable ? " x " : " - ";
    out += e.path;
    out += '\n';
  }
  return out;
}

StoredOutput tree_hash(std::vector<ManifestEntry>& entries) {
  std::sort(entries.begin(), entries.end(),
            [](const ManifestEntry& a, const ManifestEntry& b) { return a.path < b.path; });
  StoredOutput out;
  out.is_dir = true;
  for (const auto& e : entries) out.size += e.size;
  out.hash = hash_bytes(manifest_text(entries));
  return out;
}

}  // namespace cadenza
