// Runs the real `cadenza` binary in a directory, for end-to-end tests.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "test_util.h"

namespace cadenza::test {

struct CliResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// A cadenza process started in the background.
class CliProcess {
 public:
  // `plugin_path` becomes $CADENZA_PLUGIN_PATH (default: the test plugins).
  CliProcess(const std::string& cwd, const std::vector<std::string>& args,
             const std::string& plugin_path = test_plugin_dir()) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      ::dup2(fds[1], 2);
      ::close(fds[0]);
      ::close(fds[1]);
      if (::chdir(cwd.c_str()) != 0) ::_exit(127);
      ::setenv("CADENZA_PLUGIN_PATH", plugin_path.c_str(), 1);
      std::vector<std::string> all{cadenza_binary()};
      all.insert(all.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    fd_ = fds[0];
    ::fcntl(fd_, F_SETFL, O_NONBLOCK);
  }
  ~CliProcess() {
    if (pid_ > 0 && !done_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) ::close(fd_);
  }

  // Reads output until `text` appears or `timeout_s` passes.
  bool wait_for_output(const std::string& text, double timeout_s = 20) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (output_.find(text) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      pump(50);
    }
    return true;
  }
  void signal(int sig) { ::kill(pid_, sig); }
  pid_t pid() const { return pid_; }
  CliResult wait() {
    int status = 0;
    while (!done_) {
      pump(50);
      if (::waitpid(pid_, &status, WNOHANG) == pid_) done_ = true;
    }
    pump(0);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), output_};
  }
  const std::string& output() const { return output_; }

 private:
  void pump(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    ::poll(&p, 1, timeout_ms);
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd_, buf, sizeof buf)) > 0) output_.append(buf, static_cast<size_t>(n));
  }
  pid_t pid_ = -1;
  int fd_ = -1;
  bool done_ = false;
  std::string output_;
};

// Calls fn(pid, file) for every process, with the text of /proc/<pid>/<file>
// ("cmdline", "stat"): to find the processes a test started indirectly.
template <typename Fn>
void for_each_process(const std::string& file, Fn&& fn) {
  DIR* proc = ::opendir("/proc");
  if (!proc) return;
  while (dirent* e = ::readdir(proc)) {
    const int pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    std::ifstream in("/proc/" + std::string(e->d_name) + "/" + file);
    fn(pid, std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()));
  }
  ::closedir(proc);
}

inline CliResult run_cadenza(const std::string& cwd, const std::vector<std::string>& args,
                             const std::string& plugin_path = test_plugin_dir()) {
  CliProcess p(cwd, args, plugin_path);
  return p.wait();
}

}  // namespace cadenza::test
