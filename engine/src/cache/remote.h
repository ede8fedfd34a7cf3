// A remote cache that `cadenza push` and `cadenza pull` copy objects,
// run-cache entries and experiment records (exps/<workflow>/<name>/) to and from. Paths are relative to the cache root
// ("objects/ab/cdef…", "runs/ab/cdef….json"), so a remote is laid out like a
// local cache and can itself be used as one.
//
// DirectoryRemote is a directory, typically on a mounted shared filesystem.
// Other transports (ssh, object stores) implement the same four calls.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace cadenza {

class Remote {
 public:
  virtual ~Remote() = default;
  virtual std::string describe() const = 0;
  virtual bool has(const std::string& rel) const = 0;
  // Copies a local file to the remote, atomically (never half-visible there).
  virtual void upload(const std::string& local_path, const std::string& rel) = 0;
  // Copies a remote file to `local_path`, atomically.
  virtual void download(const std::string& rel, const std::string& local_path) = 0;
  // The names in a remote directory; empty when it does not exist.
  virtual std::vector<std::string> list(const std::string& rel_dir) const = 0;
};

class DirectoryRemote : public Remote {
 public:
  explicit DirectoryRemote(std::string root) : root_(std::move(root)) {}
  std::string describe() const override { return root_; }
  bool has(const std::string& rel) const override;
  void upload(const std::string& local_path, const std::string& rel) override;
  void download(const std::string& rel, const std::string& local_path) override;
  std::vector<std::string> list(const std::string& rel_dir) const override;

 private:
  std::string root_;
};

// The remote named by a URL-ish string; only directory paths for now.
std::unique_ptr<Remote> open_remote(const std::string& where);

}  // namespace cadenza
