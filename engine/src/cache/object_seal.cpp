#include "object_seal.h"

#include <unistd.h>

#include <charconv>
#include <filesystem>

#include "error.h"
#include "fs_util.h"

namespace cadenza {

ObjectSeals::ObjectSeals(std::string cache_root) : root_(std::move(cache_root)) {}

std::string ObjectSeals::path_of(const Hash128& hash) const {
  const std::string hex = hash.hex();
  return root_ + "/seals/" + hex.substr(0, 2) + "/" + hex.substr(2);
}

bool ObjectSeals::holds(const Hash128& hash, const FileStat& st) const {
  if (st.mtime_ns != 0) return false;
  std::string text;
  try {
    text = read_file(path_of(hash));
  } catch (const Error&) {
    return st.links == 1;  // never linked by Cadenza, and shared with no one now
  }
  int64_t recorded = -1;
  std::from_chars(text.data(), text.data() + text.size(), recorded);
  return recorded == st.ctime_ns;
}

void ObjectSeals::record(const Hash128& hash, const std::string& object) const noexcept {
  FileStat st;
  if (!stat_path(object, &st)) return;
  const std::string path = path_of(hash);
  try {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    write_file_atomic(path, std::to_string(st.ctime_ns) + "\n", Durability::kRenameOnly);
  } catch (const Error&) {
  }
}

void ObjectSeals::forget(const Hash128& hash) const noexcept {
  ::unlink(path_of(hash).c_str());
}

}  // namespace cadenza
