#include "remote.h"

#include <algorithm>

#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>

#include "error.h"
#include "fs_util.h"

namespace cadenza {

namespace {

// Copies through a temp file in the destination directory, then renames.
void copy_atomically(const std::string& from, const std::string& to) {
  const fs::path dest(to);
  std::error_code ec;
  fs::create_directories(dest.parent_path(), ec);
  const fs::path tmp = dest.parent_path() / (".tmp-" + unique_suffix());
  fs::copy_file(from, tmp, fs::copy_options::overwrite_existing, ec);
  if (ec) throw Error("cannot copy " + from + " to " + to + ": " + ec.message());
  fs::rename(tmp, dest, ec);
  if (ec) {
    remove_all_quietly(tmp);
    throw Error("cannot copy " + from + " to " + to + ": " + ec.message());
  }
}

}  // namespace

bool DirectoryRemote::has(const std::string& rel) const {
  std::error_code ec;
  return fs::exists(root_ + "/" + rel, ec);
}

std::vector<std::string> DirectoryRemote::list(const std::string& rel_dir) const {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(root_ + "/" + rel_dir, ec), end; !ec && it != end; it.increment(ec))
    names.push_back(it->path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

void DirectoryRemote::upload(const std::string& local_path, const std::string& rel) {
  copy_atomically(local_path, root_ + "/" + rel);
}

void DirectoryRemote::download(const std::string& rel, const std::string& local_path) {
  copy_atomically(root_ + "/" + rel, local_path);
  // Objects are sealed like locally stored ones (read-only, mtime 0).
  if (rel.rfind("objects/", 0) == 0) {
    ::chmod(local_path.c_str(), 0444);
    const struct timespec times[2] = {{0, 0}, {0, 0}};
    ::utimensat(AT_FDCWD, local_path.c_str(), times, 0);
  }
}

std::unique_ptr<Remote> open_remote(const std::string& where) {
  if (where.empty())
    throw Error("no remote configured: set [workflow].remote = \"/path/to/shared/cache\" or pass "
                "--remote PATH");
  if (where.find("://") != std::string::npos)
    throw Error("remote '" + where + "': only directory remotes (a mounted path) are supported");
  return std::make_unique<DirectoryRemote>(where);
}

}  // namespace cadenza
