// Runs a helper command to completion and captures what it printed.
//
// The engine uses it for short helpers of its own (e.g. `cadenza plugin-meta`,
// which loads a plugin in a throw-away process so that a crashing or heavy
// plugin never touches the orchestrator). Stage jobs do not go through here:
// they are run by the backend plugins.
#pragma once

#include <string>
#include <vector>

namespace cadenza {

struct ProcessResult {
  int exit_code = -1;  // valid when signal == 0
  int signal = 0;      // the signal that killed it, or 0
  std::string out;
  std::string err;

  bool ok() const { return signal == 0 && exit_code == 0; }
  // "exit code 3" / "signal 11 (Segmentation fault)"
  std::string describe() const;
};

// argv[0] is a path, or a bare name looked up on PATH. Throws Error if the
// process cannot be started.
ProcessResult run_process(const std::vector<std::string>& argv);
// The same with `input` as the child's stdin (closed once written).
ProcessResult run_process_with_input(const std::vector<std::string>& argv, const std::string& input);

// "signal 11 (Segmentation fault)"
std::string describe_signal(int signal);

// The full path of `name` on $PATH, or "" where it is not (an executable file).
std::string find_on_path(const std::string& name);

// A command line a user wrote in a setting (CADENZA_SSH_COMMAND), split as
// a POSIX shell splits words: quotes group (`ssh -o "ProxyCommand=ssh -W
// %h:%p jump"` is three words), variables expand, command substitution is
// refused. By wordexp(3), the C library's shell-word splitter. Throws Error
// naming `what` for unbalanced quotes or a `$(...)`.
std::vector<std::string> split_command_line(const std::string& text, const std::string& what);

}  // namespace cadenza
