// The engine's one error type.
//
// Everything the user can cause (a bad workflow.toml, a missing file, a
// plugin that cannot be loaded) is reported by throwing cadenza::Error with a
// message that names the file, line, field or path and says what to do.
// `main` prints it and exits with `exit_code`. Programming errors are not
// Errors: they stay std::logic_error and crash loudly in tests.
#pragma once

#include <stdexcept>
#include <string>

namespace cadenza {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, int exit_code = 1)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// Where something was written in a source file, for error messages.
struct SourcePos {
  std::string file;
  int line = 0;
  int column = 0;

  // "workflow.toml:12:5" (or just the file when the position is unknown).
  std::string str() const {
    if (line <= 0) return file;
    return file + ":" + std::to_string(line) + ":" + std::to_string(column);
  }
};

}  // namespace cadenza
