#include "content_store.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

#include "error.h"
#include "fs_util.h"

namespace cadenza {

namespace {

std::string errno_text() { return std::strerror(errno); }

// Closes a file descriptor at scope exit.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

// Copies `in` to `out` (both open) while hashing; returns the hash.
Hash128 copy_and_hash(int in, int out, const std::string& what, uint64_t* size) {
  Hasher hasher;
  constexpr size_t kChunk = 256 << 10;  // stays in L2 between read, hash and write
  std::unique_ptr<char[]> buf(new char[kChunk]);
  uint64_t total = 0;
  while (true) {
    ssize_t n = ::read(in, buf.get(), kChunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error("cannot read " + what + ": " + errno_text());
    if (n == 0) break;
    hasher.update(buf.get(), static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(out, buf.get() + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) throw Error("cannot write a copy of " + what + ": " + errno_text());
      off += w;
    }
  }
  if (size) *size = total;
  return hasher.digest();
}

// Pins an object's metadata: read-only, mtime 0 (see the header).
void seal(const std::string& path) {
  ::chmod(path.c_str(), 0444);
  const struct timespec times[2] = {{0, 0}, {0, 0}};
  ::utimensat(AT_FDCWD, path.c_str(), times, 0);
}

// Replaces `dest` by `staged` so that `dest` is always either whole-old or whole-new.
void swap_into_place(const std::string& staged, const std::string& dest) {
  const std::string aside = dest + ".cadenza-old-" + unique_suffix();
  std::error_code ec;
  const bool had_old = std::filesystem::exists(std::filesystem::symlink_status(dest, ec));
  if (had_old && ::rename(dest.c_str(), aside.c_str()) != 0)
    throw Error("cannot replace " + dest + ": " + errno_text());
  if (::rename(staged.c_str(), dest.c_str()) != 0) {
    const std::string why = errno_text();
    if (had_old) ::rename(aside.c_str(), dest.c_str());
    throw Error("cannot move restored output into " + dest + ": " + why);
  }
  if (had_old) remove_all_quietly(aside);
}

}  // namespace

LinkMode link_mode_from_name(const std::string& name) {
  if (name == "reflink") return LinkMode::kReflink;
  if (name == "hardlink") return LinkMode::kHardlink;
  if (name == "copy") return LinkMode::kCopy;
  if (name == "auto") return LinkMode::kAuto;
  throw Error("unknown cache link mode '" + name + "' (auto, reflink, hardlink, copy)");
}

ContentStore::ContentStore(std::string root, bool shared)
    : root_(std::move(root)), shared_(shared), seals_(root_) {}

void ContentStore::reseal_linked() noexcept {
  for (const Hash128& hash : linked_) seals_.record(hash, object_path(hash));
  linked_.clear();
}

void ContentStore::ensure_dir(const std::string& dir) const {
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return;
  std::filesystem::create_directories(dir, ec);
  if (ec && !std::filesystem::is_directory(dir))
    throw Error("cannot create cache directory " + dir + ": " + ec.message());
  if (shared_) ::chmod(dir.c_str(), 02775);
}

std::string ContentStore::temp_path() const {
  ensure_dir(root_ + "/tmp");
  return root_ + "/tmp/" + unique_suffix();
}

std::string ContentStore::object_path(const Hash128& hash, bool manifest) const {
  const std::string hex = hash.hex();
  return root_ + "/objects/" + hex.substr(0, 2) + "/" + hex.substr(2) + (manifest ? ".dir" : "");
}

Hash128 ContentStore::store_file(const std::string& path, LinkMode mode, uint64_t* size,
                                 bool* executable) {
  FileStat st;
  if (!stat_path(path, &st)) throw Error("cannot store " + path + ": it does not exist");
  *executable = st.is_executable;
  const std::string tmp = temp_path();
  Hash128 hash;
  if (mode == LinkMode::kHardlink) {
    hash = hash_file(path, size);
    if (::link(path.c_str(), tmp.c_str()) != 0)
      throw Error("cannot hardlink " + path + " into the cache " + root_ + ": " + errno_text() +
                  " (the cache must be on the same filesystem for cache_link = \"hardlink\")");
  } else {
    Fd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (in.fd < 0) throw Error("cannot read " + path + ": " + errno_text());
    Fd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, shared_ ? 0664 : 0644));
    if (out.fd < 0) throw Error("cannot write to the cache " + root_ + ": " + errno_text());
    try {
      if (mode != LinkMode::kCopy && ::ioctl(out.fd, FICLONE, in.fd) == 0) {
        hash = hash_file(path, size);
      } else if (mode == LinkMode::kReflink) {
        throw Error("cannot reflink " + path + " into the cache: " + errno_text() +
                    " (this filesystem has no reflinks; use cache_link = \"auto\" or \"copy\")");
      } else {
        hash = copy_and_hash(in.fd, out.fd, path, size);
      }
    } catch (...) {
      ::unlink(tmp.c_str());
      throw;
    }
  }
  const std::string object = object_path(hash);
  FileStat existing;
  // Already stored (maybe by another process), and intact: a copy damaged
  // through a hardlink is replaced by this good one below.
  if (stat_path(object, &existing) && existing.size == *size &&
      (seals_.holds(hash, existing) || hash_file(object) == hash)) {
    ::unlink(tmp.c_str());
    if (mode == LinkMode::kHardlink) {
      // Make the output the stored object, so workspace and cache share it.
      const std::string staged = path + ".cadenza-link-" + unique_suffix();
      if (::link(object.c_str(), staged.c_str()) == 0 && ::rename(staged.c_str(), path.c_str()) == 0)
        linked_.push_back(hash);
    }
    return hash;
  }
  seal(tmp);
  ensure_dir(std::filesystem::path(object).parent_path().string());
  if (::rename(tmp.c_str(), object.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(tmp.c_str());
    throw Error("cannot store object " + object + ": " + why);
  }
  if (mode == LinkMode::kHardlink) linked_.push_back(hash);
  return hash;
}

void ContentStore::put_object_text(const Hash128& hash, const std::string& text, bool manifest) {
  const std::string object = object_path(hash, manifest);
  if (std::filesystem::exists(object)) return;
  const std::string tmp = temp_path();
  write_file_atomic(tmp, text, Durability::kRenameOnly);
  seal(tmp);
  ensure_dir(std::filesystem::path(object).parent_path().string());
  if (::rename(tmp.c_str(), object.c_str()) != 0) {
    ::unlink(tmp.c_str());
    throw Error("cannot store object " + object + ": " + errno_text());
  }
}

StoredOutput ContentStore::store(const std::string& path, const std::string& boundary,
                                 LinkMode mode) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path root_canonical = fs::weakly_canonical(boundary, ec);
  auto check_inside = [&](const fs::path& p) {
    if (!fs::is_symlink(fs::symlink_status(p, ec))) return;
    const fs::path target = fs::weakly_canonical(p, ec);
    const std::string rel = target.lexically_relative(root_canonical).string();
    if (ec || rel.empty() || rel.rfind("..", 0) == 0)
      throw Error(p.string() + " is a symlink to " + target.string() +
                  ", outside the workspace " + boundary +
                  "; outputs must not point outside it (copy the file instead)");
  };
  check_inside(path);
  FileStat st;
  if (!stat_path(path, &st)) throw Error("cannot store " + path + ": it does not exist");
  StoredOutput out;
  if (!st.is_dir) {
    bool executable = false;
    out.hash = store_file(path, mode, &out.size, &executable);
    return out;
  }
  std::vector<ManifestEntry> entries;
  for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    check_inside(it->path());
    FileStat fst;
    if (!stat_path(it->path().string(), &fst) || fst.is_dir) continue;
    ManifestEntry e;
    e.path = it->path().string().substr(path.size() + 1);
    e.hash = store_file(it->path().string(), mode, &e.size, &e.executable);
    entries.push_back(std::move(e));
  }
  if (ec) throw Error("cannot list " + path + ": " + ec.message());
  out = tree_hash(entries);
  put_object_text(out.hash, manifest_text(entries), /*manifest=*/true);
  return out;
}

