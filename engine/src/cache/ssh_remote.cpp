#include "ssh_remote.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "error.h"
#include "fs_util.h"
#include "subprocess.h"

namespace cadenza {

namespace {

std::string join(const std::vector<std::string>& rels) {
  std::string text;
  for (const auto& r : rels) text += r + "\n";
  return text;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

std::string last_line(const std::string& text) {
  const auto lines = lines_of(text);
  return lines.empty() ? "(no message)" : lines.back();
}

// The probe's exit codes.
constexpr int kPathMissing = 3, kNotACache = 4, kNoRsync = 5, kNotWritable = 6;

class SshRemote : public Remote {
 public:
  SshRemote(RemoteAddress address, bool for_writing) : session_(std::move(address)) { probe(for_writing); }

  std::string describe() const override { return session_.address().display(); }

  std::set<std::string> existing(const std::vector<std::string>& rels) override {
    const auto found = session_.existing(root_, rels);
    return {found.begin(), found.end()};
  }

  // One rsync: its own file-list exchange finds what the far side lacks
  // (--ignore-existing: objects never change), --out-format names what moved.
  std::vector<std::string> upload(const std::string& local_root, const std::vector<std::string>& rels,
                                  bool replace) override {
    if (rels.empty()) return {};
    std::vector<std::string> args{"-a", "--files-from=-", "--out-format=%n", "--partial-dir=" + root_ + "/tmp/rsync-partial"};
    if (!replace) args.push_back("--ignore-existing");
    args.push_back(local_root + "/");
    args.push_back(session_.rsync_spec(root_ + "/"));
    return session_.rsync_files(args, join(rels));
  }

  std::vector<std::string> download(const std::vector<std::string>& rels, const std::string& local_root) override {
    if (rels.empty()) return {};
    std::error_code ec;
    fs::create_directories(local_root + "/tmp/rsync-partial", ec);
    return session_.rsync_files({"-a", "--files-from=-", "--ignore-missing-args", "--out-format=%n",
                                 "--partial-dir=" + local_root + "/tmp/rsync-partial",
                                 session_.rsync_spec(root_ + "/"), local_root + "/"},
                                join(rels));
  }

  std::vector<std::string> list(const std::string& rel_dir) override {
    const auto r = session_.run("cd " + shell_quote(root_ + "/" + rel_dir) + " 2>/dev/null || exit 0; ls -1A");
    auto names = lines_of(r.out);
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  // One call: the host answers, the path exists (a push creates its last
  // component), holds a cache or nothing, and has rsync.
  void probe(bool for_writing) {
    const std::string p = session_.quoted_path();
    std::string script = "cd " + p + " 2>/dev/null || ";
    script += for_writing ? "{ mkdir " + p + " 2>/dev/null && cd " + p + "; } || exit 3\n" : "exit 3\n";
    script +=
        "if [ ! -d objects ] && [ ! -d runs ] && [ -n \"$(ls -A)\" ]; then exit 4; fi\n"
        "command -v rsync >/dev/null 2>&1 || exit 5\n";
    if (for_writing) script += "mkdir -p objects runs tmp/rsync-partial 2>/dev/null || exit 6\n";
    script += "pwd -P\n";
    const auto r = session_.run(script);
    const std::string where = describe();
    const std::string host = session_.address().host, path = session_.address().path;
    if (r.exit_code == kPathMissing)
      throw Error("remote " + where + ": " + path + " does not exist on " + host +
                  (for_writing ? " (nor could it be created: its parent is missing or not writable)" : "") +
                  "; check the path, or create it with `ssh " + host + " mkdir -p " + path + "`");
    if (r.exit_code == kNotACache)
      throw Error("remote " + where + ": " + path + " on " + host +
                  " is not a Cadenza cache (no objects/ or runs/, and not empty); point the remote at a cache "
                  "directory, or at a new empty one");
    if (r.exit_code == kNoRsync)
      throw Error("remote " + where + ": rsync is not installed on " + host +
                  "; Cadenza moves files with rsync at both ends (Debian: apt install rsync)");
    if (r.exit_code == kNotWritable)
      throw Error("remote " + where + ": cannot write into " + path + " on " + host + " (permission denied?)");
    if (r.exit_code != 0) throw Error("remote " + where + ": the check on " + host + " failed: " + last_line(r.err));
    root_ = last_line(r.out);
  }

  SshSession session_;
  std::string root_;  // the path's absolute form on the host
};

}  // namespace

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

SshSession::SshSession(RemoteAddress address) : address_(std::move(address)) {
  char tmpl[] = "/tmp/cadenza-ssh-XXXXXX";  // short: a socket path has at most 107 bytes
  if (!::mkdtemp(tmpl)) throw Error("cannot create a directory for the ssh control socket in /tmp");
  control_dir_ = tmpl;
}

SshSession::~SshSession() {
  std::error_code ec;
  if (fs::exists(control_dir_ + "/cm", ec)) {
    auto argv = ssh_argv();
    argv.insert(argv.end(), {"-O", "exit", address_.host});
    try {
      run_process_with_input(argv, "");
    } catch (const Error&) {
    }
  }
  remove_all_quietly(control_dir_);
}

std::vector<std::string> SshSession::ssh_argv(const char* role) const {
  const char* custom = std::getenv("CADENZA_SSH_COMMAND");
  std::vector<std::string> argv =
      custom && *custom ? split_command_line(custom, "CADENZA_SSH_COMMAND") : std::vector<std::string>{"ssh"};
  for (const char* opt : {"BatchMode=yes", "ControlPersist=60", "ServerAliveInterval=15"})
    argv.insert(argv.end(), {"-o", opt});
  argv.insert(argv.end(), {"-o", std::string("ControlMaster=") + role});
  argv.insert(argv.end(), {"-o", "ControlPath=" + control_dir_ + "/cm"});
  if (address_.port) argv.insert(argv.end(), {"-p", std::to_string(address_.port)});
  if (!address_.user.empty()) argv.insert(argv.end(), {"-l", address_.user});
  return argv;
}

std::string SshSession::describe_ssh_failure(const std::string& err) const {
  const std::string& h = address_.host;
  if (err.find("Host key verification failed") != std::string::npos)
    return "ssh: the host key of " + h + " is not in your known_hosts, or does not match it. Cadenza runs ssh "
           "in batch mode and never accepts a host key itself: check the key and connect once with `ssh " + h +
           "`, then retry";
  if (err.find("Permission denied") != std::string::npos)
    return "ssh: " + h + " refused the login (permission denied). Cadenza needs a login without prompts: a key "
           "in ssh-agent or in ~/.ssh/config; check with `ssh -o BatchMode=yes " + h + " true`";
  if (err.find("Could not resolve hostname") != std::string::npos)
    return "ssh: cannot resolve the host name '" + h + "' (a typo, or a Host alias missing from ~/.ssh/config?)";
  if (err.find("Connection refused") != std::string::npos || err.find("timed out") != std::string::npos ||
      err.find("No route to host") != std::string::npos)
    return "ssh: cannot connect to " + h + ": " + last_line(err);
  return "ssh to " + h + " failed: " + last_line(err);
}

// The master is started on its own, before any command, and the commands
// never become one (ControlMaster=no). With ControlMaster=auto each command
// could become a master: on a loaded machine a command that found the
// socket busy took it for stale, replaced it and logged in again (seen in
// the test sshd's log: two logins for one push).
void SshSession::ensure_master() const {
  if (master_) return;
  auto argv = ssh_argv("yes");
  argv.insert(argv.end(), {"-f", "-N", address_.host});  // -f: in the background once logged in
  const ProcessResult r = run_process_with_input(argv, "");
  if (r.signal) throw Error("ssh to " + address_.host + " was killed by " + r.describe());
  if (!r.ok()) throw Error(describe_ssh_failure(r.err));
  master_ = true;
}

SshSession::Result SshSession::run(const std::string& script, const std::string& input) const {
  ensure_master();
  auto argv = ssh_argv();
  argv.insert(argv.end(), {address_.host, "sh -c " + shell_quote(script)});
  const ProcessResult r = run_process_with_input(argv, input);
  if (r.signal) throw Error("ssh to " + address_.host + " was killed by " + r.describe());
  if (r.exit_code == 255) throw Error(describe_ssh_failure(r.err));
  return {r.exit_code, r.out, r.err};
}

std::vector<std::string> SshSession::existing(const std::string& dir, const std::vector<std::string>& rels) const {
  if (rels.empty()) return {};
  const auto r = run("cd " + shell_quote(dir) + " && while IFS= read -r f; do [ -e \"$f\" ] && printf '%s\\n' \"$f\"; done; exit 0",
                     join(rels));
  if (r.exit_code != 0) throw Error("cannot list " + dir + " on " + address_.host + ": " + last_line(r.err));
  return lines_of(r.out);
}

std::string SshSession::rsync_spec(const std::string& path) const { return address_.host + ":" + path; }

std::string SshSession::quoted_path(const std::string& rel) const {
  const std::string p = rel.empty() ? address_.path : address_.path + "/" + rel;
  return p.rfind('/', 0) == 0 ? shell_quote(p) : "\"$HOME\"/" + shell_quote(p);
}

void SshSession::rsync(std::vector<std::string> args, const std::string& input) const {
  run_rsync(std::move(args), input);
}

std::vector<std::string> SshSession::rsync_files(std::vector<std::string> args, const std::string& input) const {
  std::vector<std::string> files;
  for (auto& line : lines_of(run_rsync(std::move(args), input)))
    if (line.back() != '/') files.push_back(std::move(line));  // directories are listed too
  return files;
}

// Runs rsync; returns what it printed on stdout. Throws Error.
std::string SshSession::run_rsync(std::vector<std::string> args, const std::string& input) const {
  ensure_master();
  std::string e;
  for (const auto& word : ssh_argv()) e += (e.empty() ? "" : " ") + word;
  args.insert(args.begin(), {"rsync", "-e", e});
  const ProcessResult r = run_process_with_input(args, input);
  if (r.ok()) return r.out;
  if (r.signal) throw Error("rsync to " + address_.host + " was killed by " + r.describe());
  if (r.err.find("No space left on device") != std::string::npos)
    throw Error("no space left on device while copying to or from " + address_.display() +
                " (rsync: " + last_line(r.err) + "); what was copied is complete, nothing half-written "
                "was put in place: free space and run the same command again");
  if (r.exit_code == 255 || r.err.find("connection unexpectedly closed") != std::string::npos)
    throw Error(describe_ssh_failure(r.err));
  throw Error("rsync with " + address_.host + " failed (" + r.describe() + "): " + last_line(r.err));
}

std::unique_ptr<Remote> open_ssh_remote(const RemoteAddress& address, bool for_writing) {
  return std::make_unique<SshRemote>(address, for_writing);
}

}  // namespace cadenza
