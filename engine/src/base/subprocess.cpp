#include "subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wordexp.h>

#include <cerrno>
#include <cstdlib>
#include <csignal>
#include <cstring>

#include "error.h"

extern char** environ;

namespace cadenza {

std::string describe_signal(int signal) {
  const char* name = ::strsignal(signal);
  return "signal " + std::to_string(signal) + (name ? " (" + std::string(name) + ")" : "");
}

std::string ProcessResult::describe() const {
  if (signal) return describe_signal(signal);
  return "exit code " + std::to_string(exit_code);
}

namespace {

// Spawns argv with stdout and stderr captured and, if `input` is given, its
// text on stdin (else stdin is inherited); waits for it.
ProcessResult spawn_and_collect(const std::vector<std::string>& argv, const std::string* input) {
  int out_pipe[2], err_pipe[2], in_pipe[2] = {-1, -1};
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0 ||
      (input && ::pipe2(in_pipe, O_CLOEXEC) != 0))
    throw Error(std::string("cannot create a pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  if (input) posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  // A bare name (ssh, rsync) is looked up on PATH.
  const bool search = argv[0].find('/') == std::string::npos;
  int rc = search ? ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ)
                  : ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (input) ::close(in_pipe[0]);
  if (rc != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    if (input) ::close(in_pipe[1]);
    throw Error("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  ProcessResult result;
  size_t written = 0;
  if (input) {
    ::fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
    if (input->empty()) {
      ::close(in_pipe[1]);
      in_pipe[1] = -1;
    }
  }
  pollfd fds[3] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}, {input ? in_pipe[1] : -1, POLLOUT, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  char buf[65536];
  const sighandler_t old_pipe = ::signal(SIGPIPE, SIG_IGN);  // a child that stops reading
  while (open_fds > 0) {
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[2].fd >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t n = ::write(fds[2].fd, input->data() + written, input->size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == input->size()) {
        ::close(fds[2].fd);
        fds[2].fd = -1;
      }
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  if (fds[2].fd >= 0) ::close(fds[2].fd);
  ::signal(SIGPIPE, old_pipe);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  else result.exit_code = WEXITSTATUS(status);
  return result;
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv) { return spawn_and_collect(argv, nullptr); }

ProcessResult run_process_with_input(const std::vector<std::string>& argv, const std::string& input) {
  return spawn_and_collect(argv, &input);
}

std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path && *path ? path : "/usr/local/bin:/usr/bin:/bin";
  for (size_t start = 0, colon; start <= dirs.size(); start = colon + 1) {
    colon = dirs.find(':', start);
    if (colon == std::string::npos) colon = dirs.size();
    const std::string dir = colon > start ? dirs.substr(start, colon - start) : ".";
    const std::string full = dir + "/" + name;
    if (::access(full.c_str(), X_OK) == 0) return full;
  }
  return "";
}

std::vector<std::string> split_command_line(const std::string& text, const std::string& what) {
  wordexp_t words{};
  const int rc = ::wordexp(text.c_str(), &words, WRDE_NOCMD);
  if (rc != 0) {
    if (rc == WRDE_NOSPACE) ::wordfree(&words);
    throw Error(what + " '" + text + "': " +
                (rc == WRDE_CMDSUB ? "command substitution $(...) is not allowed here"
                 : rc == WRDE_BADCHAR ? "an unquoted | & ; < > ( ) { } or newline; quote it"
                 : rc == WRDE_SYNTAX ? "unbalanced quotes"
                                     : "cannot be split into words") +
                "; write it as you would in a shell: ssh -o \"ProxyCommand=ssh -W %h:%p jump\"");
  }
  std::vector<std::string> out(words.we_wordv, words.we_wordv + words.we_wordc);
  ::wordfree(&words);
  return out;
}

}  // namespace cadenza
