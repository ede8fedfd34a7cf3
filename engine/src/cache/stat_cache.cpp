#include "stat_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstdio>
#include <cstring>

#include "error.h"
#include "fs_util.h"
#include "tree_walk.h"

namespace cadenza {

bool stat_path(const std::string& path, FileStat* out) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return false;
  out->size = static_cast<uint64_t>(st.st_size);
  out->mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  out->ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
  out->inode = st.st_ino;
  out->links = st.st_nlink;
  out->device = st.st_dev;
  out->is_dir = S_ISDIR(st.st_mode);
  out->is_executable = (st.st_mode & S_IXUSR) != 0;
  return true;
}

namespace {

constexpr const char* kMagic = "cadenza-statcache 4 ";
constexpr size_t kFirstLine = 20 + 12 + 1;  // magic, 12 digits, newline

// A cursor over one line of the cache file.
struct Line {
  const char* p;
  const char* end;

  template <typename T>
  bool number(T* value) {
    auto [next, ec] = std::from_chars(p, end, *value);
    if (ec != std::errc() || next >= end || *next != ' ') return false;
    p = next + 1;
    return true;
  }
  bool hash(Hash128* h) {
    if (end - p < 33 || p[32] != ' ') return false;
    try {
      *h = Hash128::from_hex(std::string_view(p, 32));
    } catch (const Error&) {
      return false;
    }
    p += 33;
    return true;
  }
  // "<hash> <size> <mtime> <ctime> <inode> <device> <x|-> "
  bool file(Hash128* h, FileStat* st) {
    if (!hash(h) || !number(&st->size) || !number(&st->mtime_ns) || !number(&st->ctime_ns) ||
        !number(&st->inode) ||
        !number(&st->device) || end - p < 3 || p[1] != ' ')
      return false;
    st->is_executable = p[0] == 'x';
    p += 2;
    return true;
  }
  std::string rest() const { return std::string(p, end); }
};

// Calls fn(Line) for each line of text; stops when fn returns false.
template <typename Fn>
void for_each_line(const std::string& text, Fn&& fn) {
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    const char* eol = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (!eol || !fn(Line{p, eol})) return;  // a torn last line is ignored
    p = eol + 1;
  }
}

void append_file(std::string& out, const Hash128& hash, const FileStat& st) {
  char buf[128];
  std::snprintf(buf, sizeof buf, " %llu %lld %lld %llu %llu %c ", static_cast<unsigned long long>(st.size),
                static_cast<long long>(st.mtime_ns), static_cast<long long>(st.ctime_ns),
                static_cast<unsigned long long>(st.inode),
                static_cast<unsigned long long>(st.device), st.is_executable ? 'x' : '-');
  out += hash.hex();
  out += buf;
}

bool pread_all(int fd, std::string* out, uint64_t offset, uint64_t length) {
  out->resize(length);
  size_t got = 0;
  while (got < length) {
    const ssize_t n = ::pread(fd, out->data() + got, length - got, static_cast<off_t>(offset + got));
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

StatCache::StatCache(std::string file) : file_(std::move(file)) {
  if (!file_.empty()) load_header();
}

StatCache::~StatCache() {
  if (fd_ >= 0) ::close(fd_);
}

void StatCache::load_header() {
  fd_ = ::open(file_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) return;  // no cache yet
  std::string first;
  uint64_t header_bytes = 0;
  if (!pread_all(fd_, &first, 0, kFirstLine) || first.compare(0, 20, kMagic) != 0 ||
      std::from_chars(first.data() + 20, first.data() + 32, header_bytes).ec != std::errc())
    return;  // another version or damaged: start over
  std::string header;
  if (!pread_all(fd_, &header, kFirstLine, header_bytes)) return;
  blocks_start_ = kFirstLine + header_bytes;
  for_each_line(header, [&](Line line) {
    if (line.end - line.p < 2 || line.p[1] != ' ') return false;
    const char kind = line.p[0];
    line.p += 2;
    if (kind == 'F') {
      FileRecord r;
      if (!line.file(&r.hash, &r.stat) || line.p >= line.end) return false;
      files_[line.rest()] = r;
      return true;
    }
    if (kind != 'D') return false;
    DirRecord d;
    d.tree.is_dir = true;
    if (!line.hash(&d.tree.hash) || !line.number(&d.tree.size) || !line.hash(&d.fingerprint) ||
        !line.number(&d.offset) || !line.number(&d.length) || line.p >= line.end)
      return false;
    dirs_[line.rest()] = std::move(d);
    return true;
  });
}

void StatCache::load_items(DirRecord& record) const {
  if (record.items_loaded) return;
  record.items_loaded = true;
  std::string block;
  if (fd_ < 0 || !pread_all(fd_, &block, blocks_start_ + record.offset, record.length)) return;
  for_each_line(block, [&](Line line) {
    DirItem item;
    if (!line.file(&item.hash, &item.stat) || line.p >= line.end) return false;
    item.rel = line.rest();
    record.items.push_back(std::move(item));
    return true;
  });
}

// CADENZA_HASH_LOG=<file>: every file read to be hashed is appended there, one
// path per line (why is a no-op slow? what did a changed image cost?).
static Hash128 logged_hash_file(const std::string& path) {
  static const char* log = std::getenv("CADENZA_HASH_LOG");
  if (log) {
    const int fd = ::open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
      const std::string line = path + "\n";
      (void)!::write(fd, line.data(), line.size());  // one write: whole lines from concurrent hashers
      ::close(fd);
    }
  }
  return hash_file(path);
}

Hash128 StatCache::file_hash(const std::string& path, const FileStat& st) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = files_.find(path);
    if (it != files_.end() && it->second.stat == st) return it->second.hash;
  }
  const Hash128 h = logged_hash_file(path);
  std::lock_guard<std::mutex> lock(mutex_);
  ++hashed_;
  files_[path] = FileRecord{st, h};
  dirty_ = true;
  return h;
}

