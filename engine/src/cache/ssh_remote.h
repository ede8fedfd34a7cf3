// A remote cache on another machine, through the user's own OpenSSH and
// rsync: their ~/.ssh/config, agent, ProxyJump and host keys apply, and no
// protocol of Cadenza's own crosses the network.
//
// One ssh connection per push or pull: the first call opens an OpenSSH
// control master (ControlPath in a private temp directory), every later ssh
// and rsync call rides on it, and it is closed when the remote is destroyed.
// `upload`/`download` are one rsync each: its file-list exchange finds what
// the far side lacks, each file is written under a temporary dot-name and
// renamed into place (ContentStore ignores dot-names), and an interrupted
// file is kept in tmp/rsync-partial/ so that the next transfer resumes it.
// `existing` sends candidate paths on stdin and gets back those the far side
// has: one round trip for any number of files.
//
// ssh runs in batch mode (never a password or host-key prompt); its
// failures are told apart: unknown host key, permission denied, host not
// found or refusing connections, path missing, no Cadenza cache there, no
// rsync there, disk full. $CADENZA_SSH_COMMAND replaces "ssh" (e.g.
// "ssh -F ./ssh_config"), like GIT_SSH_COMMAND.
#pragma once

#include <memory>

#include "remote.h"

namespace cadenza {

std::unique_ptr<Remote> open_ssh_remote(const RemoteAddress& address, bool for_writing);

// The ssh command line for `address` with the options Cadenza adds; for
// `cadenza sync`, which runs rsync over the same kind of connection.
class SshSession {
 public:
  explicit SshSession(RemoteAddress address);
  ~SshSession();  // closes the control master
  SshSession(const SshSession&) = delete;
  SshSession& operator=(const SshSession&) = delete;

  const RemoteAddress& address() const { return address_; }
  // Runs `script` with /bin/sh on the host (stdin: `input`). Throws Error
  // with a clear message when ssh itself fails (exit 255).
  struct Result {
    int exit_code;
    std::string out, err;
  };
  Result run(const std::string& script, const std::string& input = "") const;
  // Which of `rels` (relative to the host's directory `dir`) exist there:
  // one round trip for any number of paths, in their order.
  std::vector<std::string> existing(const std::string& dir, const std::vector<std::string>& rels) const;
  // rsync with `args` (sources and destination use rsync_spec()); throws
  // Error naming what failed.
  void rsync(std::vector<std::string> args, const std::string& input = "") const;
  // The same, with --out-format=%n among `args`: the files it named.
  std::vector<std::string> rsync_files(std::vector<std::string> args, const std::string& input = "") const;
  // "[user@]host:" + path, for rsync's command line.
  std::string rsync_spec(const std::string& path) const;
  // The path on the host, single-quoted for its shell.
  std::string quoted_path(const std::string& rel = "") const;

 private:
  // The options every ssh of this session gets; `role` is its ControlMaster.
  std::vector<std::string> ssh_argv(const char* role = "no") const;
  // Starts the one connection every command of this session goes through.
  void ensure_master() const;
  std::string run_rsync(std::vector<std::string> args, const std::string& input) const;
  std::string describe_ssh_failure(const std::string& err) const;
  RemoteAddress address_;
  std::string control_dir_;
  mutable bool master_ = false;
};

// Quotes `s` for a POSIX shell.
std::string shell_quote(const std::string& s);

}  // namespace cadenza
