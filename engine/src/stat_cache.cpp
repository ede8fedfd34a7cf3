#include "stat_cache.h"

#include <sys/stat.h>

#include <charconv>
#include <cstdio>
#include <cstring>

#include "fs_util.h"

namespace cadenza {

bool stat_path(const std::string& path, FileStat* out) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return false;
  out->size = static_cast<uint64_t>(st.st_size);
  out->mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  out->inode = st.st_ino;
  out->device = st.st_dev;
  out->is_dir = S_ISDIR(st.st_mode);
  out->is_executable = (st.st_mode & S_IXUSR) != 0;
  return true;
}

namespace {

template <typename T>
bool parse_field(const char*& p, const char* end, T* value) {
  auto [next, ec] = std::from_chars(p, end, *value);
  if (ec != std::errc() || next >= end || *next != ' ') return false;
  p = next + 1;
  return true;
}

}  // namespace

StatCache::StatCache(std::string file) : file_(std::move(file)) {
  if (file_.empty()) return;
  std::string text;
  try {
    text = read_file(file_);
  } catch (...) {
    return;  // no cache yet
  }
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    const char* eol = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (!eol) break;  // a torn last line is ignored
    Entry e;
    const char* q = p;
    bool ok = eol - q > 33 && q[32] == ' ';
    if (ok) {
      try {
        e.hash = Hash128::from_hex(std::string_view(q, 32));
      } catch (...) {
        ok = false;
      }
      q += 33;
    }
    ok = ok && parse_field(q, eol, &e.stat.size) && parse_field(q, eol, &e.stat.mtime_ns) &&
         parse_field(q, eol, &e.stat.inode) && parse_field(q, eol, &e.stat.device) && q < eol;
    if (ok) entries_[std::string(q, eol)] = e;
    p = eol + 1;
  }
}

Hash128 StatCache::file_hash(const std::string& path, const FileStat& st) {
  auto it = entries_.find(path);
  if (it != entries_.end() && it->second.stat == st) return it->second.hash;
  const Hash128 h = hash_file(path);
  ++hashed_;
  remember(path, st, h);
  return h;
}

void StatCache::remember(const std::string& path, const FileStat& st, const Hash128& hash) {
  entries_[path] = Entry{st, hash};
  dirty_ = true;
}

void StatCache::save() noexcept {
  if (!dirty_ || file_.empty()) return;
  try {
    std::string out;
    out.reserve(entries_.size() * 96);
    char buf[128];
    for (const auto& [path, e] : entries_) {
      std::snprintf(buf, sizeof buf, " %llu %lld %llu %llu ",
                    static_cast<unsigned long long>(e.stat.size),
                    static_cast<long long>(e.stat.mtime_ns),
                    static_cast<unsigned long long>(e.stat.inode),
                    static_cast<unsigned long long>(e.stat.device));
      out += e.hash.hex();
      out += buf;
      out += path;
      out += '\n';
    }
    write_file_atomic(file_, out, Durability::kRenameOnly);
    dirty_ = false;
  } catch (...) {
  }
}

}  // namespace cadenza
