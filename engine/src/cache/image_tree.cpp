#include "image_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "error.h"

namespace cadenza {

namespace {

struct Entry {
  std::string rel;
  struct stat st;
};

void list(const std::string& root, const std::string& rel, std::vector<Entry>& out) {
  const std::string abs = rel.empty() ? root : root + "/" + rel;
  DIR* d = ::opendir(abs.c_str());
  if (!d) throw Error("cannot list " + abs + ": " + std::strerror(errno));
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d))
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.emplace_back(e->d_name);
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    Entry e{rel.empty() ? name : rel + "/" + name, {}};
    if (::lstat((root + "/" + e.rel).c_str(), &e.st) != 0) continue;  // vanished
    const bool dir = S_ISDIR(e.st.st_mode);
    out.push_back(e);
    if (dir) list(root, e.rel, out);  // (not out.back(): the vector grows under it)
  }
}

}  // namespace

Hash128 image_tree_hash(const std::string& dir, StatCache& stats) {
  std::vector<Entry> entries;
  list(dir, "", entries);
  Hasher h;
  for (const auto& e : entries) {
    h.update(e.rel.data(), e.rel.size() + 1);
    const uint32_t mode = e.st.st_mode;
    h.update(&mode, sizeof mode);  // type and permissions
    if (S_ISREG(e.st.st_mode)) {
      const std::string abs = dir + "/" + e.rel;
      FileStat fst;
      if (!stat_path(abs, &fst)) throw Error(abs + " vanished while the image was hashed");
      const Hash128 content = stats.file_hash(abs, fst);
      h.update(&content, sizeof content);
    } else if (S_ISLNK(e.st.st_mode)) {
      char target[4096];
      const ssize_t n = ::readlink((dir + "/" + e.rel).c_str(), target, sizeof target);
      if (n > 0) h.update(target, static_cast<size_t>(n));
    } else if (S_ISCHR(e.st.st_mode) || S_ISBLK(e.st.st_mode)) {
      const uint64_t dev[2] = {major(e.st.st_rdev), minor(e.st.st_rdev)};
      h.update(dev, sizeof dev);
    }
  }
  return h.digest();
}

}  // namespace cadenza
