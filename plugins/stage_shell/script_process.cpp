#include "script_process.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace cadenza::script {

namespace {

// pid -> children, from /proc/<pid>/stat (the parent is the 2nd field after
// the command name, which may hold spaces and parentheses).
std::multimap<pid_t, pid_t> children_by_parent() {
  std::multimap<pid_t, pid_t> out;
  DIR* proc = ::opendir("/proc");
  if (!proc) return out;
  while (dirent* e = ::readdir(proc)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    std::ifstream in("/proc/" + std::string(e->d_name) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    std::string state;
    pid_t parent = 0;
    if (rest >> state >> parent) out.emplace(parent, pid);
  }
  ::closedir(proc);
  return out;
}

// Every process below this one (not this one).
std::vector<pid_t> descendants() {
  const auto children = children_by_parent();
  std::vector<pid_t> tree{::getpid()};
  for (size_t i = 0; i < tree.size(); ++i) {
    auto [from, to] = children.equal_range(tree[i]);
    for (auto it = from; it != to; ++it) tree.push_back(it->second);
  }
  tree.erase(tree.begin());
  return tree;
}

}  // namespace

ScriptProcess::ScriptProcess(const std::string& shell, const std::string& cmd,
                             const std::vector<std::string>& env, bool capture_output) {
  std::vector<std::string> strings = env;
  std::vector<char*> envp;
  for (auto& s : strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string shell_arg = shell, dash_c = "-c", cmd_arg = cmd;
  char* argv[] = {shell_arg.data(), dash_c.data(), cmd_arg.data(), nullptr};

  ::prctl(PR_SET_CHILD_SUBREAPER, 1);  // see script_process.h
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  int pipe_fds[2] = {-1, -1};
  if (capture_output) {
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  }
  const int rc = ::posix_spawn(&pid_, shell.c_str(), &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (capture_output) {
    ::close(pipe_fds[1]);
    out_fd_ = pipe_fds[0];
    ::fcntl(out_fd_, F_SETFL, O_NONBLOCK);
  }
  if (rc != 0) {
    if (out_fd_ >= 0) ::close(out_fd_);
    throw std::runtime_error("cannot run " + shell + ": " + std::strerror(rc));
  }
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
}

ScriptProcess::~ScriptProcess() {
  if (!exited_) {  // the stage threw while the script ran
    signal_tree(SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (pidfd_ >= 0) ::close(pidfd_);
  if (out_fd_ >= 0) ::close(out_fd_);
}

void ScriptProcess::drain(std::string& output) {
  if (out_fd_ < 0) return;
  char buf[1 << 16];
  ssize_t n;
  while ((n = ::read(out_fd_, buf, sizeof buf)) > 0) output.append(buf, static_cast<size_t>(n));
  if (n == 0) {  // every writer closed it: stop polling it
    ::close(out_fd_);
    out_fd_ = -1;
  }
}

bool ScriptProcess::wait(int timeout_ms, std::string& output, bool whole_tree) {
  if (exited_ && (!whole_tree || tree_done_)) return true;
  if (!exited_) {
    pollfd fds[2] = {{pidfd_, POLLIN, 0}, {out_fd_, POLLIN, 0}};
    if (pidfd_ >= 0) ::poll(fds, out_fd_ >= 0 ? 2 : 1, timeout_ms);
    else ::usleep(5000);  // no pidfd (old kernel): poll the status
    drain(output);
    if (::waitpid(pid_, &status_, WNOHANG) != pid_) return false;
    exited_ = true;
    drain(output);  // what it printed last; a daemon it left may hold the pipe, so no wait for EOF
  } else {
    ::usleep(static_cast<useconds_t>(timeout_ms) * 1000);
    drain(output);
  }
  if (!whole_tree) return true;
  // Reap what the shell left (re-parented to us), then see if any is left.
  bool any = false;
  for (pid_t p : descendants()) {
    if (::waitpid(p, nullptr, WNOHANG) == p) continue;
    any = true;
  }
  tree_done_ = !any;
  return tree_done_;
}

void ScriptProcess::signal_tree(int sig) const {
  if (exited_ && tree_done_) return;
  for (pid_t p : descendants()) ::kill(p, sig);
}

}  // namespace cadenza::script
