#include "tree_walk.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "error.h"

namespace cadenza {

namespace {

void add_to_fingerprint(Hasher& h, const std::string& rel, const FileStat& st) {
  const uint64_t fields[6] = {st.size, static_cast<uint64_t>(st.mtime_ns),
                              static_cast<uint64_t>(st.ctime_ns), st.inode, st.device,
                              st.is_executable ? 1u : 0u};
  h.update(rel.data(), rel.size() + 1);  // with its terminating NUL as separator
  h.update(fields, sizeof fields);
}

// Calls visit(rel, stat) for every regular file under `dir_fd`.
template <typename Visit>
void walk(int dir_fd, const std::string& abs, std::string& rel, Visit& visit) {
  DIR* d = ::fdopendir(dir_fd);
  if (!d) {
    ::close(dir_fd);
    throw Error("cannot list " + abs + ": " + std::strerror(errno));
  }
  while (dirent* e = ::readdir(d)) {
    const char* name = e->d_name;
    if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
    struct stat st;
    if (::fstatat(::dirfd(d), name, &st, 0) != 0) continue;  // vanished, or a dangling link
    const size_t rel_size = rel.size();
    if (!rel.empty()) rel += '/';
    rel += name;
    if (S_ISDIR(st.st_mode)) {
      const int sub = ::openat(::dirfd(d), name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (sub >= 0) walk(sub, abs + "/" + name, rel, visit);
      rel.resize(rel_size);
      continue;
    }
    if (!S_ISREG(st.st_mode)) {  // a FIFO or a device (e.g. a link to /dev/zero): reading it never ends
      rel.resize(rel_size);
      continue;
    }
    FileStat fst;
    fst.size = static_cast<uint64_t>(st.st_size);
    fst.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    fst.ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
    fst.inode = st.st_ino;
    fst.links = st.st_nlink;
    fst.device = st.st_dev;
    fst.is_executable = (st.st_mode & S_IXUSR) != 0;
    visit(rel, fst);
    rel.resize(rel_size);
  }
  ::closedir(d);
}

template <typename Visit>
void walk_dir(const std::string& dir, Visit&& visit) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot list " + dir + ": " + std::strerror(errno));
  std::string rel;
  walk(fd, dir, rel, visit);
}

}  // namespace

std::vector<TreeItem> list_tree(const std::string& dir) {
  std::vector<TreeItem> out;
  walk_dir(dir, [&](const std::string& rel, const FileStat& st) { out.push_back({rel, st}); });
  return out;
}

Hash128 tree_stat_fingerprint(const std::string& dir) {
  Hasher h;
  walk_dir(dir, [&](const std::string& rel, const FileStat& st) { add_to_fingerprint(h, rel, st); });
  return h.digest();
}

Hash128 stat_fingerprint(const std::vector<TreeItem>& items) {
  Hasher h;
  for (const auto& item : items) add_to_fingerprint(h, item.rel, item.stat);
  return h.digest();
}

}  // namespace cadenza
