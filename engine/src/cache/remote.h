// A remote cache that `cadenza push` and `cadenza pull` copy objects,
// run-cache entries and experiment records (exps/<workflow>/<name>/) to and
// from. Paths are relative to the cache root ("objects/ab/cdef…",
// "runs/ab/cdef….json"), so a remote is laid out like a local cache and can
// itself be used as one.
//
// The calls are batched so that a remote across a network costs a round trip
// per call, never one per file: a push learns which of its files the far side
// lacks and sends it in one transfer (upload), and says what it sent.
//
//   DirectoryRemote  a directory, typically on a mounted shared filesystem
//   SshRemote        [user@]host:path through the user's own OpenSSH and rsync
//                    (ssh_remote.h)
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

namespace cadenza {

class Remote {
 public:
  virtual ~Remote() = default;
  virtual std::string describe() const = 0;
  // Which of `rels` exist on the remote.
  virtual std::set<std::string> existing(const std::vector<std::string>& rels) = 0;
  // Copies each of `rels` from under `local_root` to the remote unless it is
  // there (always, with `replace`: records), each file atomically (a
  // temporary name, then a rename): an interrupted upload leaves no
  // half-written file in place. Returns the ones it copied. Throws Error.
  virtual std::vector<std::string> upload(const std::string& local_root, const std::vector<std::string>& rels,
                                          bool replace) = 0;
  // Copies those of `rels` that the remote has to under `local_root`,
  // atomically; returns the ones it copied.
  virtual std::vector<std::string> download(const std::vector<std::string>& rels, const std::string& local_root) = 0;
  // The names in a remote directory; empty when it does not exist.
  virtual std::vector<std::string> list(const std::string& rel_dir) = 0;
};

class DirectoryRemote : public Remote {
 public:
  explicit DirectoryRemote(std::string root) : root_(std::move(root)) {}
  std::string describe() const override { return root_; }
  std::set<std::string> existing(const std::vector<std::string>& rels) override;
  std::vector<std::string> upload(const std::string& local_root, const std::vector<std::string>& rels,
                                  bool replace) override;
  std::vector<std::string> download(const std::vector<std::string>& rels, const std::string& local_root) override;
  std::vector<std::string> list(const std::string& rel_dir) override;

 private:
  std::string root_;
};

// Where a remote is, as written in [workflow].remote or --remote.
struct RemoteAddress {
  enum class Kind { kDirectory, kSsh } kind = Kind::kDirectory;
  std::string path;          // absolute for a directory; as given (may be ~-relative) for ssh
  std::string user, host;    // ssh
  int port = 0;              // ssh; 0: ssh's own default or ~/.ssh/config
  std::string display() const;  // as a user would write it
};

// Parses a directory path (relative to `base`), file:///path,
// ssh://[user@]host[:port]/path or scp-like [user@]host:path. Throws Error
// naming the supported forms for anything else (s3://, http://, ...).
RemoteAddress parse_remote_address(const std::string& where, const std::string& base);

// Opens the remote at `address`. For ssh, checks in one call that the host
// is reachable and the path holds a Cadenza cache (or is empty, with
// `for_writing`); throws Error with what to do otherwise.
std::unique_ptr<Remote> open_remote(const RemoteAddress& address, bool for_writing);

}  // namespace cadenza