void StatCache::remember(const std::string& path, const FileStat& st, const Hash128& hash) {
  std::lock_guard<std::mutex> lock(mutex_);
  files_[path] = FileRecord{st, hash};
  dirty_ = true;
}

StoredOutput StatCache::hash_path(const std::string& path) {
  FileStat st;
  if (!stat_path(path, &st)) throw Error(path + " does not exist");
  if (!st.is_dir) return {file_hash(path, st), st.size, false};

  bool known = false;
  Hash128 fingerprint;
  StoredOutput cached;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = dirs_.find(path);
    if (found != dirs_.end()) {
      known = true;
      fingerprint = found->second.fingerprint;
      cached = found->second.tree;
    }
  }
  if (known && tree_stat_fingerprint(path) == fingerprint) return cached;

  // Something changed (or first sight): re-hash only files whose stat differs.
  std::vector<TreeItem> now = list_tree(path);
  std::vector<DirItem> old_items;
  if (known) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = dirs_.find(path);
    if (found != dirs_.end()) {
      load_items(found->second);
      old_items = found->second.items;
    }
  }
  std::unordered_map<std::string_view, const DirItem*> before;
  for (const auto& item : old_items) before[item.rel] = &item;
  size_t hashed = 0;
  DirRecord record;
  record.items_loaded = true;
  record.fingerprint = stat_fingerprint(now);
  std::vector<ManifestEntry> entries;
  entries.reserve(now.size());
  for (auto& item : now) {
    auto old = before.find(item.rel);
    Hash128 h;
    if (old != before.end() && old->second->stat == item.stat) {
      h = old->second->hash;
    } else {
      h = logged_hash_file(path + "/" + item.rel);
      ++hashed;
    }
    entries.push_back({item.rel, h, item.stat.size, item.stat.is_executable});
    record.items.push_back({std::move(item.rel), item.stat, h});
  }
  record.tree = tree_hash(entries);
  const StoredOutput tree = record.tree;
  std::lock_guard<std::mutex> lock(mutex_);
  hashed_ += hashed;
  dirs_[path] = std::move(record);
  dirty_ = true;
  return tree;
}

void StatCache::save() noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!dirty_ || file_.empty()) return;
  try {
    std::string header, blocks;
    for (const auto& [path, r] : files_) {
      header += "F ";
      append_file(header, r.hash, r.stat);
      header += path;
      header += '\n';
    }
    for (auto& [path, d] : dirs_) {
      load_items(d);
      const size_t offset = blocks.size();
      for (const auto& item : d.items) {
        append_file(blocks, item.hash, item.stat);
        blocks += item.rel;
        blocks += '\n';
      }
      header += "D " + d.tree.hash.hex() + " " + std::to_string(d.tree.size) + " " +
                d.fingerprint.hex() + " " + std::to_string(offset) + " " +
                std::to_string(blocks.size() - offset) + " " + path + "\n";
    }
    char first[kFirstLine + 1];
    std::snprintf(first, sizeof first, "%s%012zu\n", kMagic, header.size());
    write_file_atomic(file_, first + header + blocks, Durability::kRenameOnly);
    dirty_ = false;
  } catch (...) {
  }
}

}  // namespace cadenza
