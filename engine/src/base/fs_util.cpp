#include "fs_util.h"

#include <cstdlib>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "error.h"

namespace cadenza {

namespace {

std::string errno_text() { return std::strerror(errno); }

void write_all(int fd, std::string_view content, const fs::path& path) {
  const char* data = content.data();
  size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error("cannot write " + path.string() + ": " + errno_text());
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace

void write_file_atomic(const fs::path& path, std::string_view content, Durability durability) {
  std::error_code ec;
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
  if (durability == Durability::kInPlace) {
    // Renames cost about a millisecond each on some filesystems; job specs
    // and results are written once, before their reader starts or after
    // their writer exited, so they need no temp file.
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) throw Error("cannot write " + path.string() + ": " + errno_text());
    try {
      write_all(fd, content, path);
    } catch (...) {
      ::close(fd);
      throw;
    }
    ::close(fd);
    return;
  }
  const fs::path tmp = path.string() + ".tmp-" + unique_suffix();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) throw Error("cannot create " + tmp.string() + ": " + errno_text());
  try {
    write_all(fd, content, tmp);
    if (durability == Durability::kFsync && ::fsync(fd) != 0) throw Error("cannot sync " + tmp.string() + ": " + errno_text());
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(tmp.c_str());
    throw Error("cannot replace " + path.string() + ": " + why);
  }
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read " + path.string() + ": " + errno_text());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string unique_suffix() {
  static std::atomic<unsigned> counter{0};
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  std::ostringstream s;
  s << ::getpid() << '-' << std::hex << (now & 0xffffff) << '-' << counter++;
  return s.str();
}

std::string normalize_relative(std::string_view path) {
  if (path.empty() || path.front() == '/') return "";
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part == "..") {
      if (parts.empty()) return "";
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = end + 1;
  }
  std::string out;
  for (auto part : parts) {
    if (!out.empty()) out += '/';
    out += part;
  }
  return out;
}

bool path_within(std::string_view inner, std::string_view outer) {
  if (inner.size() < outer.size() || inner.substr(0, outer.size()) != outer) return false;
  return inner.size() == outer.size() || inner[outer.size()] == '/';
}

void remove_all_quietly(const fs::path& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
}

fs::path current_executable() {
  // Set by programs that use the engine as a library (its tests) to name
  // the cadenza binary that jobs and helper processes must run.
  if (const char* binary = std::getenv("CADENZA_EXECUTABLE"); binary && *binary) return binary;
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error("cannot find the cadenza executable (/proc/self/exe): " + ec.message());
  return p;
}

int open_append_log(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw Error("cannot write " + path + ": " + std::strerror(errno));
  struct stat st {};
  char last = '\n';
  if (::fstat(fd, &st) == 0 && st.st_size > 0 && ::pread(fd, &last, 1, st.st_size - 1) == 1 &&
      last != '\n')
    [[maybe_unused]] ssize_t n = ::write(fd, "\n", 1);
  return fd;
}

void append_log_line(const std::string& path, const std::string& line) {
  const int fd = open_append_log(path);
  const std::string whole = line + "\n";
  const ssize_t n = ::write(fd, whole.data(), whole.size());
  const int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(whole.size())) throw Error("cannot append to " + path + ": " + std::strerror(err));
}

std::string path_escape(const std::string& workspace, const std::string& rel) {
  const std::string norm = normalize_relative(rel);
  if (norm.empty()) return "'" + rel + "' is not a relative path inside the workspace";
  std::error_code ec;
  const fs::path root = fs::weakly_canonical(workspace, ec);
  if (ec) return "";  // no workspace to escape from: the write fails on its own
  // The parent as the kernel will resolve it: existing symlinks followed.
  const fs::path parent = fs::weakly_canonical(fs::path(workspace) / norm, ec).parent_path();
  if (ec) return "";
  const std::string inner = parent.lexically_relative(root).string();
  if (inner == "." || (!inner.empty() && inner.rfind("..", 0) != 0)) return "";
  return "'" + rel + "' leads outside the workspace through a symlink (to " + parent.string() +
         "); outputs stay inside " + root.string();
}

}  // namespace cadenza