std::vector<ManifestEntry> ContentStore::read_manifest(const Hash128& hash) const {
  const std::string path = object_path(hash, true);
  std::string text;
  try {
    text = read_file(path);
  } catch (const Error&) {
    throw Error("directory manifest " + hash.hex() + " is missing from the cache " + root_ +
                " (run `cadenza pull`, or rerun the stage)");
  }
  if (hash_bytes(text) != hash)
    throw Error("directory manifest " + path + " is corrupt (its content does not match its "
                "hash); run `cadenza cache verify`");
  std::vector<ManifestEntry> entries;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    const std::string line = text.substr(start, nl - start);
    start = nl + 1;
    ManifestEntry e;
    const size_t s1 = line.find(' '), s2 = line.find(' ', s1 + 1), s3 = line.find(' ', s2 + 1);
    e.hash = Hash128::from_hex(line.substr(0, s1));
    e.size = std::stoull(line.substr(s1 + 1, s2 - s1 - 1));
    e.executable = line.substr(s2 + 1, s3 - s2 - 1) == "x";
    e.path = line.substr(s3 + 1);
    entries.push_back(std::move(e));
  }
  return entries;
}

void ContentStore::restore_file(const Hash128& hash, uint64_t size, bool executable,
                                const std::string& dest, LinkMode mode,
                                std::vector<Hash128>* linked) const {
  const std::string object = object_path(hash);
  FileStat st;
  if (!stat_path(object, &st))
    throw Error("object " + hash.hex() + " is missing from the cache " + root_ +
                " (run `cadenza pull`, or rerun the stage)");
  const bool trusted = st.size == size && seals_.holds(hash, st);
  if (!trusted && (st.size != size || hash_file(object) != hash))
    throw Error("object " + object + " is corrupt (size or content does not match its hash); "
                "it was not restored. Run `cadenza cache verify --remove` and rerun the stage");
  if (mode == LinkMode::kHardlink) {
    if (::link(object.c_str(), dest.c_str()) != 0)
      throw Error("cannot hardlink " + object + " to " + dest + ": " + errno_text());
    linked->push_back(hash);  // sealed anew once `dest` is in place
    return;
  }
  if (!trusted) seals_.record(hash, object);  // re-hashed and good
  Fd in(::open(object.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.fd < 0) throw Error("cannot read " + object + ": " + errno_text());
  Fd out(::open(dest.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, executable ? 0755 : 0644));
  if (out.fd < 0) throw Error("cannot write " + dest + ": " + errno_text());
  if (mode != LinkMode::kCopy && ::ioctl(out.fd, FICLONE, in.fd) == 0) return;
  if (mode == LinkMode::kReflink)
    throw Error("cannot reflink " + object + " to " + dest + ": " + errno_text());
  uint64_t copied = 0;
  if (copy_and_hash(in.fd, out.fd, object, &copied) != hash)
    throw Error("object " + object + " is corrupt (its content does not match its hash); it "
                "was not restored. Run `cadenza cache verify --remove` and rerun the stage");
}

void ContentStore::restore(const StoredOutput& out, const std::string& dest, LinkMode mode) const {
  namespace fs = std::filesystem;
  const fs::path d(dest);
  fs::create_directories(d.parent_path());
  const std::string staged =
      (d.parent_path() / ("." + d.filename().string() + ".cadenza-restore-" + unique_suffix()))
          .string();
  std::vector<Hash128> linked;
  try {
    if (!out.is_dir) {
      restore_file(out.hash, out.size, false, staged, mode, &linked);
    } else {
      fs::create_directories(staged);
      for (const auto& e : read_manifest(out.hash)) {
        const fs::path target = fs::path(staged) / e.path;
        fs::create_directories(target.parent_path());
        restore_file(e.hash, e.size, e.executable, target.string(), mode, &linked);
      }
    }
    swap_into_place(staged, dest);
    for (const Hash128& hash : linked) seals_.record(hash, object_path(hash));
  } catch (...) {
    remove_all_quietly(staged);
    throw;
  }
}

bool ContentStore::has(const StoredOutput& out) const {
  std::error_code ec;
  if (!out.is_dir) return std::filesystem::exists(object_path(out.hash), ec);
  try {
    for (const auto& e : read_manifest(out.hash))
      if (!std::filesystem::exists(object_path(e.hash), ec)) return false;
    return true;
  } catch (const Error&) {
    return false;
  }
}

std::optional<Hash128> ContentStore::hash_of_object(std::string rel) {
  rel.erase(std::remove(rel.begin(), rel.end(), '/'), rel.end());
  if (rel.size() > 4 && rel.compare(rel.size() - 4, 4, ".dir") == 0) rel.resize(rel.size() - 4);
  try {
    return Hash128::from_hex(rel);
  } catch (const Error&) {
    return std::nullopt;
  }
}

bool ContentStore::object_intact(const std::string& rel, uint64_t* bytes) const {
  const auto name = hash_of_object(rel);
  if (!name) return false;
  const std::string path = root_ + "/objects/" + rel;
  const bool manifest = rel.size() > 4 && rel.compare(rel.size() - 4, 4, ".dir") == 0;
  try {
    uint64_t size = 0;
    const Hash128 actual = manifest ? hash_bytes(read_file(path)) : hash_file(path, &size);
    if (bytes) *bytes += size;
    return actual == *name;
  } catch (const Error&) {
    return false;
  }
}

void ContentStore::seal_received(const std::string& rel) const { seal(root_ + "/objects/" + rel); }

std::vector<std::string> ContentStore::list_objects() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator a(root_ + "/objects", ec), end; !ec && a != end;
       a.increment(ec))
    for (std::filesystem::directory_iterator b(a->path(), ec); !ec && b != end; b.increment(ec))
      if (b->path().filename().string()[0] != '.')  // a transfer's temporary (rsync), not an object
        out.push_back(a->path().filename().string() + "/" + b->path().filename().string());
  return out;
}

}  // namespace cadenza
